/* test_pubcore.c — the publisher's slot bookkeeping (core/pubcore.h) in one
 * process, the test playing the subscribers: loans, holders, reclaim, and a
 * lane that breaks the rules being cut out without harm to the others. */
#include <check.h>
#include <stdlib.h>

#include "layout.h"
#include "pubcore.h"
#include "ring.h"
#include "testutil.h"

#define SLOTS 8u
#define SLOT_SIZE 64u
#define RING 8u /* vdds__ring_size_for(SLOTS) */

/* A topic in malloc'd memory, and the publisher's core over it. */
static void core_init(struct vdds__pubcore *pc)
{
	struct vdds__topic_hdr hdr;
	size_t size = vdds__topic_layout(&hdr, SLOT_SIZE, SLOTS, VDDS_MAX_SUBSCRIBERS);
	struct vdds__topic_hdr *topic = calloc(1, size);

	ck_assert_ptr_nonnull(topic);
	*topic = hdr;
	ck_assert_int_eq(vdds__pubcore_init(pc, topic), 0);
	ck_assert_uint_eq(pc->n_free, SLOTS);
}

/* Which attached lanes hold slot id, as a mask of lane ids (the test's lanes
 * have small ids); the slot's reference count must agree. */
static uint64_t holders(const struct vdds__pubcore *pc, uint32_t id)
{
	uint64_t mask = 0;

	for (uint32_t i = 0; i < pc->n_lanes; i++)
		if (vdds__lane_pub_holds(pc->lanes[i], id))
			mask |= 1ull << pc->lanes[i]->id;
	ck_assert_uint_eq((uint32_t)__builtin_popcountll(mask), pc->refs[id]);
	return mask;
}

static void core_fini(struct vdds__pubcore *pc)
{
	free(pc->topic);
	vdds__pubcore_fini(pc);
}

/* A subscriber the test plays: the publisher's view of its lane, and its own
 * ends of the lane's two rings, over the same (zeroed, aligned) memory. */
struct sub {
	struct vdds__lane_pub lp;
	struct vdds__lane_hdr *shm;
	struct vdds__dring deliver; /* it consumes */
	struct vdds__rring release; /* it produces */
};

static void sub_init(struct sub *s, uint32_t id)
{
	size_t size = vdds__lane_size(RING);

	ck_assert_uint_eq(vdds__ring_size_for(SLOTS), RING);
	ck_assert_uint_eq(size % VDDS__CACHELINE, 0);
	s->shm = aligned_alloc(VDDS__CACHELINE, size);
	ck_assert_ptr_nonnull(s->shm);
	memset(s->shm, 0, size);
	ck_assert_int_eq(vdds__lane_pub_init(&s->lp, s->shm, size, id, SLOTS), 0);
	vdds__dring_init(&s->deliver, vdds__lane_deliver(s->shm), &s->shm->deliver_cons,
			 &s->shm->deliver_cons, RING);
	vdds__rring_init(&s->release, vdds__lane_release(s->shm, RING), &s->shm->release_prod,
			 RING);
}

static void sub_fini(struct sub *s)
{
	vdds__lane_pub_fini(&s->lp);
	free(s->shm);
}

static uint64_t bit(const struct sub *s)
{
	return 1ull << s->lp.id;
}

/* Loan a slot and publish it to every attached lane; its id. */
static uint32_t publish(struct vdds__pubcore *pc)
{
	int id = vdds__pubcore_loan(pc);

	ck_assert_int_ge(id, 0);
	vdds__pubcore_publish(pc, (uint32_t)id, SLOT_SIZE, 1000 + pc->seq);
	return (uint32_t)id;
}

/* The subscriber takes the next id delivered to it. */
static uint32_t take(struct sub *s)
{
	struct vdds__dmeta e;

	ck_assert_int_eq(vdds__deliver_pop(&s->deliver, &e), 0);
	return e.slot;
}

/* The subscriber returns an id (any id: it may lie). */
static void give_back(struct sub *s, uint32_t id)
{
	vdds__release_push(&s->release, id);
}

/* Publish a slot and have v take it. */
static uint32_t take_after(struct vdds__pubcore *pc, struct sub *v)
{
	uint32_t id = publish(pc);

	ck_assert_uint_eq(take(v), id);
	return id;
}

