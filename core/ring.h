/* ring.h — the lane's two rings in shared memory, read by mark (layout.h):
 * the deliver ring (publisher -> subscriber: slot id and the sample's
 * metadata) and the release ring (subscriber -> publisher: slot ids).
 * Free-running u32 positions, power-of-two mask. An entry is there once its
 * mark says its position, so the consumer never reads the producer's index;
 * each side publishes its own position for the rare reader. Marks are
 * untrusted: one neither current nor last lap's returns -EBADMSG. */
#ifndef VDDS_RING_H
#define VDDS_RING_H

#include <errno.h>
#include <stdint.h>

#include "atomics.h"
#include "layout.h"

/* What the mark m found at position pos says, for a ring of size entries. */
enum vdds__mark_state { VDDS__MARK_HERE, VDDS__MARK_NOT_YET, VDDS__MARK_WRONG };

static inline enum vdds__mark_state vdds__mark_state(uint32_t m, uint32_t pos, uint32_t size)
{
	if (m == pos + 1)
		return VDDS__MARK_HERE;
	/* last lap's entry, or a fresh lane's zeroes (a first lap) */
	if (m == pos + 1 - size || m == 0)
		return VDDS__MARK_NOT_YET;
	return VDDS__MARK_WRONG;
}

/* A deliver entry's fields, as the subscriber copied them. */
struct vdds__dmeta {
	uint32_t slot;
	uint64_t seq;
	uint64_t timestamp_ns;
	uint64_t len;
};

/* One end of a deliver ring. */
struct vdds__dring {
	struct vdds__dentry *entries;
	_Atomic uint32_t *mine; /* shared copy of my position (I write it) */
	_Atomic uint32_t *cons; /* deliver_cons (the consumer's; DROP_OLDEST: both) */
	uint32_t mask;          /* size - 1 */
	uint32_t pos;           /* my position: prod for the publisher, cons for the subscriber */
};

/* One end of a release ring. */
struct vdds__rring {
	_Atomic uint64_t *entries;
	_Atomic uint32_t *mine; /* shared copy of my position, for introspection */
	uint32_t mask;
	uint32_t pos;
};

/* Attach to a ring in shared memory: our position starts where the shared
 * copy of it is (0 in a new lane). */
static inline void vdds__dring_init(struct vdds__dring *r, struct vdds__dentry *entries,
				    _Atomic uint32_t *mine, _Atomic uint32_t *cons, uint32_t size)
{
	r->entries = entries;
	r->mine = mine;
	r->cons = cons;
	r->mask = size - 1;
	r->pos = vdds__load_relaxed(mine);
}

static inline void vdds__rring_init(struct vdds__rring *r, _Atomic uint64_t *entries,
				    _Atomic uint32_t *mine, uint32_t size)
{
	r->entries = entries;
	r->mine = mine;
	r->mask = size - 1;
	r->pos = vdds__load_relaxed(mine);
}

/* ---------------------------------------------------------- deliver ring */

/* Publisher: append a sample. No check: the caller delivers only slots the
 * lane does not hold, so an honest subscriber has fewer than ring_size
 * queued, and looks at deliver_cons itself when its copy says full. */
static inline void vdds__deliver_push(struct vdds__dring *r, uint32_t slot, uint64_t seq,
				      uint64_t timestamp_ns, uint64_t len)
{
	struct vdds__dentry *e = &r->entries[r->pos & r->mask];

	/* relaxed: the mark's release store below publishes them */
	vdds__store_relaxed(&e->slot, slot);
	vdds__store_relaxed(&e->seq, seq);
	vdds__store_relaxed(&e->timestamp_ns, timestamp_ns);
	vdds__store_relaxed(&e->len, len);
	r->pos++;
	/* release: the fields above are visible before the mark says they are there */
	vdds__store_release(&e->mark, r->pos);
	/* relaxed: for introspection only; no peer reads it */
	vdds__store_relaxed(r->mine, r->pos);
}

/* Copy the fields of entry e, after an acquire of its mark. */
static inline void vdds__deliver_read(struct vdds__dentry *e, struct vdds__dmeta *out)
{
	/* relaxed: ordered after the caller's acquire of the mark */
	out->slot = vdds__load_relaxed(&e->slot);
	out->seq = vdds__load_relaxed(&e->seq);
	out->timestamp_ns = vdds__load_relaxed(&e->timestamp_ns);
	out->len = vdds__load_relaxed(&e->len);
}

/* Subscriber of an SPSC ring (BLOCK, FAIL): is the entry at our position
 * there? 1, 0, or -EBADMSG. */
static inline int vdds__deliver_peek(const struct vdds__dring *r)
{
	/* acquire: pairs with vdds__deliver_push's release of the mark */
	uint32_t m = vdds__load_acquire(&r->entries[r->pos & r->mask].mark);

	switch (vdds__mark_state(m, r->pos, r->mask + 1)) {
	case VDDS__MARK_HERE: return 1;
	case VDDS__MARK_NOT_YET: return 0;
	default: return -EBADMSG;
	}
}

/* Subscriber of an SPSC ring: take the oldest entry into *out. 0, -EAGAIN
 * when empty, -EBADMSG for a mark no honest publisher writes. */
