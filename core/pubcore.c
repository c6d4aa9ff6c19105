/* pubcore.c — publisher slot bookkeeping: free list, loans, delivery to lanes,
 * reclaim of returned slots. A slot is FREE -> LOANED -> PUBLISHED (held by
 * the lanes it was delivered to: its count, and a bit in each lane's set)
 * -> FREE when the last holder returns it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pubcore.h"

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

uint32_t vdds__ring_size_for(uint32_t slot_count)
{
	uint32_t size = 1;

	while (size < slot_count)
		size <<= 1;
	return size;
}

size_t vdds__topic_layout(struct vdds__topic_hdr *hdr, uint64_t slot_size, uint32_t slot_count,
			  uint32_t max_subs)
{
	uint64_t stride = round_up(slot_size, slot_size >= 4096 ? 4096 : VDDS__CACHELINE);

	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = VDDS__TOPIC_MAGIC;
	hdr->layout_version = VDDS__LAYOUT_VERSION;
	hdr->hdr_size = sizeof(*hdr);
	hdr->slot_count = slot_count;
	hdr->max_subs = max_subs;
	hdr->slot_size = slot_size;
	hdr->slot_stride = stride;
	hdr->data_offset = round_up(sizeof(*hdr), 4096);
	hdr->segment_size = hdr->data_offset + stride * slot_count;
	return hdr->segment_size;
}

int vdds__pubcore_init(struct vdds__pubcore *pc, struct vdds__topic_hdr *topic)
{
	memset(pc, 0, sizeof(*pc));
	pc->topic = topic;
	pc->slot_count = topic->slot_count;
	pc->slot_size = topic->slot_size;
	pc->slot_stride = topic->slot_stride;
	pc->overflow = topic->overflow;
	pc->hist_cap = topic->history;
	pc->desc = calloc(pc->slot_count, sizeof(*pc->desc));
	pc->data = (uint8_t *)topic + topic->data_offset;
	pc->state = calloc(pc->slot_count, sizeof(*pc->state));
	pc->refs = calloc(pc->slot_count, sizeof(*pc->refs));
	pc->free_ids = calloc(pc->slot_count, sizeof(*pc->free_ids));
	pc->in_hist = calloc(pc->slot_count, sizeof(*pc->in_hist));
	pc->hist = calloc(pc->hist_cap ? pc->hist_cap : 1, sizeof(*pc->hist));
	if (!pc->desc || !pc->state || !pc->refs || !pc->free_ids || !pc->in_hist || !pc->hist) {
		vdds__pubcore_fini(pc);
		return -ENOMEM;
	}
	/* pushed in reverse so that slot 0 is loaned first */
	for (uint32_t i = 0; i < pc->slot_count; i++)
		pc->free_ids[i] = pc->slot_count - 1 - i;
	pc->n_free = pc->slot_count;
	return 0;
}

void vdds__pubcore_fini(struct vdds__pubcore *pc)
{
	free(pc->desc);
	pc->desc = NULL;
	free(pc->state);
	free(pc->refs);
	free(pc->free_ids);
	free(pc->in_hist);
	free(pc->hist);
	pc->state = NULL;
	pc->refs = NULL;
	pc->free_ids = NULL;
	pc->in_hist = NULL;
	pc->hist = NULL;
}

int vdds__lane_pub_init(struct vdds__lane_pub *lp, struct vdds__lane_hdr *shm, size_t shm_size,
			uint32_t id, uint32_t slot_count)
{
	uint32_t ring_size = vdds__ring_size_for(slot_count);

	memset(lp, 0, sizeof(*lp));
	lp->holds = calloc((slot_count + 63) / 64, sizeof(*lp->holds));
	lp->shadow = calloc(ring_size, sizeof(*lp->shadow));
	lp->at = calloc(slot_count, sizeof(*lp->at));
	lp->want_history = 1;
	if (!lp->holds || !lp->shadow || !lp->at) {
		vdds__lane_pub_fini(lp);
		return -ENOMEM;
	}
	lp->id = id;
	lp->shm = shm;
	lp->shm_size = shm_size;
	/* a new memfd is zero-filled: indices, wake_gen and pub_wait start at 0 */
	shm->magic = VDDS__LANE_MAGIC;
	shm->layout_version = VDDS__LAYOUT_VERSION;
	shm->hdr_size = sizeof(*shm);
	shm->lane_id = id;
	shm->ring_size = ring_size;
	shm->slot_count = slot_count;
	shm->segment_size = shm_size;
	vdds__dring_init(&lp->deliver, vdds__lane_deliver(shm), &shm->deliver_prod,
			 &shm->deliver_cons, ring_size);
	vdds__rring_init(&lp->release, vdds__lane_release(shm, ring_size), &shm->release_cons,
			 ring_size);
	lp->cons_seen = lp->deliver.pos;
	lp->indexed = lp->deliver.pos;
	return 0;
}

