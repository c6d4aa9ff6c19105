/* subcore.c — subscriber take/release over its lane. The publisher is trusted
 * no more than it must be: every slot id and length it writes is bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "subcore.h"
#include "vdds.h"

int vdds__topic_check(const struct vdds_topic_hdr *t, uint64_t segment_size)
{
	if (segment_size < sizeof(*t) || t->magic != VDDS_TOPIC_MAGIC ||
	    t->layout_version != VDDS_LAYOUT_VERSION || t->hdr_size != sizeof(*t))
		return -EBADMSG;
	if (t->slot_count < 1 || t->slot_count > (1u << 24) || t->slot_size == 0 ||
	    t->slot_stride < t->slot_size || t->slot_stride > (1ull << 40))
		return -EBADMSG;
	if (t->segment_size != segment_size || t->desc_offset < sizeof(*t) ||
	    t->desc_offset % VDDS_CACHELINE != 0 || t->data_offset % VDDS_CACHELINE != 0)
		return -EBADMSG;
	uint64_t desc_end = t->desc_offset + (uint64_t)t->slot_count * sizeof(struct vdds_desc);

	if (desc_end > t->data_offset || t->data_offset > segment_size ||
	    (segment_size - t->data_offset) / t->slot_stride < t->slot_count)
		return -EBADMSG;
	if (memchr(t->type_name, '\0', sizeof(t->type_name)) == NULL)
		return -EBADMSG;
	return 0;
}

int vdds__lane_check(const struct vdds_lane_hdr *l, uint64_t segment_size,
		     uint32_t slot_count)
{
	if (segment_size < sizeof(*l) || l->magic != VDDS_LANE_MAGIC ||
	    l->layout_version != VDDS_LAYOUT_VERSION || l->hdr_size != sizeof(*l))
		return -EBADMSG;
	if (l->ring_size < slot_count || (l->ring_size & (l->ring_size - 1)) ||
	    l->ring_size > (1u << 24) || l->slot_count != slot_count ||
	    l->segment_size != segment_size ||
	    vdds__lane_size(l->ring_size) != segment_size)
		return -EBADMSG;
	return 0;
}

int vdds__subcore_init(struct vdds__subcore *sc, const struct vdds_topic_hdr *topic,
		       struct vdds_lane_hdr *lane)
{
	memset(sc, 0, sizeof(*sc));
	sc->topic = topic;
	sc->desc = (const struct vdds_desc *)((const uint8_t *)topic + topic->desc_offset);
	sc->data = (const uint8_t *)topic + topic->data_offset;
	sc->slot_count = topic->slot_count;
	sc->slot_size = topic->slot_size;
	sc->slot_stride = topic->slot_stride;
	sc->lane = lane;
	sc->held = calloc((sc->slot_count + 63) / 64, sizeof(uint64_t));
	if (!sc->held)
		return -ENOMEM;
	uint32_t ring_size = lane->ring_size;

	vdds__ring_init(&sc->deliver, vdds__lane_deliver(lane), &lane->deliver_cons,
			&lane->deliver_prod, ring_size);
	vdds__ring_init(&sc->release, vdds__lane_release(lane, ring_size),
			&lane->release_prod, &lane->release_cons, ring_size);
	return 0;
}

void vdds__subcore_fini(struct vdds__subcore *sc)
{
	free(sc->held);
	sc->held = NULL;
}

static int is_held(const struct vdds__subcore *sc, uint32_t id)
{
	return (sc->held[id / 64] >> (id % 64)) & 1;
}

int vdds__subcore_pending(struct vdds__subcore *sc)
{
	if (sc->broken)
		return -EBADMSG;
	int r = vdds__ring_peek(&sc->deliver);

	if (r < 0)
		sc->broken = 1;
	return r;
}

int vdds__subcore_take(struct vdds__subcore *sc, struct vdds_sample *sample)
{
	uint32_t id;

	if (sc->broken)
		return -EBADMSG;
	int err = vdds__ring_pop(&sc->deliver, &id);

	if (err == -EAGAIN)
		return err;
	if (err < 0 || id >= sc->slot_count || is_held(sc, id)) {
		sc->broken = 1;
		return -EBADMSG;
	}
	const struct vdds_desc *d = &sc->desc[id];
	uint64_t len = ((const volatile struct vdds_desc *)d)->len;

	sample->data = sc->data + (uint64_t)id * sc->slot_stride;
	sample->len = len <= sc->slot_size ? (size_t)len : (size_t)sc->slot_size;
	sample->seq = d->seq;
	sample->timestamp_ns = d->timestamp_ns;
	sample->slot = id;
	sc->held[id / 64] |= 1ull << (id % 64);
	sc->n_held++;
	return 0;
}

int vdds__subcore_forget(struct vdds__subcore *sc, uint32_t id)
{
	if (id >= sc->slot_count || !is_held(sc, id))
		return -EINVAL;
	sc->held[id / 64] &= ~(1ull << (id % 64));
	sc->n_held--;
	return 0;
}

int vdds__subcore_release(struct vdds__subcore *sc, uint32_t id)
{
	if (vdds__subcore_forget(sc, id) < 0)
		return -EINVAL;
	if (sc->broken)
		return 0;
	/* never full for an honest publisher: we hold at most slot_count ids */
	if (vdds__ring_push(&sc->release, id) < 0) {
		sc->broken = 1;
		return -EBADMSG;
	}
	/* full fence: our push must be visible before we read pub_wait, the
	 * mirror of the publisher setting pub_wait before re-reading the ring */
	vdds__fence();
	if (vdds__load_relaxed(&sc->lane->pub_wait) == 0)
		return 0;
	return vdds__exchange(&sc->lane->pub_wait, 0) != 0;
}