static int attached(const struct vdds__pubcore *pc, const struct sub *s)
{
	for (uint32_t i = 0; i < pc->n_lanes; i++)
		if (pc->lanes[i] == &s->lp)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ honest lanes */

START_TEST(test_a_slot_published_to_no_lane_is_free_at_once)
{
	struct vdds__pubcore pc;

	core_init(&pc);
	int id = vdds__pubcore_loan(&pc);

	ck_assert_int_ge(id, 0);
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	ck_assert_uint_eq(pc.n_loaned, 1);
	ck_assert_int_eq(pc.state[id], VDDS__SLOT_LOANED);
	vdds__pubcore_publish(&pc, (uint32_t)id, 1, 0);
	ck_assert_uint_eq(pc.n_free, SLOTS);
	ck_assert_uint_eq(pc.n_loaned, 0);
	ck_assert_int_eq(pc.state[id], VDDS__SLOT_FREE);
	ck_assert_uint_eq(holders(&pc, id), 0);
	core_fini(&pc);
}
END_TEST

START_TEST(test_a_published_slot_is_delivered_to_and_held_by_every_attached_lane)
{
	struct vdds__pubcore pc;
	struct sub a, b;

	core_init(&pc);
	sub_init(&a, 0);
	sub_init(&b, 63); /* the top bit of the holder mask */
	vdds__pubcore_attach(&pc, &a.lp);
	vdds__pubcore_attach(&pc, &b.lp);
	uint32_t id = publish(&pc);

	ck_assert_int_eq(pc.state[id], VDDS__SLOT_PUBLISHED);
	ck_assert_uint_eq(holders(&pc, id), bit(&a) | bit(&b));
	ck_assert_uint_eq(a.lp.held, 1);
	ck_assert_uint_eq(b.lp.held, 1);
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	ck_assert_uint_eq(pc.desc[id].seq, 1);
	ck_assert_uint_eq(pc.desc[id].len, SLOT_SIZE);
	ck_assert_uint_eq(pc.desc[id].timestamp_ns, 1000);
	ck_assert_uint_eq(take(&a), id);
	ck_assert_uint_eq(take(&b), id);
	core_fini(&pc);
	sub_fini(&a);
	sub_fini(&b);
}
END_TEST

START_TEST(test_a_slot_is_free_only_once_its_last_holder_returns_it)
{
	struct vdds__pubcore pc;
	struct sub a, b;

	core_init(&pc);
	sub_init(&a, 0);
	sub_init(&b, 1);
	vdds__pubcore_attach(&pc, &a.lp);
	vdds__pubcore_attach(&pc, &b.lp);
	uint32_t id = publish(&pc);

	give_back(&a, take(&a));
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 0);
	ck_assert_uint_eq(holders(&pc, id), bit(&b));
	ck_assert_uint_eq(a.lp.held, 0);
	ck_assert_uint_eq(b.lp.held, 1);
	ck_assert_int_eq(pc.state[id], VDDS__SLOT_PUBLISHED);

	give_back(&b, take(&b));
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 1);
	ck_assert_uint_eq(holders(&pc, id), 0);
	ck_assert_uint_eq(b.lp.held, 0);
	ck_assert_int_eq(pc.state[id], VDDS__SLOT_FREE);
	ck_assert_uint_eq(pc.n_free, SLOTS);
	ck_assert(!a.lp.broken && !b.lp.broken);
	ck_assert_ptr_null(pc.broken);
	core_fini(&pc);
	sub_fini(&a);
	sub_fini(&b);
}
END_TEST

START_TEST(test_a_loan_with_no_free_slot_takes_back_what_was_returned)
{
	struct vdds__pubcore pc;
	struct sub a;
	uint32_t ids[SLOTS];

	core_init(&pc);
	sub_init(&a, 0);
	vdds__pubcore_attach(&pc, &a.lp);
	for (uint32_t i = 0; i < SLOTS; i++)
		ids[i] = publish(&pc);
	ck_assert_uint_eq(pc.n_free, 0);
	ck_assert_uint_eq(a.lp.held, SLOTS);
	ck_assert_int_eq(vdds__pubcore_loan(&pc), -EAGAIN);

	for (uint32_t i = 0; i < SLOTS; i++)
		ck_assert_uint_eq(take(&a), ids[i]);
	give_back(&a, ids[5]);
	ck_assert_int_eq(vdds__pubcore_loan(&pc), (int)ids[5]);
	ck_assert_uint_eq(a.lp.held, SLOTS - 1);
	ck_assert_int_eq(vdds__pubcore_loan(&pc), -EAGAIN);
	core_fini(&pc);
	sub_fini(&a);
}
END_TEST

