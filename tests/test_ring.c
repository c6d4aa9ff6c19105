/* test_ring.c — the lane's rings of core/ring.h, read by mark: empty and
 * full, wrap-around of the free-running 32-bit positions, neither side
 * reading the other's index, and marks a hostile peer forges in either
 * direction (also through subcore and pubcore, where they are judged). */
#include <check.h>
#include <stdlib.h>

#include "layout.h"
#include "pubcore.h"
#include "ring.h"
#include "subcore.h"
#include "testutil.h"

#define SIZE 8u

/* One lane's two rings, as a lane holds them. */
struct shared {
	struct vdds__ring_index dprod, dcons, rprod, rcons;
	struct vdds__dentry deliver[SIZE];
	_Atomic uint64_t release[SIZE];
};

/* Both rings at position start, their entries as the lap before left them
 * (a fresh lane's zeroes when start is 0 and fresh is set). */
static void rings_at(struct shared *sh, uint32_t start, int fresh)
{
	memset(sh, 0, sizeof(*sh));
	atomic_store(&sh->dprod.value, start);
	atomic_store(&sh->dcons.value, start);
	atomic_store(&sh->rprod.value, start);
	atomic_store(&sh->rcons.value, start);
	for (uint32_t k = 0; k < SIZE && !fresh; k++) {
		uint32_t last = start - SIZE + k; /* the position before start at that index */
		uint32_t i = last & (SIZE - 1);

		atomic_store(&sh->deliver[i].mark, last + 1);
		atomic_store(&sh->release[i], (uint64_t)(last + 1) << 32 | 0xdead);
	}
}

struct ends {
	struct vdds__dring dp, dc; /* deliver: publisher, subscriber */
	struct vdds__rring rp, rc; /* release: subscriber, publisher */
};

static void ends_init(struct shared *sh, struct ends *e)
{
	vdds__dring_init(&e->dp, sh->deliver, &sh->dprod.value, &sh->dcons.value, SIZE);
	vdds__dring_init(&e->dc, sh->deliver, &sh->dcons.value, &sh->dcons.value, SIZE);
	vdds__rring_init(&e->rp, sh->release, &sh->rprod.value, SIZE);
	vdds__rring_init(&e->rc, sh->release, &sh->rcons.value, SIZE);
}

static void push(struct ends *e, uint32_t slot)
{
	vdds__deliver_push(&e->dp, slot, 1000 + slot, 2000 + slot, slot % 64);
}

static void pop_expect(struct ends *e, uint32_t slot)
{
	struct vdds__dmeta d;

	ck_assert_int_eq(vdds__deliver_pop(&e->dc, &d), 0);
	ck_assert_uint_eq(d.slot, slot);
	ck_assert_uint_eq(d.seq, 1000 + slot);
	ck_assert_uint_eq(d.timestamp_ns, 2000 + slot);
	ck_assert_uint_eq(d.len, slot % 64);
}

/* -------------------------------------------------------------- honest */

START_TEST(test_a_fresh_zeroed_lane_is_empty_both_ways)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;
	uint32_t id;

	rings_at(&sh, 0, 1);
	ends_init(&sh, &e);
	ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EAGAIN);
	ck_assert_int_eq(vdds__deliver_peek(&e.dc), 0);
	ck_assert_int_eq(vdds__release_pop(&e.rc, &id), -EAGAIN);
}
END_TEST

START_TEST(test_entries_carry_their_metadata_in_order)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;

	rings_at(&sh, 0, 1);
	ends_init(&sh, &e);
	for (uint32_t i = 0; i < SIZE; i++)
		push(&e, 100 + i);
	ck_assert_int_eq(vdds__deliver_peek(&e.dc), 1);
	for (uint32_t i = 0; i < SIZE; i++)
		pop_expect(&e, 100 + i);
	ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EAGAIN);
	ck_assert_uint_eq(atomic_load(&sh.dcons.value), SIZE); /* published for the rare reader */
	push(&e, 1);
	pop_expect(&e, 1);
}
END_TEST