void vdds__lane_pub_fini(struct vdds__lane_pub *lp)
{
	free(lp->holds);
	free(lp->shadow);
	free(lp->at);
	lp->holds = NULL;
	lp->shadow = NULL;
	lp->at = NULL;
}

/* Drop lane lp's hold on slot id; the slot is free once nobody holds it. */
static inline void drop_hold(struct vdds__pubcore *pc, struct vdds__lane_pub *lp, uint32_t id)
{
	lp->holds[id / 64] &= ~(1ull << (id % 64));
	lp->held--;
	if (--pc->refs[id] == 0 && pc->state[id] == VDDS__SLOT_PUBLISHED && !pc->in_hist[id])
		vdds__pubcore_free_slot(pc, id);
}

/* Deliver slot id to a lane outside of a publish (the history), with the
 * metadata it was published with: the lane holds it once more. */
static int deliver_one(struct vdds__pubcore *pc, struct vdds__lane_pub *lp, uint32_t id)
{
	const struct vdds__desc *d = &pc->desc[id];

	if (lp->deliver.pos - lp->cons_seen > lp->deliver.mask && !vdds__lane_pub_has_room(lp))
		return -EBADMSG;
	lp->shadow[lp->deliver.pos & lp->deliver.mask] = id;
	vdds__deliver_push(&lp->deliver, id, d->seq, d->timestamp_ns, d->len);
	lp->holds[id / 64] |= 1ull << (id % 64);
	lp->held++;
	pc->refs[id]++;
	pc->delivered++;
	return 0;
}

void vdds__pubcore_remember(struct vdds__pubcore *pc, uint32_t id)
{
	if (pc->hist_n == pc->hist_cap) {
		uint32_t old = pc->hist[pc->hist_head];

		pc->hist_head = (pc->hist_head + 1) % pc->hist_cap;
		pc->hist_n--;
		pc->in_hist[old] = 0;
		if (pc->refs[old] == 0 && pc->state[old] == VDDS__SLOT_PUBLISHED)
			vdds__pubcore_free_slot(pc, old);
	}
	pc->hist[(pc->hist_head + pc->hist_n) % pc->hist_cap] = id;
	pc->hist_n++;
	pc->in_hist[id] = 1;
}

void vdds__pubcore_mark_broken(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	vdds__pubcore_detach(pc, lp);
	lp->broken = 1;
	lp->next = pc->broken;
	pc->broken = lp;
}

/* Is lp's deliver_cons possible: not behind the last value we saw, not past
 * what we delivered? Records it. */
static int cons_sane(struct vdds__lane_pub *lp, uint32_t c)
{
	if (c - lp->cons_seen > lp->deliver.pos - lp->cons_seen)
		return 0;
	lp->cons_seen = c;
	return 1;
}

int vdds__lane_pub_has_room(struct vdds__lane_pub *lp)
{
	/* acquire: the subscriber's reads of the entry we are about to
	 * overwrite came before it published its position */
	uint32_t c = vdds__load_acquire(lp->deliver.cons);

	return cons_sane(lp, c) && lp->deliver.pos - c <= lp->deliver.mask;
}

/* Bring lp->at up to date from our shadow of the deliver ring: the position
 * of each entry delivered since the last call. Only the last ring of
 * entries can still be queued (the ring never holds more: see
 * vdds__pubcore_publish), so older ones need no position. Private memory
 * only; amortised one store per delivery, paid here and not in publish. */
static void index_deliveries(struct vdds__lane_pub *lp)
{
	uint32_t pos = lp->deliver.pos, p = lp->indexed;

	if (pos - p > lp->deliver.mask + 1)
		p = pos - lp->deliver.mask - 1;
	for (; p != pos; p++)
		lp->at[lp->shadow[p & lp->deliver.mask]] = p;
	lp->indexed = pos;
}

/* Is slot id, which lp holds, still queued (delivered, not taken) for a
 * deliver_cons of c (sane)? at[id] is its delivery position while our
 * shadow entry there still names it; once that entry is overwritten, the
 * delivery is more than a ring ago, and taken. */
static int still_queued(const struct vdds__lane_pub *lp, uint32_t id, uint32_t c)
{
	uint32_t p = lp->at[id];

	return lp->shadow[p & lp->deliver.mask] == id && p - c < lp->deliver.pos - c;
}