START_TEST(test_a_detached_lane_frees_only_what_it_alone_held)
{
	struct vdds__pubcore pc;
	struct sub a, b;

	core_init(&pc);
	sub_init(&a, 0);
	sub_init(&b, 1);
	vdds__pubcore_attach(&pc, &a.lp);
	vdds__pubcore_attach(&pc, &b.lp);
	uint32_t x = publish(&pc), y = publish(&pc);

	ck_assert_uint_eq(take(&a), x);
	give_back(&a, x);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 0);
	/* b alone holds x; both hold y */
	vdds__pubcore_detach(&pc, &b.lp);
	ck_assert(!attached(&pc, &b));
	ck_assert_uint_eq(b.lp.held, 0);
	ck_assert_int_eq(pc.state[x], VDDS__SLOT_FREE);
	ck_assert_uint_eq(holders(&pc, y), bit(&a));
	ck_assert_uint_eq(a.lp.held, 1);
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	ck_assert_ptr_null(pc.broken); /* leaving is not breaking */
	ck_assert(!b.lp.broken);
	core_fini(&pc);
	sub_fini(&a);
	sub_fini(&b);
}
END_TEST

/* ------------------------------------------------------------ broken lanes */

/* An honest lane h and a violator v with holdings to lose: h alone holds c
 * (published before v attached), both hold a, v alone holds b. */
struct scene {
	struct vdds__pubcore pc;
	struct sub h, v;
	uint32_t a, b, c;
};

static void scene_init(struct scene *s)
{
	core_init(&s->pc);
	sub_init(&s->h, 0);
	sub_init(&s->v, 1);
	vdds__pubcore_attach(&s->pc, &s->h.lp);
	s->c = publish(&s->pc);
	vdds__pubcore_attach(&s->pc, &s->v.lp);
	s->a = publish(&s->pc);
	s->b = publish(&s->pc);
	ck_assert_uint_eq(take(&s->h), s->c);
	ck_assert_uint_eq(take(&s->h), s->a);
	ck_assert_uint_eq(take(&s->h), s->b);
	ck_assert_uint_eq(take(&s->v), s->a);
	ck_assert_uint_eq(take(&s->v), s->b);
	give_back(&s->h, s->b);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&s->pc), 0);
	ck_assert_uint_eq(holders(&s->pc, s->c), bit(&s->h));
	ck_assert_uint_eq(holders(&s->pc, s->a), bit(&s->h) | bit(&s->v));
	ck_assert_uint_eq(holders(&s->pc, s->b), bit(&s->v));
}

/* After v broke the rules: v alone is broken, out of the lanes and on the
 * broken list, holding nothing; b (which v alone held) is free; h holds c
 * and a as before. */
static void scene_expect_v_cut_out(struct scene *s)
{
	struct vdds__pubcore *pc = &s->pc;

	ck_assert_int_eq(s->v.lp.broken, 1);
	ck_assert_ptr_eq(pc->broken, &s->v.lp);
	ck_assert_ptr_null(s->v.lp.next);
	ck_assert(!attached(pc, &s->v));
	ck_assert_uint_eq(s->v.lp.held, 0);

	ck_assert_int_eq(s->h.lp.broken, 0);
	ck_assert_uint_eq(pc->n_lanes, 1);
	ck_assert_ptr_eq(pc->lanes[0], &s->h.lp);
	ck_assert_uint_eq(s->h.lp.held, 2);
	ck_assert_uint_eq(holders(pc, s->c), bit(&s->h));
	ck_assert_uint_eq(holders(pc, s->a), bit(&s->h));

	ck_assert_uint_eq(holders(pc, s->b), 0);
	ck_assert_int_eq(pc->state[s->b], VDDS__SLOT_FREE);
	ck_assert_uint_eq(pc->n_free, SLOTS - 2);
}

static void scene_fini(struct scene *s)
{
	core_fini(&s->pc);
	sub_fini(&s->h);
	sub_fini(&s->v);
}

START_TEST(test_release_of_an_out_of_range_id_breaks_that_lane_alone)
{
	static const uint32_t bad[] = { SLOTS, SLOTS + 1, UINT32_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct scene s;

		scene_init(&s);
		give_back(&s.v, bad[i]);
		ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 1); /* b */
		scene_expect_v_cut_out(&s);
		scene_fini(&s);
	}
}
END_TEST

