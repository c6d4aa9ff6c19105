/* pubcore.h — the publisher's side of the vring, without syscalls: slot states,
 * the free list, a reference count per slot with each lane's set of the slots
 * it holds, and one lane per subscriber. All of it is private to the
 * publisher's process; nothing a subscriber writes is trusted. Used by one
 * thread at a time. */
#ifndef VDDS_PUBCORE_H
#define VDDS_PUBCORE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "ring.h"

/* Lanes per publisher: lane ids index the lanes array and the id bitmap. */
#define VDDS__MAX_LANES 256

/* The publisher's private view of one subscriber's lane: only the shared
 * memory. The notify layer embeds it in its own lane with the fds. */
struct vdds__lane_pub {
	uint32_t id;
	struct vdds__lane_hdr *shm;
	size_t shm_size;
	struct vdds__dring deliver; /* we produce */
	struct vdds__rring release; /* we consume */
	uint64_t last_wake_gen;     /* wake_gen we last wrote the eventfd for */
	uint32_t held;              /* slots this subscriber holds */
	uint64_t *holds;            /* bitmap over slots: which ones */
	uint32_t *shadow;           /* our copy of the deliver ring's entries */
	uint32_t cons_seen;         /* deliver_cons last seen (never goes back) */
	/* per slot: the position it was last delivered at, for the entries
	 * of the last ring (reclaim fills it in from shadow, up to indexed):
	 * a release of a sample still queued is the subscriber's lie */
	uint32_t *at;
	uint32_t indexed;
	int want_history; /* deliver the history when attached */
	/* DROP_OLDEST: queued samples taken back; the control side reads it */
	_Atomic uint64_t dropped;
	int attached;
	int broken;                  /* broke the protocol: to be cut off */
	struct vdds__lane_pub *next; /* pubcore's list of broken lanes */
};

enum vdds__slot_state { VDDS__SLOT_FREE, VDDS__SLOT_LOANED, VDDS__SLOT_PUBLISHED };

/* A published slot's metadata, private to the publisher: each deliver ring
 * entry carries a copy; this one is for the history and the BLOCK wait. */
struct vdds__desc {
	uint64_t seq;
	uint64_t timestamp_ns;
	uint64_t len;
};

struct vdds__pubcore {
	struct vdds__topic_hdr *topic;
	struct vdds__desc *desc;
	uint8_t *data;
	uint32_t slot_count;
	uint64_t slot_size, slot_stride;
	uint8_t *state;     /* enum vdds__slot_state per slot */
	uint16_t *refs;     /* per slot: how many lanes hold it */
	uint32_t *free_ids; /* stack of free slot ids */
	uint32_t n_free, n_loaned;
	uint32_t last_loan; /* the slot loaned last (a hint for publish) */
	uint32_t overflow;  /* VDDS_OVERFLOW_* */
	/* history: the last hist_cap published slots, oldest at hist_head */
	uint32_t hist_cap, hist_n, hist_head;
	uint32_t *hist;
	uint8_t *in_hist; /* per slot: held by the history */
	uint64_t delivered, dropped;
	uint64_t returned;                             /* ids ever popped from release rings */
	struct vdds__lane_pub *lanes[VDDS__MAX_LANES]; /* attached lanes, packed */
	uint32_t n_lanes;
	struct vdds__lane_pub *broken; /* detached for breaking the protocol */
	uint64_t seq;
};

/* Lay out a topic segment for these parameters; returns its size and fills
 * the offsets into *hdr (magic, version, sizes; not type, pid, overflow or
 * history). */
size_t vdds__topic_layout(struct vdds__topic_hdr *hdr, uint64_t slot_size, uint32_t slot_count,
			  uint32_t max_subs);
uint32_t vdds__ring_size_for(uint32_t slot_count);

int vdds__pubcore_init(struct vdds__pubcore *pc, struct vdds__topic_hdr *topic);
void vdds__pubcore_fini(struct vdds__pubcore *pc);

/* Initialise a fresh lane's shared header and the publisher's view of it.
 * Returns 0 or -ENOMEM; vdds__lane_pub_fini() frees what it allocated. */
int vdds__lane_pub_init(struct vdds__lane_pub *lp, struct vdds__lane_hdr *shm, size_t shm_size,
			uint32_t id, uint32_t slot_count);
void vdds__lane_pub_fini(struct vdds__lane_pub *lp);

/* Drain every lane's release ring (the publisher does this only when it
 * needs slots: a batch at a time). Lanes that return an impossible id, or
 * whose deliver_cons is impossible, are detached and put on pc->broken.
 * Returns the number of slots freed. */
uint32_t vdds__pubcore_reclaim(struct vdds__pubcore *pc);

/* Detach a lane whose subscriber broke the protocol; put it on pc->broken. */
void vdds__pubcore_mark_broken(struct vdds__pubcore *pc, struct vdds__lane_pub *lp);

/* Start delivering to a lane; first, unless it declined, the history. */
void vdds__pubcore_attach(struct vdds__pubcore *pc, struct vdds__lane_pub *lp);
/* Forget a lane and free every slot only it still held. */
void vdds__pubcore_detach(struct vdds__pubcore *pc, struct vdds__lane_pub *lp);

/* DROP_OLDEST, when no slot is free: take back queued samples, each time the
 * oldest of the lane holding the most slots, until a slot is free. Lanes whose
 * deliver_cons is impossible, or that released what they never took, are
 * marked broken. Returns 0 (a slot is free) or -ENOBUFS (nothing queued is
 * left to take back). */