/* Drain one lane's release ring; -EBADMSG if the subscriber broke the rules:
 * an id out of range, not held, released twice, or still queued (a sample
 * it never took: the BLOCK wait counts on that, see arm_wait). */
static int reclaim_lane(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	uint32_t id, before = lp->release.pos;
	/* acquire: pairs with the subscriber's release of its position. The
	 * one check of the index it owns, once per batch; read again only for
	 * a return whose sample it seems not to have taken yet (taken since
	 * this read: our acquire of the return orders the new read after it) */
	uint32_t c = vdds__load_acquire(lp->deliver.cons);
	int err;

	if (!cons_sane(lp, c))
		return -EBADMSG;
	index_deliveries(lp);
	while ((err = vdds__release_pop(&lp->release, &id)) == 0) {
		if (id >= pc->slot_count || !vdds__lane_pub_holds(lp, id))
			return -EBADMSG; /* out of range, not held, or released twice */
		if (still_queued(lp, id, c)) {
			/* acquire: as above */
			c = vdds__load_acquire(lp->deliver.cons);
			if (!cons_sane(lp, c) || still_queued(lp, id, c))
				return -EBADMSG;
		}
		drop_hold(pc, lp, id);
		pc->returned++;
	}
	if (err != -EAGAIN)
		return err;
	if (lp->release.pos != before) /* relaxed: for introspection only */
		vdds__store_relaxed(lp->release.mine, lp->release.pos);
	return 0;
}

uint32_t vdds__pubcore_reclaim(struct vdds__pubcore *pc)
{
	uint32_t before = pc->n_free;

	for (uint32_t i = 0; i < pc->n_lanes;) {
		struct vdds__lane_pub *lp = pc->lanes[i];

		if (reclaim_lane(pc, lp) < 0) {
			vdds__pubcore_mark_broken(pc, lp); /* swaps the last lane into i */
			continue;
		}
		i++;
	}
	return pc->n_free - before;
}

void vdds__pubcore_attach(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	lp->attached = 1;
	pc->lanes[pc->n_lanes++] = lp;
	for (uint32_t k = 0; lp->want_history && k < pc->hist_n; k++) {
		/* a new lane is empty and its ring holds every slot: only a
		 * subscriber scribbling its lane already can make this fail */
		if (deliver_one(pc, lp, pc->hist[(pc->hist_head + k) % pc->hist_cap]) < 0) {
			vdds__pubcore_mark_broken(pc, lp);
			return;
		}
	}
}

void vdds__pubcore_detach(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	if (!lp->attached)
		return;
	lp->attached = 0;
	for (uint32_t i = 0; i < pc->n_lanes; i++) {
		if (pc->lanes[i] == lp) {
			pc->lanes[i] = pc->lanes[--pc->n_lanes];
			break;
		}
	}
	for (uint32_t w = 0; w < (pc->slot_count + 63) / 64 && lp->held; w++) {
		while (lp->holds[w]) {
			uint32_t id = w * 64 + (uint32_t)__builtin_ctzll(lp->holds[w]);

			drop_hold(pc, lp, id);
		}
	}
}

/* ------------------------------------------------------------ DROP_OLDEST */

/* What lp has queued (delivered, not taken), from its deliver_cons checked
 * against what we delivered and the value we last saw; -1 if impossible. */
static int64_t queued(struct vdds__lane_pub *lp)
{
	/* acquire: pairs with the subscriber's CAS (see vdds__deliver_pop_shared) */
	uint32_t c = vdds__load_acquire(lp->deliver.cons);

	if (!cons_sane(lp, c))
		return -1;
	return lp->deliver.pos - c;
}

/* Take back lp's oldest queued sample: 1 if done, 0 if it had nothing queued
 * left, -EBADMSG if the subscriber broke the protocol. */
static int steal_one(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	uint32_t prod = lp->deliver.pos, c = lp->cons_seen;

	for (;;) {
		if (c == prod)
			return 0; /* it took them all meanwhile */
		if (prod - c > lp->deliver.mask + 1)
			return -EBADMSG;
		/* whoever moves deliver_cons past c owns entry c; a failed CAS
		 * leaves the current value in c */
		if (vdds__cas(lp->deliver.cons, &c, c + 1))
			break;
		if (!cons_sane(lp, c))
			return -EBADMSG; /* moved backwards, or past what we delivered */
	}
	lp->cons_seen = c + 1;
	uint32_t id = lp->shadow[c & lp->deliver.mask];

	/* queued means held; if not, it released a sample it never took */
	if (!vdds__lane_pub_holds(lp, id))
		return -EBADMSG;
	/* relaxed: only we write it; the control side reads a snapshot */
	vdds__store_relaxed(&lp->dropped, vdds__load_relaxed(&lp->dropped) + 1);
	pc->dropped++;
	drop_hold(pc, lp, id);
	return 1;
}

