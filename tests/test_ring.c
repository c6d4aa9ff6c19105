/* test_ring.c — the SPSC ring of core/ring.h: empty and full, wrap-around of
 * the free-running 32-bit indices, the cached peer index, hostile indices. */
#include <check.h>
#include <stdlib.h>

#include "layout.h"
#include "pubcore.h"
#include "ring.h"
#include "testutil.h"

#define SIZE 8u

/* One ring's shared state, as a lane holds it. */
struct shared {
	struct vdds__ring_index prod, cons;
	uint32_t entries[SIZE];
};

static void pair_at(struct shared *sh, uint32_t start, struct vdds__ring *producer,
		    struct vdds__ring *consumer)
{
	memset(sh, 0, sizeof(*sh));
	atomic_store(&sh->prod.value, start);
	atomic_store(&sh->cons.value, start);
	vdds__ring_init(producer, sh->entries, &sh->prod.value, &sh->cons.value, SIZE);
	vdds__ring_init(consumer, sh->entries, &sh->cons.value, &sh->prod.value, SIZE);
}

START_TEST(test_new_ring_is_empty)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	pair_at(&sh, 0, &p, &c);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), -EAGAIN);
	ck_assert_int_eq(vdds__ring_peek(&c), 0);
}
END_TEST

START_TEST(test_ring_holds_exactly_size_entries)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	pair_at(&sh, 0, &p, &c);
	for (uint32_t i = 0; i < SIZE; i++)
		ck_assert_int_eq(vdds__ring_push(&p, 100 + i), 0);
	ck_assert_int_eq(vdds__ring_push(&p, 999), -ENOSPC);
	ck_assert_int_eq(vdds__ring_peek(&c), 1);
	for (uint32_t i = 0; i < SIZE; i++) {
		ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
		ck_assert_uint_eq(id, 100 + i);
	}
	ck_assert_int_eq(vdds__ring_pop(&c, &id), -EAGAIN);
	/* one pop makes room for exactly one push */
	ck_assert_int_eq(vdds__ring_push(&p, 1), 0);
}
END_TEST

START_TEST(test_indices_wrap_around_32_bits)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	/* start just below the wrap so the run crosses UINT32_MAX -> 0 */
	pair_at(&sh, UINT32_MAX - 3, &p, &c);
	for (uint32_t round = 0; round < 5; round++) {
		for (uint32_t i = 0; i < SIZE; i++)
			ck_assert_int_eq(vdds__ring_push(&p, round * SIZE + i), 0);
		ck_assert_int_eq(vdds__ring_push(&p, 0), -ENOSPC);
		for (uint32_t i = 0; i < SIZE; i++) {
			ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
			ck_assert_uint_eq(id, round * SIZE + i);
		}
		ck_assert_int_eq(vdds__ring_pop(&c, &id), -EAGAIN);
	}
	ck_assert_uint_eq(atomic_load(&sh.prod.value), UINT32_MAX - 3 + 5 * SIZE);
}
END_TEST

START_TEST(test_consumer_reads_producer_index_only_when_cache_is_empty)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	pair_at(&sh, 0, &p, &c);
	ck_assert_int_eq(vdds__ring_push(&p, 7), 0);
	ck_assert_int_eq(vdds__ring_push(&p, 8), 0);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
	ck_assert_uint_eq(c.cached, 2); /* both seen in one read */
	/* a corrupted shared producer index is not read while the cache has data */
	atomic_store(&sh.prod.value, 1000);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
	ck_assert_uint_eq(id, 8);
	/* ... and is caught once it is */
	ck_assert_int_eq(vdds__ring_pop(&c, &id), -EBADMSG);
}
END_TEST

START_TEST(test_producer_reads_consumer_index_only_when_cache_says_full)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	pair_at(&sh, 0, &p, &c);
	for (uint32_t i = 0; i < SIZE; i++)
		ck_assert_int_eq(vdds__ring_push(&p, i), 0);
	ck_assert_uint_eq(p.cached, 0); /* never needed to look */
	ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), 0);
	ck_assert_int_eq(vdds__ring_push(&p, 100), 0);
	ck_assert_uint_eq(p.cached, 2); /* refreshed when it looked full */
	ck_assert_int_eq(vdds__ring_push(&p, 101), 0);
	ck_assert_int_eq(vdds__ring_push(&p, 102), -ENOSPC);
}
END_TEST

START_TEST(test_impossible_peer_indices_are_rejected)
{
	struct shared sh;
	struct vdds__ring p, c;
	uint32_t id;

	pair_at(&sh, 0, &p, &c);
	/* producer claims more than a ring's worth */
	atomic_store(&sh.prod.value, SIZE + 1);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), -EBADMSG);
	ck_assert_int_eq(vdds__ring_peek(&c), -EBADMSG);
	/* producer index behind the consumer */
	pair_at(&sh, 10, &p, &c);
	atomic_store(&sh.prod.value, 9);
	ck_assert_int_eq(vdds__ring_pop(&c, &id), -EBADMSG);
	/* consumer claims to have consumed what was never produced */
	pair_at(&sh, 0, &p, &c);
	for (uint32_t i = 0; i < SIZE; i++)
		ck_assert_int_eq(vdds__ring_push(&p, i), 0);
	atomic_store(&sh.cons.value, SIZE + 5);
	ck_assert_int_eq(vdds__ring_push(&p, 1), -EBADMSG);
}
END_TEST

START_TEST(test_ring_size_covers_every_slot)
{
	ck_assert_uint_eq(vdds__ring_size_for(1), 1);
	ck_assert_uint_eq(vdds__ring_size_for(2), 2);
	ck_assert_uint_eq(vdds__ring_size_for(3), 4);
	ck_assert_uint_eq(vdds__ring_size_for(64), 64);
	ck_assert_uint_eq(vdds__ring_size_for(65), 128);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("spsc");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_new_ring_is_empty);
	tcase_add_test(tc, test_ring_holds_exactly_size_entries);
	tcase_add_test(tc, test_indices_wrap_around_32_bits);
	tcase_add_test(tc, test_consumer_reads_producer_index_only_when_cache_is_empty);
	tcase_add_test(tc, test_producer_reads_consumer_index_only_when_cache_says_full);
	tcase_add_test(tc, test_impossible_peer_indices_are_rejected);
	tcase_add_test(tc, test_ring_size_covers_every_slot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(ring_suite());
}