int vdds__pubcore_steal(struct vdds__pubcore *pc);

/* BLOCK, before sleeping for a slot: write each lane's pub_wait. If some lane
 * has the oldest held slot T still queued (at the head of its queue) and
 * holds every live slot by our own count, only the one of those with the
 * most queued is asked to wake us: no slot can come back without it.
 * Otherwise every lane holding anything is. A lane whose deliver_cons is
 * impossible is marked broken. Returns the lanes asked. */
uint32_t vdds__pubcore_arm_wait(struct vdds__pubcore *pc);
void vdds__pubcore_disarm_wait(struct vdds__pubcore *pc);

/* Our copy of lp's deliver_cons says its ring is full: read it. 0 if it is
 * full or impossible (the subscriber broke the protocol), else 1. */
int vdds__lane_pub_has_room(struct vdds__lane_pub *lp);

/* The history, at publish: keep id, let the oldest go. */
void vdds__pubcore_remember(struct vdds__pubcore *pc, uint32_t id);

/* The data path, inline: it runs for every sample. */

static inline int vdds__lane_pub_holds(const struct vdds__lane_pub *lp, uint32_t id)
{
	return (lp->holds[id / 64] >> (id % 64)) & 1;
}

static inline void vdds__pubcore_free_slot(struct vdds__pubcore *pc, uint32_t id)
{
	pc->state[id] = VDDS__SLOT_FREE;
	pc->free_ids[pc->n_free++] = id;
}

/* Take a free slot (reclaiming returns first if none is free).
 * Returns the slot id, or -EAGAIN. */
static inline int vdds__pubcore_loan(struct vdds__pubcore *pc)
{
	if (pc->n_free == 0 && vdds__pubcore_reclaim(pc) == 0)
		return -EAGAIN;
	uint32_t id = pc->free_ids[--pc->n_free];

	pc->state[id] = VDDS__SLOT_LOANED;
	pc->n_loaned++;
	pc->last_loan = id;
	return (int)id;
}

/* The slot id of a loaned buffer pointer, or -EINVAL. The slot loaned last
 * is the usual answer: checked first, without dividing. */
static inline int vdds__pubcore_loaned_id(const struct vdds__pubcore *pc, const void *buf)
{
	const uint8_t *p = buf;

	if (p == pc->data + (uint64_t)pc->last_loan * pc->slot_stride &&
	    pc->state[pc->last_loan] == VDDS__SLOT_LOANED)
		return (int)pc->last_loan;

	if (p < pc->data)
		return -EINVAL;
	uint64_t off = (uint64_t)(p - pc->data);

	if (off % pc->slot_stride != 0 || off / pc->slot_stride >= pc->slot_count)
		return -EINVAL;
	uint32_t id = (uint32_t)(off / pc->slot_stride);

	return pc->state[id] == VDDS__SLOT_LOANED ? (int)id : -EINVAL;
}

static inline void *vdds__pubcore_slot_data(const struct vdds__pubcore *pc, uint32_t id)
{
	return pc->data + (uint64_t)id * pc->slot_stride;
}

static inline void vdds__pubcore_discard(struct vdds__pubcore *pc, uint32_t id)
{
	pc->n_loaned--;
	vdds__pubcore_free_slot(pc, id);
}

/* Stamp and deliver loaned slot id to every attached lane. */
static inline void vdds__pubcore_publish(struct vdds__pubcore *pc, uint32_t id, uint64_t len,
					 uint64_t timestamp_ns)
{
	struct vdds__desc *d = &pc->desc[id];
	uint64_t seq = ++pc->seq;
	uint32_t n;

	d->seq = seq;
	d->timestamp_ns = timestamp_ns;
	d->len = len;
	pc->n_loaned--;
	pc->state[id] = VDDS__SLOT_PUBLISHED;

	uint64_t bit = 1ull << (id % 64);

	for (uint32_t i = 0; i < pc->n_lanes;) {
		struct vdds__lane_pub *lp = pc->lanes[i];

		/* never full for an honest subscriber (ring >= slots, a slot is
		 * in a lane at most once); our copy of its index says so but
		 * once a lap, when deliver_cons is read */
		if (__builtin_expect(lp->deliver.pos - lp->cons_seen > lp->deliver.mask, 0) &&
		    !vdds__lane_pub_has_room(lp)) {
			vdds__pubcore_mark_broken(pc, lp); /* swaps the last lane into i */
			continue;
		}
		lp->shadow[lp->deliver.pos & lp->deliver.mask] = id;
		vdds__deliver_push(&lp->deliver, id, seq, timestamp_ns, len);
		lp->holds[id / 64] |= bit;
		lp->held++;
		i++;
	}
	n = pc->n_lanes;
	pc->refs[id] = (uint16_t)n;
	pc->delivered += n;
	if (pc->hist_cap)
		vdds__pubcore_remember(pc, id);
	else if (n == 0)
		vdds__pubcore_free_slot(pc, id);
}

/* After a full fence following a publish: does this lane's subscriber sleep
 * with a wake generation we have not yet answered? If so, records it and the
 * caller writes the lane's eventfd: one write per sleep, however many samples
 * arrive before the subscriber wakes. A stale generation costs at most one
 * needless wakeup. */
static inline int vdds__lane_pub_wants_wake(struct vdds__lane_pub *lp)
{
	uint64_t gen = vdds__load_relaxed(&lp->shm->wake_gen);

	if (gen == 0 || gen == lp->last_wake_gen)
		return 0;
	lp->last_wake_gen = gen;
	return 1;
}

#endif