int vdds__pubcore_steal(struct vdds__pubcore *pc)
{
	while (pc->n_free == 0) {
		struct vdds__lane_pub *most = NULL;

		for (uint32_t i = 0; i < pc->n_lanes;) {
			struct vdds__lane_pub *lp = pc->lanes[i];
			int64_t q = queued(lp);

			if (q < 0) {
				vdds__pubcore_mark_broken(pc, lp); /* swaps the last lane into i */
				continue;
			}
			if (q > 0 && (!most || lp->held > most->held))
				most = lp;
			i++;
		}
		/* nothing queued: every slot is held by taken samples, unless
		 * some were released since the caller looked */
		if (!most)
			return vdds__pubcore_reclaim(pc) > 0 ? 0 : -ENOBUFS;
		if (steal_one(pc, most) < 0)
			vdds__pubcore_mark_broken(pc, most);
	}
	return 0;
}

/* ------------------------------------------------------------------ BLOCK */

#define ARM_SCAN_MAX_SLOTS 65536 /* above, finding the oldest costs too much */

/* The oldest published slot that some lane holds, or -1; *live: how many
 * published slots some lane holds. */
static int64_t oldest_held(const struct vdds__pubcore *pc, uint32_t *live)
{
	int64_t oldest = -1;

	*live = 0;
	for (uint32_t id = 0; id < pc->slot_count; id++) {
		if (pc->state[id] != VDDS__SLOT_PUBLISHED || pc->refs[id] == 0)
			continue;
		(*live)++;
		if (oldest < 0 || pc->desc[id].seq < pc->desc[oldest].seq)
			oldest = id;
	}
	return oldest;
}

/* May lp alone be asked to wake us? It has T at the head of its queue, by
 * its deliver_cons c (sane), and holds every live slot by our own count:
 * then no slot can come back without a release of its. Queued-at-the-head
 * says the second for an honest lane (delivery is in order: every later
 * sample queues behind T); the count says it for any lane, from what we
 * collected: a lane that returned samples it never took (reclaim_lane cuts
 * it off, but only when it looks) holds fewer, and cannot have every other
 * lane's returns go unasked while we sleep. */
static int may_ask_alone(const struct vdds__lane_pub *lp, uint32_t t, uint32_t c, uint32_t live)
{
	uint32_t q = lp->deliver.pos - c;

	return q > 0 && lp->shadow[c & lp->deliver.mask] == t && vdds__lane_pub_holds(lp, t) &&
	       lp->held == live;
}

uint32_t vdds__pubcore_arm_wait(struct vdds__pubcore *pc)
{
	uint32_t live = 0;
	int64_t t = pc->slot_count <= ARM_SCAN_MAX_SLOTS ? oldest_held(pc, &live) : -1;
	struct vdds__lane_pub *last = NULL;
	uint64_t w = 1, last_q = 0;
	uint32_t armed = 0;

	if (t >= 0) {
		w = pc->desc[t].seq;
		for (uint32_t i = 0; i < pc->n_lanes;) {
			struct vdds__lane_pub *lp = pc->lanes[i];
			/* acquire: pairs with the subscriber's release of its
			 * position; read once, checked as every read of it. Only a
			 * choice: if the lane takes T meanwhile and returns
			 * something, loan_wait's look after the fence sees the
			 * return and chooses again */
			uint32_t c = vdds__load_acquire(lp->deliver.cons);

			if (!cons_sane(lp, c)) {
				vdds__pubcore_mark_broken(pc, lp); /* swaps the last lane into i */
				continue;
			}
			/* a lane that has taken T may hold it while another lane
			 * returns what it no longer holds (found by test_chaos) */
			if (may_ask_alone(lp, (uint32_t)t, c, live) &&
			    (!last || lp->deliver.pos - c > last_q)) {
				last = lp;
				last_q = lp->deliver.pos - c;
			}
			i++;
		}
	}
	/* no lane may be asked alone: every lane holding anything is asked */
	for (uint32_t i = 0; i < pc->n_lanes; i++) {
		struct vdds__lane_pub *lp = pc->lanes[i];
		int arm = last ? lp == last : lp->held > 0;

		vdds__store_relaxed(&lp->shm->pub_wait, arm ? w : 0);
		armed += (uint32_t)arm;
	}
	return armed;
}

void vdds__pubcore_disarm_wait(struct vdds__pubcore *pc)
{
	for (uint32_t i = 0; i < pc->n_lanes; i++)
		vdds__store_relaxed(&pc->lanes[i]->shm->pub_wait, 0);
}