START_TEST(test_release_of_an_id_the_lane_does_not_hold_breaks_that_lane_alone)
{
	struct scene s;

	scene_init(&s);
	give_back(&s.v, s.c); /* h's, never delivered to v */
	ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 1);
	scene_expect_v_cut_out(&s);
	scene_fini(&s);
}
END_TEST

START_TEST(test_double_release_breaks_that_lane_alone)
{
	struct scene s;

	scene_init(&s);
	give_back(&s.v, s.a);
	give_back(&s.v, s.a);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 1);
	scene_expect_v_cut_out(&s);
	scene_fini(&s);
}
END_TEST

START_TEST(test_a_release_mark_no_lap_explains_breaks_that_lane_alone)
{
	/* at the publisher's position 0: the next lap's, the next entry's, two
	 * laps back, half the space away */
	static const uint32_t marks[] = { RING + 1, 2, 1 - 2 * RING, 0x80000000u };

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		struct scene s;

		scene_init(&s);
		atomic_store(&vdds__lane_release(s.v.shm, RING)[0], (uint64_t)marks[i] << 32 | s.a);
		ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 1);
		scene_expect_v_cut_out(&s);
		scene_fini(&s);
	}
}
END_TEST

START_TEST(test_release_index_scribbled_is_never_read)
{
	struct scene s;

	scene_init(&s);
	atomic_store(&s.v.shm->release_prod, RING + 1); /* nothing was pushed */
	atomic_store(&s.v.shm->release_cons, 77);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 0);
	ck_assert_int_eq(s.v.lp.broken, 0);
	give_back(&s.v, s.b);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&s.pc), 1);
	ck_assert_int_eq(s.v.lp.broken, 0);
	scene_fini(&s);
}
END_TEST

START_TEST(test_returns_are_collected_only_when_no_slot_is_free)
{
	struct vdds__pubcore pc;
	struct sub v;

	core_init(&pc);
	sub_init(&v, 0);
	vdds__pubcore_attach(&pc, &v.lp);
	for (uint32_t i = 0; i < SLOTS; i++)
		give_back(&v, take_after(&pc, &v));
	/* every slot came back, and loans found free ones without looking */
	ck_assert_uint_eq(pc.returned, 0);
	ck_assert_uint_eq(pc.n_free, 0);
	int id = vdds__pubcore_loan(&pc); /* none free: the batch is collected */

	ck_assert_int_ge(id, 0);
	ck_assert_uint_eq(pc.returned, SLOTS);
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	vdds__pubcore_discard(&pc, (uint32_t)id);
	core_fini(&pc);
	sub_fini(&v);
}
END_TEST

/* v's deliver_cons set to value(prod): seen at the next reclaim, which cuts
 * v off and keeps serving h. */
static void expect_deliver_index_breaks_lane_at_reclaim(uint32_t (*value)(uint32_t prod))
{
	struct vdds__pubcore pc;
	struct sub h, v;

	core_init(&pc);
	sub_init(&h, 0);
	sub_init(&v, 1);
	/* v first: the lane swapped into its place is still served */
	vdds__pubcore_attach(&pc, &v.lp);
	vdds__pubcore_attach(&pc, &h.lp);
	/* a lap of the ring, both returning all but the last, which v keeps */
	uint32_t kept = 0;

	for (uint32_t i = 0; i < RING; i++) {
		uint32_t id = publish(&pc);

		give_back(&h, take(&h));
		ck_assert_uint_eq(take(&v), id);
		if (i < RING - 1)
			give_back(&v, id);
		kept = id;
	}
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), RING - 1);
	ck_assert_uint_eq(holders(&pc, kept), bit(&v));
	ck_assert_int_eq(v.lp.broken, 0);
	/* the publisher looks at deliver_cons once per reclaim */
	atomic_store(&v.shm->deliver_cons, value(atomic_load(&v.shm->deliver_prod)));
	vdds__pubcore_reclaim(&pc);

	ck_assert_int_eq(v.lp.broken, 1);
	ck_assert_ptr_eq(pc.broken, &v.lp);
	ck_assert_ptr_null(v.lp.next);
	ck_assert_uint_eq(pc.n_lanes, 1);
	ck_assert_ptr_eq(pc.lanes[0], &h.lp);
	ck_assert_uint_eq(v.lp.held, 0);
	ck_assert_int_eq(pc.state[kept], VDDS__SLOT_FREE);
	uint32_t id = publish(&pc);

	ck_assert_uint_eq(holders(&pc, id), bit(&h));
	ck_assert_uint_eq(take(&h), id);
	ck_assert_uint_eq(h.lp.held, 1);
	ck_assert_int_eq(h.lp.broken, 0);
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	core_fini(&pc);
	sub_fini(&h);
	sub_fini(&v);
}

