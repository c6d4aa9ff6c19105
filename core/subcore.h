/* subcore.h — the subscriber's side of the vring, without syscalls: take and
 * release slot ids on its lane, bound everything the publisher wrote, and the
 * sleep/wake handshake words. Used by one thread at a time. */
#ifndef VDDS_SUBCORE_H
#define VDDS_SUBCORE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "ring.h"

struct vdds__subcore {
	const struct vdds_topic_hdr *topic;
	const struct vdds_desc *desc;
	const uint8_t *data;
	uint32_t slot_count;
	uint64_t slot_size, slot_stride;
	struct vdds_lane_hdr *lane;
	struct vdds_ring deliver;   /* we consume */
	struct vdds_ring release;   /* we produce */
	uint64_t *held;             /* bitmap: slots taken and not yet released */
	uint32_t n_held;
	uint64_t wake_gen;          /* last value stored to lane->wake_gen */
	int armed;                  /* lane->wake_gen is nonzero */
	int broken;                 /* the publisher broke the protocol */
};

struct vdds_sample;

/* Check a received topic header against its segment size and map; check the
 * lane header against the topic. Return 0 or -EBADMSG. */
int vdds__topic_check(const struct vdds_topic_hdr *t, uint64_t segment_size);
int vdds__lane_check(const struct vdds_lane_hdr *l, uint64_t segment_size,
		     uint32_t slot_count);

int vdds__subcore_init(struct vdds__subcore *sc, const struct vdds_topic_hdr *topic,
		       struct vdds_lane_hdr *lane);
void vdds__subcore_fini(struct vdds__subcore *sc);

/* 0 and *sample filled; -EAGAIN when empty; -EBADMSG if the publisher broke
 * the protocol (the subscriber is then unusable). Does not arm. */
int vdds__subcore_take(struct vdds__subcore *sc, struct vdds_sample *sample);
/* 1 if the publisher waits for a slot and must be woken, 0 if not, or
 * -EINVAL (not held), -EBADMSG (ring state impossible). */
int vdds__subcore_release(struct vdds__subcore *sc, uint32_t slot);
/* Drop a held slot without returning it (its publisher is gone): 0, -EINVAL. */
int vdds__subcore_forget(struct vdds__subcore *sc, uint32_t slot);
/* 1 if a sample is waiting, 0 if not, -EBADMSG. */
int vdds__subcore_pending(struct vdds__subcore *sc);

/* Ask to be woken: store a fresh wake generation. The caller must issue a
 * full fence and look at the ring again before it sleeps. */
static inline void vdds__subcore_arm(struct vdds__subcore *sc)
{
	sc->wake_gen++;
	/* relaxed: the caller's full fence orders it before the ring re-check */
	vdds__store_relaxed(&sc->lane->wake_gen, sc->wake_gen);
	sc->armed = 1;
}

/* Busy again: the publisher need not write the eventfd. */
static inline void vdds__subcore_disarm(struct vdds__subcore *sc)
{
	if (sc->armed) {
		/* relaxed: a stale 'armed' seen by the publisher costs one
		 * needless wakeup, never a lost one */
		vdds__store_relaxed(&sc->lane->wake_gen, 0);
		sc->armed = 0;
	}
}

#endif
