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
	uint64_t stride = round_up(slot_size, slot_size >= 4096 ? 4096 : VDDS_CACHELINE);

	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = VDDS_TOPIC_MAGIC;
	hdr->layout_version = VDDS_LAYOUT_VERSION;
	hdr->hdr_size = sizeof(*hdr);
	hdr->slot_count = slot_count;
	hdr->max_subs = max_subs;
	hdr->slot_size = slot_size;
	hdr->slot_stride = stride;
	hdr->desc_offset = sizeof(*hdr);
	hdr->data_offset = round_up(
		hdr->desc_offset + (uint64_t)slot_count * sizeof(struct vdds__desc), 4096);
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
	pc->desc = (struct vdds__desc *)((uint8_t *)topic + topic->desc_offset);
	pc->data = (uint8_t *)topic + topic->data_offset;
	pc->state = calloc(pc->slot_count, sizeof(*pc->state));
	pc->refs = calloc(pc->slot_count, sizeof(*pc->refs));
	pc->free_ids = calloc(pc->slot_count, sizeof(*pc->free_ids));
	if (!pc->state || !pc->refs || !pc->free_ids) {
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
	free(pc->state);
	free(pc->refs);
	free(pc->free_ids);
	pc->state = NULL;
	pc->refs = NULL;
	pc->free_ids = NULL;
}

int vdds__lane_pub_init(struct vdds__lane_pub *lp, struct vdds__lane_hdr *shm, size_t shm_size,
			uint32_t id, uint32_t slot_count)
{
	uint32_t ring_size = vdds__ring_size_for(slot_count);

	memset(lp, 0, sizeof(*lp));
	lp->holds = calloc((slot_count + 63) / 64, sizeof(*lp->holds));
	if (!lp->holds)
		return -ENOMEM;
	lp->id = id;
	lp->shm = shm;
	lp->shm_size = shm_size;
	/* a new memfd is zero-filled: indices, wake_gen and pub_wait start at 0 */
	shm->magic = VDDS_LANE_MAGIC;
	shm->layout_version = VDDS_LAYOUT_VERSION;
	shm->hdr_size = sizeof(*shm);
	shm->lane_id = id;
	shm->ring_size = ring_size;
	shm->slot_count = slot_count;
	shm->segment_size = shm_size;
	vdds__ring_init(&lp->deliver, vdds__lane_deliver(shm), &shm->deliver_prod,
			&shm->deliver_cons, ring_size);
	vdds__ring_init(&lp->release, vdds__lane_release(shm, ring_size), &shm->release_cons,
			&shm->release_prod, ring_size);
	return 0;
}

void vdds__lane_pub_fini(struct vdds__lane_pub *lp)
{
	free(lp->holds);
	lp->holds = NULL;
}

/* Drop lane lp's hold on slot id; the slot is free once nobody holds it. */
static void drop_hold(struct vdds__pubcore *pc, struct vdds__lane_pub *lp, uint32_t id)
{
	lp->holds[id / 64] &= ~(1ull << (id % 64));
	lp->held--;
	if (--pc->refs[id] == 0 && pc->state[id] == VDDS_SLOT_PUBLISHED)
		vdds__pubcore_free_slot(pc, id);
}

void vdds__pubcore_mark_broken(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	vdds__pubcore_detach(pc, lp);
	lp->broken = 1;
	lp->next = pc->broken;
	pc->broken = lp;
}

/* Drain one lane's release ring; -EBADMSG if the subscriber broke the rules. */
static int reclaim_lane(struct vdds__pubcore *pc, struct vdds__lane_pub *lp)
{
	uint32_t id;
	int err;

	while ((err = vdds__ring_pop(&lp->release, &id)) == 0) {
		if (id >= pc->slot_count || !vdds__lane_pub_holds(lp, id))
			return -EBADMSG; /* out of range, not held, or released twice */
		drop_hold(pc, lp, id);
	}
	return err == -EAGAIN ? 0 : err;
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