START_TEST(test_positions_wrap_around_32_bits_in_both_rings)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;
	uint32_t id;

	/* start just below the wrap, so runs cross UINT32_MAX -> 0, where the
	 * mark of position UINT32_MAX is 0 */
	for (uint32_t start = UINT32_MAX - 2 * SIZE; start != SIZE; start++) {
		rings_at(&sh, start, 0);
		ends_init(&sh, &e);
		for (uint32_t round = 0; round < 5; round++) {
			ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EAGAIN);
			ck_assert_int_eq(vdds__release_pop(&e.rc, &id), -EAGAIN);
			for (uint32_t i = 0; i < SIZE; i++)
				push(&e, round * SIZE + i);
			for (uint32_t i = 0; i < SIZE; i++) {
				pop_expect(&e, round * SIZE + i);
				vdds__release_push(&e.rp, round * SIZE + i);
			}
			ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EAGAIN);
			for (uint32_t i = 0; i < SIZE; i++) {
				ck_assert_int_eq(vdds__release_pop(&e.rc, &id), 0);
				ck_assert_uint_eq(id, round * SIZE + i);
			}
		}
		ck_assert_uint_eq(e.dp.pos, start + 5 * SIZE);
		ck_assert_uint_eq(e.rc.pos, start + 5 * SIZE);
	}
}
END_TEST

START_TEST(test_neither_side_reads_the_other_side_s_index)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;
	uint32_t id;

	rings_at(&sh, 0, 1);
	ends_init(&sh, &e);
	/* the indices, scribbled: nothing on either path looks at them */
	atomic_store(&sh.dprod.value, 12345);
	atomic_store(&sh.dcons.value, 777);
	atomic_store(&sh.rprod.value, UINT32_MAX);
	atomic_store(&sh.rcons.value, 3);
	push(&e, 5);
	pop_expect(&e, 5);
	ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EAGAIN);
	vdds__release_push(&e.rp, 5);
	ck_assert_int_eq(vdds__release_pop(&e.rc, &id), 0);
	ck_assert_uint_eq(id, 5);
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

/* ------------------------------------------------------- forged marks */

/* A mark at the consumer's position that no honest producer leaves there. */
static const uint32_t forged_offsets[] = {
	2,            /* the next entry's: from the future */
	1 + SIZE,     /* the same index one lap ahead */
	1 - 2 * SIZE, /* two laps back: stale */
	1 + SIZE / 2, /* another index's */
	0x80000000u,  /* half the space away */
};

START_TEST(test_the_subscriber_refuses_forged_deliver_marks)
{
	static const uint32_t at[] = { UINT32_MAX - 3, UINT32_MAX }; /* where mark 0 is valid */

	for (size_t a = 0; a < 2; a++) {
		for (size_t f = 0; f < sizeof(forged_offsets) / sizeof(forged_offsets[0]); f++) {
			struct shared sh;
			struct ends e;
			struct vdds__dmeta d;
			uint32_t pos = at[a];

			rings_at(&sh, pos, 0);
			ends_init(&sh, &e);
			atomic_store(&sh.deliver[pos & (SIZE - 1)].mark, pos + forged_offsets[f]);
			ck_assert_int_eq(vdds__deliver_peek(&e.dc), -EBADMSG);
			ck_assert_int_eq(vdds__deliver_pop(&e.dc, &d), -EBADMSG);
			ck_assert_uint_eq(e.dc.pos, pos); /* nothing consumed */
		}
	}
}
END_TEST

START_TEST(test_the_publisher_refuses_forged_release_marks)
{
	for (size_t f = 0; f < sizeof(forged_offsets) / sizeof(forged_offsets[0]); f++) {
		struct shared sh;
		struct ends e;
		uint32_t id, pos = UINT32_MAX - 3;

		rings_at(&sh, pos, 0);
		ends_init(&sh, &e);
		atomic_store(&sh.release[pos & (SIZE - 1)],
			     (uint64_t)(pos + forged_offsets[f]) << 32 | 1);
		ck_assert_int_eq(vdds__release_pop(&e.rc, &id), -EBADMSG);
		ck_assert_uint_eq(e.rc.pos, pos);
	}
}
END_TEST

