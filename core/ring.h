/* ring.h — single-producer/single-consumer ring of u32 slot ids in shared
 * memory. Free-running indices, power-of-two mask, full when
 * tail - head == size. Each side keeps its own index privately (the shared copy
 * is only ever written by its owner) and caches the other side's, reading the
 * shared one only when the cache says full (producer) or empty (consumer).
 * The other side's index is untrusted: an impossible value returns -EBADMSG. */
#ifndef VDDS_RING_H
#define VDDS_RING_H

#include <errno.h>
#include <stdint.h>

#include "atomics.h"

struct vdds__ring {
	uint32_t *entries;
	_Atomic uint32_t *mine;   /* shared copy of my index (I write it) */
	_Atomic uint32_t *theirs; /* shared copy of the peer's index (untrusted) */
	uint32_t mask;            /* size - 1 */
	uint32_t local;           /* my index: prod for a producer, cons for a consumer */
	uint32_t cached;          /* last value read from *theirs */
};

/* Attach to a ring in shared memory: our index starts where the shared copy
 * of it is (0 in a new lane), and the peer's is assumed equal until read. */
static inline void vdds__ring_init(struct vdds__ring *r, uint32_t *entries, _Atomic uint32_t *mine,
				   _Atomic uint32_t *theirs, uint32_t size)
{
	r->entries = entries;
	r->mine = mine;
	r->theirs = theirs;
	r->mask = size - 1;
	r->local = vdds__load_relaxed(mine);
	r->cached = r->local;
}

/* Producer: append id. -ENOSPC when full, -EBADMSG if the consumer's index is
 * impossible (ahead of what was produced, or further back than one ring). */
static inline int vdds__ring_push(struct vdds__ring *r, uint32_t id)
{
	uint32_t size = r->mask + 1;

	if (r->local - r->cached >= size) {
		/* acquire: the consumer's reads of the entries we will overwrite
		 * happened before it advanced its index */
		uint32_t cons = vdds__load_acquire(r->theirs);

		if (r->local - cons > size)
			return -EBADMSG;
		r->cached = cons;
		if (r->local - cons == size)
			return -ENOSPC;
	}
	r->entries[r->local & r->mask] = id;
	r->local++;
	/* release: the entry (and the descriptor written before it) are visible
	 * before the consumer can see the new producer index */
	vdds__store_release(r->mine, r->local);
	return 0;
}

/* Consumer: remove the oldest id into *id. -EAGAIN when empty, -EBADMSG if the
 * producer's index is impossible (more than one ring ahead, or behind us). */
static inline int vdds__ring_pop(struct vdds__ring *r, uint32_t *id)
{
	if (r->cached == r->local) {
		/* acquire: pairs with the producer's release store of its index,
		 * so the entry read below is the one it wrote */
		uint32_t prod = vdds__load_acquire(r->theirs);

		if (prod - r->local > r->mask + 1)
			return -EBADMSG;
		r->cached = prod;
		if (prod == r->local)
			return -EAGAIN;
	}
	*id = ((volatile uint32_t *)r->entries)[r->local & r->mask];
	r->local++;
	/* release: our read of the entry is done before the producer may reuse it */
	vdds__store_release(r->mine, r->local);
	return 0;
}

/* Consumer of a ring whose consumer index the producer may also advance, by
 * compare-and-swap, to take entries back (DROP_OLDEST, see layout.h). The
 * entry is ours only once our CAS moved the shared index past it; entries the
 * producer took back are added to *skipped. -EBADMSG if either index is
 * impossible (the shared one behind us or more than a ring ahead). */
static inline int vdds__ring_pop_shared(struct vdds__ring *r, uint32_t *id, uint64_t *skipped)
{
	/* acquire: pairs with the producer's CAS, as the entry read below must
	 * not be one it took back before we look at the index */
	uint32_t c = vdds__load_acquire(r->mine);

	for (;;) {
		if (c - r->local > r->mask + 1)
			return -EBADMSG;
		*skipped += c - r->local;
		r->local = c;
		/* acquire: as in pop */
		uint32_t prod = vdds__load_acquire(r->theirs);

		if (prod - c > r->mask + 1)
			return -EBADMSG;
		r->cached = prod;
		if (prod == c)
			return -EAGAIN;
		uint32_t v = ((volatile uint32_t *)r->entries)[c & r->mask];

		/* a failed CAS leaves the current index in c: look again */
		if (vdds__cas(r->mine, &c, c + 1)) {
			r->local = c + 1;
			*id = v;
			return 0;
		}
	}
}

/* Entries waiting in a ring whose consumer index is shared as above, or
 * -EBADMSG. */
static inline int vdds__ring_queued_shared(struct vdds__ring *r)
{
	/* acquire: as in vdds__ring_pop_shared */
	uint32_t c = vdds__load_acquire(r->mine);
	uint32_t prod = vdds__load_acquire(r->theirs);

	if (c - r->local > r->mask + 1 || prod - c > r->mask + 1)
		return -EBADMSG;
	r->cached = prod;
	return (int)(prod - c);
}

/* Consumer: is anything waiting? Refreshes the cache; -EBADMSG as for pop. */
static inline int vdds__ring_peek(struct vdds__ring *r)
{
	if (r->cached != r->local)
		return 1;
	/* acquire: as in pop */
	uint32_t prod = vdds__load_acquire(r->theirs);

	if (prod - r->local > r->mask + 1)
		return -EBADMSG;
	r->cached = prod;
	return prod != r->local;
}

#endif
