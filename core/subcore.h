/* subcore.h — the subscriber's side of the vring, without syscalls: take and
 * release slot ids on its lane, bound everything the publisher wrote, and the
 * sleep/wake handshake words. Used by one thread at a time. */
#ifndef VDDS_SUBCORE_H
#define VDDS_SUBCORE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "ring.h"
#include "vdds.h"

struct vdds__subcore {
	const uint8_t *data;
	uint32_t slot_count;
	uint64_t slot_size, slot_stride;
	struct vdds__lane_hdr *lane;
	struct vdds__dring deliver; /* we consume */
	struct vdds__rring release; /* we produce */
	uint64_t *held;             /* bitmap: slots taken and not yet released */
	uint32_t n_held;
	uint64_t wake_gen; /* last value stored to lane->wake_gen */
	int broken;        /* the publisher broke the protocol */
	int shared_cons;   /* DROP_OLDEST: the publisher may take entries back */
	uint64_t taken, lost;
	/* the topic header as checked: a private copy, read once from the
	 * segment (its publisher can still write it); last, away from the
	 * fields the data path reads */
	struct vdds__topic_hdr hdr;
};

/* The publisher can write both headers while we read them (its own mapping
 * of the topic stays writable; the lane is writable by both), so each is
 * read once into private memory and only the copy is checked and used
 * (layout.h says who reads what, when).
 * vdds__topic_check: copy the header of `topic`, a mapped segment of
 * segment_size bytes, into *t and check the copy. vdds__lane_check: read the
 * lane header's fields once, check them against the segment size and the
 * topic's slot count; *ring_size. Return 0 or -EBADMSG. */
int vdds__topic_check(struct vdds__topic_hdr *t, const void *topic, uint64_t segment_size);
int vdds__lane_check(const struct vdds__lane_hdr *l, uint64_t segment_size, uint32_t slot_count,
		     uint32_t *ring_size);

/* Check both headers as above and attach to the lane, from the copies only:
 * sc->hdr is the checked topic header. 0, -EBADMSG or -ENOMEM; call
 * vdds__subcore_fini() either way. */
int vdds__subcore_init(struct vdds__subcore *sc, const void *topic, uint64_t topic_size,
		       struct vdds__lane_hdr *lane, uint64_t lane_size);
void vdds__subcore_fini(struct vdds__subcore *sc);

/* Ask to be woken: store a fresh wake generation. The caller must issue a
 * full fence and look at the ring again before it sleeps. There is no
 * "disarm": the publisher writes the eventfd once per generation, so a
 * subscriber that keeps taking without sleeping costs it nothing more, and
 * not storing on every take keeps that cache line still. */
static inline void vdds__subcore_arm(struct vdds__subcore *sc)
{
	sc->wake_gen++;
	/* relaxed: the caller's full fence orders it before the ring re-check */
	vdds__store_relaxed(&sc->lane->wake_gen, sc->wake_gen);
}

/* The data path, inline: it runs for every sample. */

static inline int vdds__subcore_holds(const struct vdds__subcore *sc, uint32_t id)
{
	return (sc->held[id / 64] >> (id % 64)) & 1;
}

/* What vdds__subcore_pending's inline part does not decide. */
int vdds__subcore_pending_slow(struct vdds__subcore *sc);

/* 1 if a sample is waiting, 0 if not, -EBADMSG. Reads the mark of the
 * entry at our position (at deliver_cons under DROP_OLDEST), nothing else.
 * Inline for an SPSC ring's two honest answers: a wait looks several times. */
static inline int vdds__subcore_pending(struct vdds__subcore *sc)
{
	if (__builtin_expect((sc->broken | sc->shared_cons) == 0, 1)) {
		uint32_t pos = sc->deliver.pos;
		/* acquire: as in vdds__deliver_peek */
		uint32_t m = vdds__load_acquire(&sc->deliver.entries[pos & sc->deliver.mask].mark);

		if (m == pos + 1)
			return 1;
		if (m == pos - sc->deliver.mask) /* last lap's: nothing yet */
			return 0;
	}
	return vdds__subcore_pending_slow(sc);
}

/* Samples delivered and not yet taken (0 once broken), for statistics:
 * from the publisher's deliver_prod, which the data path never reads (a
 * count by marks would read every queued entry's line, the publisher's
 * working set); untrusted, so bounded by the ring. */
static inline uint32_t vdds__subcore_queued(struct vdds__subcore *sc)
{
	if (sc->broken)
		return 0;
	/* acquire: the shared index, as in vdds__deliver_snapshot_shared */
	uint32_t from = sc->shared_cons ? vdds__load_acquire(sc->deliver.cons) : sc->deliver.pos;
	/* relaxed: a snapshot for statistics */
	uint32_t n = vdds__load_relaxed(&sc->lane->deliver_prod) - from;

	return n <= sc->deliver.mask + 1 ? n : 0;
}

/* 0 and *sample filled; -EAGAIN when empty; -EBADMSG if the publisher broke
 * the protocol (the subscriber is then unusable). Does not arm. */
static inline int vdds__subcore_take(struct vdds__subcore *sc, struct vdds_sample *sample)
{
	struct vdds__dmeta e;

	if (sc->broken)
		return -EBADMSG;
	int err = sc->shared_cons ? vdds__deliver_pop_shared(&sc->deliver, &e, &sc->lost)
				  : vdds__deliver_pop(&sc->deliver, &e);

	if (err == -EAGAIN)
		return err;
	if (__builtin_expect(err < 0, 0))
		goto broken;
	uint32_t id = e.slot;
	uint64_t len = e.len;

	if (__builtin_expect(id >= sc->slot_count || len > sc->slot_size, 0))
		goto broken;
	uint64_t *word = &sc->held[id / 64], bit = 1ull << (id % 64);

	if (__builtin_expect(*word & bit, 0))
		goto broken; /* delivered again while we hold it */
	sample->data = sc->data + (uint64_t)id * sc->slot_stride;
	sample->len = (size_t)len;
	sample->seq = e.seq;
	sample->timestamp_ns = e.timestamp_ns;
	sample->slot = id;
	*word |= bit;
	sc->n_held++;
	sc->taken++;
	return 0;

broken:
	sc->broken = 1;
	return -EBADMSG;
}

/* Drop a held slot without returning it (its publisher is gone): 0, -EINVAL. */
static inline int vdds__subcore_forget(struct vdds__subcore *sc, uint32_t id)
{
	if (id >= sc->slot_count || !vdds__subcore_holds(sc, id))
		return -EINVAL;
	sc->held[id / 64] &= ~(1ull << (id % 64));
	sc->n_held--;
	return 0;
}

/* Return slot id, whose sample had sequence number seq. 1 if the publisher
 * waits for it (or a later one) and must be woken, 0 if not, or -EINVAL (not
 * held). */
static inline int vdds__subcore_release(struct vdds__subcore *sc, uint32_t id, uint64_t seq)
{
	if (vdds__subcore_forget(sc, id) < 0)
		return -EINVAL;
	if (sc->broken)
		return 0;
	vdds__release_push(&sc->release, id);
	/* full fence: our push must be visible before we read pub_wait, the
	 * mirror of the publisher setting pub_wait before re-reading the ring */
	vdds__fence();
	uint64_t w = vdds__load_relaxed(&sc->lane->pub_wait);

	if (w == 0 || seq < w)
		return 0;
	return vdds__exchange(&sc->lane->pub_wait, 0) != 0;
}

#endif