START_TEST(test_the_last_lap_s_mark_and_zero_mean_not_yet)
{
	struct shared sh;
	struct ends e;
	uint32_t id;

	rings_at(&sh, 40, 0);
	ends_init(&sh, &e);
	atomic_store(&sh.deliver[40 & (SIZE - 1)].mark, 0);
	atomic_store(&sh.release[40 & (SIZE - 1)], 0);
	ck_assert_int_eq(vdds__deliver_peek(&e.dc), 0);
	ck_assert_int_eq(vdds__release_pop(&e.rc, &id), -EAGAIN);
}
END_TEST

/* ---------------------------------- DROP_OLDEST: the shared consumer index */

START_TEST(test_a_shared_consumer_counts_what_was_taken_back_and_reads_at_the_index)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;
	uint64_t lost = 0;

	rings_at(&sh, UINT32_MAX - 1, 0);
	ends_init(&sh, &e);
	for (uint32_t i = 0; i < 4; i++)
		push(&e, i);
	/* the publisher takes two back: positions UINT32_MAX - 1 and UINT32_MAX */
	atomic_store(&sh.dcons.value, 0);
	ck_assert_int_eq(vdds__deliver_peek_shared(&e.dc), 1);
	ck_assert_int_eq(vdds__deliver_pop_shared(&e.dc, &d, &lost), 0);
	ck_assert_uint_eq(d.slot, 2);
	ck_assert_uint_eq(d.seq, 1002);
	ck_assert_uint_eq(lost, 2);
	ck_assert_uint_eq(atomic_load(&sh.dcons.value), 1);
	/* position 1 taken back, eight more delivered (the last two over
	 * positions 0 and 1), all but the last taken back: read at the index */
	atomic_store(&sh.dcons.value, 2);
	for (uint32_t i = 0; i < SIZE; i++)
		push(&e, 10 + i);
	atomic_store(&sh.dcons.value, 9);
	ck_assert_int_eq(vdds__deliver_pop_shared(&e.dc, &d, &lost), 0);
	ck_assert_uint_eq(d.slot, 17);
	ck_assert_uint_eq(d.seq, 1017);
	ck_assert_uint_eq(lost, 2 + 1 + 7);
	ck_assert_int_eq(vdds__deliver_pop_shared(&e.dc, &d, &lost), -EAGAIN);
	ck_assert_int_eq(vdds__deliver_peek_shared(&e.dc), 0);
}
END_TEST

START_TEST(test_a_shared_consumer_refuses_an_index_moved_back_or_a_later_lap_s_mark_in_place)
{
	struct shared sh;
	struct ends e;
	struct vdds__dmeta d;
	uint64_t lost = 0;

	rings_at(&sh, 10, 0);
	ends_init(&sh, &e);
	push(&e, 1);
	atomic_store(&sh.dcons.value, 9); /* behind us */
	ck_assert_int_eq(vdds__deliver_pop_shared(&e.dc, &d, &lost), -EBADMSG);
	/* a later lap's mark while the index stands still: never honest */
	rings_at(&sh, 10, 0);
	ends_init(&sh, &e);
	atomic_store(&sh.deliver[10 & (SIZE - 1)].mark, 10 + 1 + SIZE);
	ck_assert_int_eq(vdds__deliver_pop_shared(&e.dc, &d, &lost), -EBADMSG);
	ck_assert_int_eq(vdds__deliver_peek_shared(&e.dc), -EBADMSG);
}
END_TEST

/* ---------------------------- the fields, judged by the subscriber's core */

#define SLOTS 4u
#define SLOT_SIZE 64u

struct subside {
	struct vdds__topic_hdr *topic;
	struct vdds__lane_hdr *lane;
	struct vdds__subcore sc;
	struct vdds__dring dp; /* the publisher's end, played by the test */
};

static size_t s_topic_size(void)
{
	struct vdds__topic_hdr hdr;

	return vdds__topic_layout(&hdr, SLOT_SIZE, SLOTS, 1);
}