static uint32_t beyond(uint32_t prod)
{
	return prod + 1000;
}

static uint32_t backwards(uint32_t prod)
{
	return prod - RING; /* behind what v already said it took */
}

START_TEST(test_deliver_index_beyond_what_was_delivered_breaks_that_lane_at_reclaim)
{
	expect_deliver_index_breaks_lane_at_reclaim(beyond);
}
END_TEST

START_TEST(test_deliver_index_moved_backwards_breaks_that_lane_at_reclaim)
{
	expect_deliver_index_breaks_lane_at_reclaim(backwards);
}
END_TEST

START_TEST(test_two_lanes_breaking_in_one_reclaim_are_both_listed_and_the_third_is_served)
{
	struct vdds__pubcore pc;
	struct sub v1, h, v2;

	core_init(&pc);
	sub_init(&v1, 0);
	sub_init(&h, 1);
	sub_init(&v2, 2);
	/* lanes [v1, h, v2]: v2 is swapped into v1's place, then h into v2's */
	vdds__pubcore_attach(&pc, &v1.lp);
	vdds__pubcore_attach(&pc, &h.lp);
	vdds__pubcore_attach(&pc, &v2.lp);
	uint32_t x = publish(&pc), y = publish(&pc);

	ck_assert_uint_eq(take(&h), x);
	ck_assert_uint_eq(take(&h), y);
	give_back(&h, x);
	give_back(&v1, SLOTS);
	give_back(&v2, y);
	give_back(&v2, y);
	/* x: h returned it, and the broken lanes' holds go; y stays h's */
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 1);
	ck_assert_ptr_eq(pc.broken, &v2.lp);
	ck_assert_ptr_eq(v2.lp.next, &v1.lp);
	ck_assert_ptr_null(v1.lp.next);
	ck_assert(v1.lp.broken && v2.lp.broken && !h.lp.broken);
	ck_assert_uint_eq(pc.n_lanes, 1);
	ck_assert_ptr_eq(pc.lanes[0], &h.lp);
	ck_assert_int_eq(pc.state[x], VDDS__SLOT_FREE);
	ck_assert_uint_eq(holders(&pc, y), bit(&h));
	ck_assert_uint_eq(h.lp.held, 1);
	ck_assert_uint_eq(v1.lp.held + v2.lp.held, 0);
	core_fini(&pc);
	sub_fini(&v1);
	sub_fini(&h);
	sub_fini(&v2);
}
END_TEST

/* ---------------------------------------------- returns of queued samples */

/* A lane's returns must be of samples it took: one still queued (behind its
 * deliver_cons) is a lie, and the BLOCK wait counts on there being none. */
START_TEST(test_release_of_a_sample_still_queued_breaks_that_lane_alone)
{
	struct vdds__pubcore pc;
	struct sub h, v;

	core_init(&pc);
	sub_init(&h, 0);
	sub_init(&v, 1);
	vdds__pubcore_attach(&pc, &h.lp);
	vdds__pubcore_attach(&pc, &v.lp);
	uint32_t x = publish(&pc), y = publish(&pc);

	ck_assert_uint_eq(take(&h), x);
	ck_assert_uint_eq(take(&h), y);
	give_back(&h, x);
	ck_assert_uint_eq(take(&v), x);
	give_back(&v, y); /* queued: v never took it */
	/* h's return of x, then v cut off: x, which only v still held, is free */
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 1);
	ck_assert(attached(&pc, &h));
	ck_assert(!attached(&pc, &v));
	ck_assert_ptr_eq(pc.broken, &v.lp);
	ck_assert_uint_eq(holders(&pc, y), bit(&h));
	ck_assert_uint_eq(pc.n_free, SLOTS - 1);
	core_fini(&pc);
	sub_fini(&h);
	sub_fini(&v);
}
END_TEST

/* The same return after the lane took the sample is honest, however late
 * the publisher collects it: v takes y after the publisher's first look at
 * its deliver_cons, and returns it. */