static inline int vdds__deliver_pop(struct vdds__dring *r, struct vdds__dmeta *out)
{
	int here = vdds__deliver_peek(r);

	if (here <= 0)
		return here == 0 ? -EAGAIN : here;
	vdds__deliver_read(&r->entries[r->pos & r->mask], out);
	r->pos++;
	/* release: our reads of the entry are done before the publisher, which
	 * may read our position, could think it consumed */
	vdds__store_release(r->mine, r->pos);
	return 0;
}

/* A ring whose consumer index the producer may also advance, by
 * compare-and-swap, to take entries back (DROP_OLDEST, see layout.h). The
 * subscriber reads at the shared index, which may have run ahead of its own
 * position by what was taken back (but never falls behind it). A producer
 * that keeps taking back gets the consumer -EAGAIN after a few tries (look
 * again later), never a spin. */
#define VDDS__RING_SNAPSHOT_TRIES 64

/* The shared index, checked against our position; its entry's mark state
 * in *state. 0, or -EBADMSG (moved backwards, or a mark no lap explains
 * while the index stood still). -EAGAIN when it keeps moving. */
static inline int vdds__deliver_snapshot_shared(const struct vdds__dring *r, uint32_t *cons,
						enum vdds__mark_state *state)
{
	/* acquire: pairs with the other side's CAS */
	uint32_t c = vdds__load_acquire(r->cons);

	for (int i = 0; i < VDDS__RING_SNAPSHOT_TRIES; i++) {
		if ((int32_t)(c - r->pos) < 0)
			return -EBADMSG;
		/* acquire: as in vdds__deliver_peek */
		uint32_t m = vdds__load_acquire(&r->entries[c & r->mask].mark);
		enum vdds__mark_state st = vdds__mark_state(m, c, r->mask + 1);
		/* a later lap's mark: entry c was taken back and its index
		 * written again, which moved the shared index (the CAS came
		 * before the rewrite, so our acquire of the mark sees it) */
		uint32_t again = vdds__load_acquire(r->cons);

		if (st == VDDS__MARK_WRONG && again != c) {
			c = again;
			continue;
		}
		*cons = c;
		*state = st;
		return st == VDDS__MARK_WRONG ? -EBADMSG : 0;
	}
	return -EAGAIN;
}

/* Consumer of such a ring: the entry is ours only once our CAS moved the
 * shared index past it; entries taken back are added to *skipped. Its fields
 * are read before the CAS, which proves them entry c's (layout.h).
 * 0, -EAGAIN (empty, or the producer too busy taking back), -EBADMSG. */
static inline int vdds__deliver_pop_shared(struct vdds__dring *r, struct vdds__dmeta *out,
					   uint64_t *skipped)
{
	for (int i = 0; i < VDDS__RING_SNAPSHOT_TRIES; i++) {
		uint32_t c;
		enum vdds__mark_state st;
		int err = vdds__deliver_snapshot_shared(r, &c, &st);

		if (err < 0)
			return err;
		*skipped += c - r->pos;
		r->pos = c;
		if (st == VDDS__MARK_NOT_YET)
			return -EAGAIN;
		/* after the snapshot's acquire of the mark; before the CAS,
		 * which orders these loads before it (a locked instruction) */
		vdds__deliver_read(&r->entries[c & r->mask], out);
		if (vdds__cas(r->cons, &c, c + 1)) {
			r->pos = c + 1;
			return 0;
		}
		/* taken back meanwhile: look again */
	}
	return -EAGAIN;
}

/* Is something waiting in such a ring? 1, 0 (also while the producer is
 * too busy taking back to say), or -EBADMSG. */
static inline int vdds__deliver_peek_shared(const struct vdds__dring *r)
{
	uint32_t c;
	enum vdds__mark_state st;
	int err = vdds__deliver_snapshot_shared(r, &c, &st);

	if (err < 0)
		return err == -EAGAIN ? 0 : err;
	return st == VDDS__MARK_HERE;
}

/* ---------------------------------------------------------- release ring */

/* Subscriber: return slot id. Cannot fail: an honest publisher collects
 * every return before it delivers the slot again, so fewer than ring_size
 * returns are ever uncollected. */
static inline void vdds__release_push(struct vdds__rring *r, uint32_t id)
{
	_Atomic uint64_t *e = &r->entries[r->pos & r->mask];

	r->pos++;
	/* release: our reads of the slot are done before it is returned */
	vdds__store_release(e, (uint64_t)r->pos << 32 | id);
	/* relaxed: for introspection only; no peer reads it */
	vdds__store_relaxed(r->mine, r->pos);
}

/* Publisher: collect the oldest return into *id. 0, -EAGAIN when none,
 * -EBADMSG for a mark no honest subscriber writes. */
static inline int vdds__release_pop(struct vdds__rring *r, uint32_t *id)
{
	/* acquire: pairs with vdds__release_push's release store */
	uint64_t v = vdds__load_acquire(&r->entries[r->pos & r->mask]);

	switch (vdds__mark_state((uint32_t)(v >> 32), r->pos, r->mask + 1)) {
	case VDDS__MARK_HERE: break;
	case VDDS__MARK_NOT_YET: return -EAGAIN;
	default: return -EBADMSG;
	}
	*id = (uint32_t)v;
	r->pos++;
	return 0;
}

#endif