static void subside_init(struct subside *s, uint32_t overflow)
{
	struct vdds__topic_hdr hdr;
	size_t tsize = vdds__topic_layout(&hdr, SLOT_SIZE, SLOTS, 1);
	uint32_t ring = vdds__ring_size_for(SLOTS);
	size_t lsize = vdds__lane_size(ring);

	hdr.overflow = overflow;
	s->topic = aligned_alloc(4096, (tsize + 4095) / 4096 * 4096);
	s->lane = aligned_alloc(VDDS__CACHELINE,
				(lsize + VDDS__CACHELINE - 1) / VDDS__CACHELINE * VDDS__CACHELINE);
	ck_assert_ptr_nonnull(s->topic);
	ck_assert_ptr_nonnull(s->lane);
	memset(s->topic, 0, tsize);
	memset(s->lane, 0, lsize);
	*s->topic = hdr;
	ck_assert_int_eq(vdds__topic_check(&hdr, s->topic, tsize), 0);
	s->lane->magic = VDDS__LANE_MAGIC;
	s->lane->layout_version = VDDS__LAYOUT_VERSION;
	s->lane->hdr_size = sizeof(*s->lane);
	s->lane->ring_size = ring;
	s->lane->slot_count = SLOTS;
	s->lane->segment_size = lsize;
	ck_assert_int_eq(vdds__lane_check(s->lane, lsize, SLOTS, &ring), 0);
	ck_assert_uint_eq(ring, vdds__ring_size_for(SLOTS));
	ck_assert_int_eq(vdds__subcore_init(&s->sc, s->topic, tsize, s->lane, lsize), 0);
	vdds__dring_init(&s->dp, vdds__lane_deliver(s->lane), &s->lane->deliver_prod,
			 &s->lane->deliver_cons, ring);
}

static void subside_fini(struct subside *s)
{
	vdds__subcore_fini(&s->sc);
	free(s->topic);
	free(s->lane);
}

START_TEST(test_the_subscriber_refuses_a_slot_out_of_range_or_a_len_over_the_slot)
{
	static const struct {
		uint32_t slot;
		uint64_t len;
	} bad[] = { { SLOTS, 1 }, { UINT32_MAX, 1 }, { 0, SLOT_SIZE + 1 }, { 1, UINT64_MAX } };

	for (uint32_t overflow = 0; overflow <= VDDS__OVERFLOW_MAX; overflow++) {
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			struct subside s;
			struct vdds_sample smp;

			subside_init(&s, overflow);
			vdds__deliver_push(&s.dp, 2, 7, 8, SLOT_SIZE); /* an honest one first */
			ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), 0);
			ck_assert_uint_eq(smp.slot, 2);
			ck_assert_uint_eq(smp.seq, 7);
			ck_assert_uint_eq(smp.timestamp_ns, 8);
			ck_assert_uint_eq(smp.len, SLOT_SIZE);
			vdds__deliver_push(&s.dp, bad[k].slot, 8, 9, bad[k].len);
			ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), -EBADMSG);
			ck_assert_int_eq(vdds__subcore_pending(&s.sc), -EBADMSG);
			subside_fini(&s);
		}
	}
}
END_TEST

/* Under DROP_OLDEST the publisher may take entries back before the subscriber
 * has mapped its lane (a process slow to start): they are lost to it, and
 * must be counted, not skipped silently (seen: a seq gap of 437, lost 0). */
START_TEST(test_entries_taken_back_before_the_subscriber_attached_count_as_lost)
{
	struct subside s;
	struct vdds_sample smp;

	subside_init(&s, VDDS_OVERFLOW_DROP_OLDEST);
	for (uint32_t i = 0; i < 3; i++)
		vdds__deliver_push(&s.dp, i, i + 1, i + 1, 1);
	/* the publisher takes back the first two (its CAS on deliver_cons) */
	atomic_store(&s.lane->deliver_cons, 2);
	/* and only now does the subscriber attach */
	vdds__subcore_fini(&s.sc);
	ck_assert_int_eq(
		vdds__subcore_init(&s.sc, s.topic, s_topic_size(), s.lane, s.lane->segment_size),
		0);
	ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), 0);
	ck_assert_uint_eq(smp.seq, 3);
	ck_assert_uint_eq(s.sc.lost, 2);
	subside_fini(&s);
}
END_TEST