START_TEST(test_release_of_a_sample_taken_after_the_publisher_last_looked_is_honest)
{
	struct vdds__pubcore pc;
	struct sub v;

	core_init(&pc);
	sub_init(&v, 0);
	vdds__pubcore_attach(&pc, &v.lp);
	uint32_t x = publish(&pc), y = publish(&pc);

	ck_assert_uint_eq(take(&v), x);
	give_back(&v, x);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 1);
	ck_assert_uint_eq(take(&v), y);
	give_back(&v, y);
	ck_assert_uint_eq(vdds__pubcore_reclaim(&pc), 1);
	ck_assert(attached(&pc, &v));
	ck_assert_uint_eq(pc.n_free, SLOTS);
	core_fini(&pc);
	sub_fini(&v);
}
END_TEST

/* BLOCK: a lane with the oldest held slot a at the head of its queue holds
 * every live slot if it is honest, and is asked alone; a lane that parks its
 * deliver_cons on a and returns b and c, which it never took, must not be:
 * h, which holds b and c, would return them unasked while the publisher
 * sleeps (issue #26 point 6). */
START_TEST(test_the_block_wait_asks_a_lane_alone_only_if_no_slot_can_come_back_without_it)
{
	struct vdds__pubcore pc;
	struct sub h, v;

	core_init(&pc);
	sub_init(&h, 0);
	sub_init(&v, 1);
	vdds__pubcore_attach(&pc, &h.lp);
	vdds__pubcore_attach(&pc, &v.lp);
	uint32_t a = publish(&pc), b = publish(&pc), c = publish(&pc);

	for (uint32_t id = a; id <= c; id++)
		ck_assert_uint_eq(take(&h), id);
	/* honest v: all three queued, it alone is asked, with W = seq(a) */
	ck_assert_uint_eq(vdds__pubcore_arm_wait(&pc), 1);
	ck_assert_uint_eq(atomic_load(&v.shm->pub_wait), pc.desc[a].seq);
	ck_assert_uint_eq(atomic_load(&h.shm->pub_wait), 0);
	/* now v lies: returns b and c with its deliver_cons still on a */
	give_back(&v, b);
	give_back(&v, c);
	/* loan_wait: its look after the fence collects the returns, and it
	 * chooses again */
	vdds__pubcore_reclaim(&pc);
	ck_assert(!attached(&pc, &v));
	ck_assert_uint_eq(vdds__pubcore_arm_wait(&pc), 1);
	ck_assert_uint_eq(atomic_load(&h.shm->pub_wait), pc.desc[a].seq);
	core_fini(&pc);
	sub_fini(&h);
	sub_fini(&v);
}
END_TEST

static Suite *pubcore_suite(void)
{
	Suite *s = suite_create("pubcore");
	TCase *honest = tcase_create("honest");
	TCase *broken = tcase_create("broken");

	tcase_add_test(honest, test_a_slot_published_to_no_lane_is_free_at_once);
	tcase_add_test(honest,
		       test_a_published_slot_is_delivered_to_and_held_by_every_attached_lane);
	tcase_add_test(honest, test_a_slot_is_free_only_once_its_last_holder_returns_it);
	tcase_add_test(honest, test_a_loan_with_no_free_slot_takes_back_what_was_returned);
	tcase_add_test(honest, test_a_detached_lane_frees_only_what_it_alone_held);
	tcase_add_test(honest, test_returns_are_collected_only_when_no_slot_is_free);
	suite_add_tcase(s, honest);

	tcase_add_test(broken, test_release_of_an_out_of_range_id_breaks_that_lane_alone);
	tcase_add_test(broken, test_release_of_an_id_the_lane_does_not_hold_breaks_that_lane_alone);
	tcase_add_test(broken, test_double_release_breaks_that_lane_alone);
	tcase_add_test(broken, test_a_release_mark_no_lap_explains_breaks_that_lane_alone);
	tcase_add_test(broken, test_release_index_scribbled_is_never_read);
	tcase_add_test(broken,
		       test_deliver_index_beyond_what_was_delivered_breaks_that_lane_at_reclaim);
	tcase_add_test(broken, test_deliver_index_moved_backwards_breaks_that_lane_at_reclaim);
	tcase_add_test(
		broken,
		test_two_lanes_breaking_in_one_reclaim_are_both_listed_and_the_third_is_served);
	tcase_add_test(broken, test_release_of_a_sample_still_queued_breaks_that_lane_alone);
	tcase_add_test(broken,
		       test_release_of_a_sample_taken_after_the_publisher_last_looked_is_honest);
	tcase_add_test(
		broken,
		test_the_block_wait_asks_a_lane_alone_only_if_no_slot_can_come_back_without_it);
	suite_add_tcase(s, broken);
	return s;
}

int main(void)
{
	return tu_run_suite(pubcore_suite());
}
