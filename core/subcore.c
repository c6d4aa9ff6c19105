/* subcore.c — subscriber take/release over its lane. The publisher is trusted
 * no more than it must be: every slot id and length it writes is bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "subcore.h"
#include "vdds.h"

int vdds__topic_check(const struct vdds__topic_hdr *t, uint64_t segment_size)
{
	if (segment_size < sizeof(*t) || t->magic != VDDS_TOPIC_MAGIC ||
	    t->layout_version != VDDS_LAYOUT_VERSION || t->hdr_size != sizeof(*t))
		return -EBADMSG;
	if (t->slot_count < 1 || t->slot_count > (1u << 24) || t->slot_size == 0 ||
	    t->slot_stride < t->slot_size || t->slot_stride > (1ull << 40))
		return -EBADMSG;
	if (t->segment_size != segment_size || t->reserved0 != 0 || t->data_offset < sizeof(*t) ||
	    t->data_offset % VDDS_CACHELINE != 0)
		return -EBADMSG;
	if (t->data_offset > segment_size ||
	    (segment_size - t->data_offset) / t->slot_stride < t->slot_count)
		return -EBADMSG;
	if (memchr(t->type_name, '\0', sizeof(t->type_name)) == NULL)
		return -EBADMSG;
	if (t->overflow > VDDS_OVERFLOW_MAX || t->history > t->slot_count / 2)
		return -EBADMSG;
	return 0;
}

int vdds__lane_check(const struct vdds__lane_hdr *l, uint64_t segment_size, uint32_t slot_count)
{
	if (segment_size < sizeof(*l) || l->magic != VDDS_LANE_MAGIC ||
	    l->layout_version != VDDS_LAYOUT_VERSION || l->hdr_size != sizeof(*l))
		return -EBADMSG;
	if (l->ring_size < slot_count || (l->ring_size & (l->ring_size - 1)) ||
	    l->ring_size > (1u << 24) || l->slot_count != slot_count ||
	    l->segment_size != segment_size || vdds__lane_size(l->ring_size) != segment_size)
		return -EBADMSG;
	return 0;
}

int vdds__subcore_init(struct vdds__subcore *sc, const struct vdds__topic_hdr *topic,
		       struct vdds__lane_hdr *lane)
{
	memset(sc, 0, sizeof(*sc));
	sc->topic = topic;
	sc->data = (const uint8_t *)topic + topic->data_offset;
	sc->slot_count = topic->slot_count;
	sc->slot_size = topic->slot_size;
	sc->slot_stride = topic->slot_stride;
	sc->shared_cons = topic->overflow == VDDS_OVERFLOW_DROP_OLDEST;
	sc->lane = lane;
	sc->held = calloc((sc->slot_count + 63) / 64, sizeof(uint64_t));
	if (!sc->held)
		return -ENOMEM;
	uint32_t ring_size = lane->ring_size;

	vdds__dring_init(&sc->deliver, vdds__lane_deliver(lane), &lane->deliver_cons,
			 &lane->deliver_cons, ring_size);
	/* from the lane's first entry, not from where deliver_cons is by now:
	 * under DROP_OLDEST the publisher may have taken entries back before we
	 * mapped the lane, and those are lost too (so lost equals the seq gap
	 * from the first sample delivered to us) */
	sc->deliver.pos = 0;
	vdds__rring_init(&sc->release, vdds__lane_release(lane, ring_size), &lane->release_prod,
			 ring_size);
	return 0;
}

int vdds__subcore_pending_slow(struct vdds__subcore *sc)
{
	if (sc->broken)
		return -EBADMSG;
	int r = sc->shared_cons ? vdds__deliver_peek_shared(&sc->deliver)
				: vdds__deliver_peek(&sc->deliver);

	if (r < 0)
		sc->broken = 1;
	return r;
}

void vdds__subcore_fini(struct vdds__subcore *sc)
{
	free(sc->held);
	sc->held = NULL;
}