START_TEST(test_the_subscriber_refuses_a_slot_it_already_holds)
{
	struct subside s;
	struct vdds_sample smp;

	subside_init(&s, VDDS_OVERFLOW_BLOCK);
	vdds__deliver_push(&s.dp, 1, 1, 1, 1);
	vdds__deliver_push(&s.dp, 1, 2, 2, 1);
	ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), 0);
	ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), -EBADMSG);
	subside_fini(&s);
}
END_TEST

START_TEST(test_the_subscriber_s_pending_looks_at_marks_only_and_queued_is_bounded)
{
	struct subside s;
	struct vdds_sample smp;

	subside_init(&s, VDDS_OVERFLOW_BLOCK);
	ck_assert_int_eq(vdds__subcore_pending(&s.sc), 0);
	atomic_store(&s.lane->deliver_prod, 3); /* a lie the data path never reads */
	ck_assert_int_eq(vdds__subcore_pending(&s.sc), 0);
	ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), -EAGAIN);
	ck_assert_uint_eq(vdds__subcore_queued(&s.sc), 3); /* statistics: a hint */
	atomic_store(&s.lane->deliver_prod, 1000);
	ck_assert_uint_eq(vdds__subcore_queued(&s.sc), 0); /* more than a ring */
	atomic_store(&s.lane->deliver_prod, 0);
	vdds__deliver_push(&s.dp, 0, 1, 1, 1);
	vdds__deliver_push(&s.dp, 1, 2, 2, 1);
	ck_assert_int_eq(vdds__subcore_pending(&s.sc), 1);
	ck_assert_uint_eq(vdds__subcore_queued(&s.sc), 2);
	ck_assert_int_eq(vdds__subcore_take(&s.sc, &smp), 0);
	ck_assert_uint_eq(vdds__subcore_queued(&s.sc), 1);
	subside_fini(&s);
}
END_TEST

START_TEST(test_a_layout_2_topic_or_lane_header_is_refused)
{
	struct subside s;
	struct vdds__topic_hdr copy;
	size_t tsize = s_topic_size();
	uint32_t ring;

	subside_init(&s, VDDS_OVERFLOW_BLOCK);
	s.topic->layout_version = 2;
	ck_assert_int_eq(vdds__topic_check(&copy, s.topic, tsize), -EBADMSG);
	s.topic->layout_version = VDDS__LAYOUT_VERSION;
	ck_assert_int_eq(vdds__topic_check(&copy, s.topic, tsize), 0);
	s.lane->layout_version = 2;
	ck_assert_int_eq(vdds__lane_check(s.lane, s.lane->segment_size, SLOTS, &ring), -EBADMSG);
	subside_fini(&s);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("marks");
	TCase *th = tcase_create("forged");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_a_fresh_zeroed_lane_is_empty_both_ways);
	tcase_add_test(tc, test_entries_carry_their_metadata_in_order);
	tcase_add_test(tc, test_positions_wrap_around_32_bits_in_both_rings);
	tcase_add_test(tc, test_neither_side_reads_the_other_side_s_index);
	tcase_add_test(tc, test_ring_size_covers_every_slot);
	tcase_add_test(tc,
		       test_a_shared_consumer_counts_what_was_taken_back_and_reads_at_the_index);
	suite_add_tcase(s, tc);
	tcase_set_timeout(th, 10);
	tcase_add_test(th, test_the_subscriber_refuses_forged_deliver_marks);
	tcase_add_test(th, test_the_publisher_refuses_forged_release_marks);
	tcase_add_test(th, test_the_last_lap_s_mark_and_zero_mean_not_yet);
	tcase_add_test(
		th,
		test_a_shared_consumer_refuses_an_index_moved_back_or_a_later_lap_s_mark_in_place);
	tcase_add_test(th, test_the_subscriber_refuses_a_slot_out_of_range_or_a_len_over_the_slot);
	tcase_add_test(th, test_entries_taken_back_before_the_subscriber_attached_count_as_lost);
	tcase_add_test(th, test_the_subscriber_refuses_a_slot_it_already_holds);
	tcase_add_test(th, test_the_subscriber_s_pending_looks_at_marks_only_and_queued_is_bounded);
	tcase_add_test(th, test_a_layout_2_topic_or_lane_header_is_refused);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	return tu_run_suite(ring_suite());
}
