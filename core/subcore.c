/* subcore.c — subscriber take/release over its lane. The publisher is trusted
 * no more than it must be: its headers are copied once and only the copies
 * are checked and used; every slot id and length it writes is bounded. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "subcore.h"
#include "vdds.h"

/* Copy n bytes the publisher can still write into private memory, once.
 * The compiler barrier keeps the compiler from reading the source again in
 * place of the copy (it must assume the source changed): every check and
 * every use below is of the copy. */
static void peer_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	__asm__ volatile("" ::: "memory");
}

int vdds__topic_check(struct vdds__topic_hdr *t, const void *topic, uint64_t segment_size)
{
	if (segment_size < sizeof(*t))
		return -EBADMSG;
	peer_copy(t, topic, sizeof(*t));
	if (t->magic != VDDS__TOPIC_MAGIC || t->layout_version != VDDS__LAYOUT_VERSION ||
	    t->hdr_size != sizeof(*t))
		return -EBADMSG;
	if (t->slot_count < 1 || t->slot_count > (1u << 24) || t->slot_size == 0 ||
	    t->slot_stride < t->slot_size || t->slot_stride > (1ull << 40))
		return -EBADMSG;
	if (t->segment_size != segment_size || t->reserved0 != 0 || t->data_offset < sizeof(*t) ||
	    t->data_offset % VDDS__CACHELINE != 0)
		return -EBADMSG;
	if (t->data_offset > segment_size ||
	    (segment_size - t->data_offset) / t->slot_stride < t->slot_count)
		return -EBADMSG;
	if (memchr(t->type_name, '\0', sizeof(t->type_name)) == NULL)
		return -EBADMSG;
	if (t->overflow > VDDS__OVERFLOW_MAX || t->history > t->slot_count / 2)
		return -EBADMSG;
	return 0;
}

int vdds__lane_check(const struct vdds__lane_hdr *l, uint64_t segment_size, uint32_t slot_count,
		     uint32_t *ring_size)
{
	/* the publisher's part of the header, up to the first index line
	 * (both sides write the lane); the rest of c is never read */
	struct vdds__lane_hdr c;

	if (segment_size < sizeof(c))
		return -EBADMSG;
	memset(&c, 0, sizeof(c));
	peer_copy(&c, l, offsetof(struct vdds__lane_hdr, deliver_prod));
	if (c.magic != VDDS__LANE_MAGIC || c.layout_version != VDDS__LAYOUT_VERSION ||
	    c.hdr_size != sizeof(c))
		return -EBADMSG;
	if (c.ring_size < slot_count || (c.ring_size & (c.ring_size - 1)) ||
	    c.ring_size > (1u << 24) || c.slot_count != slot_count ||
	    c.segment_size != segment_size || vdds__lane_size(c.ring_size) != segment_size)
		return -EBADMSG;
	*ring_size = c.ring_size;
	return 0;
}

int vdds__subcore_init(struct vdds__subcore *sc, const void *topic, uint64_t topic_size,
		       struct vdds__lane_hdr *lane, uint64_t lane_size)
{
	uint32_t ring_size;
	int err;

	memset(sc, 0, sizeof(*sc));
	if ((err = vdds__topic_check(&sc->hdr, topic, topic_size)) < 0 ||
	    (err = vdds__lane_check(lane, lane_size, sc->hdr.slot_count, &ring_size)) < 0)
		return err;
	/* from here on, only the checked copies */
	sc->data = (const uint8_t *)topic + sc->hdr.data_offset;
	sc->slot_count = sc->hdr.slot_count;
	sc->slot_size = sc->hdr.slot_size;
	sc->slot_stride = sc->hdr.slot_stride;
	sc->shared_cons = sc->hdr.overflow == VDDS_OVERFLOW_DROP_OLDEST;
	sc->lane = lane;
	sc->held = calloc((sc->slot_count + 63) / 64, sizeof(uint64_t));
	if (!sc->held)
		return -ENOMEM;
	vdds__dring_init(&sc->deliver, vdds__lane_deliver(lane), &lane->deliver_cons,
			 &lane->deliver_cons, ring_size);
	/* from the lane's first entry, not from where deliver_cons is by now:
	 * under DROP_OLDEST the publisher may have taken entries back before we
	 * mapped the lane, and those are lost too (so lost equals the seq gap
	 * from the first sample delivered to us) */
	sc->deliver.pos = 0;
	/* release_prod, read once here: any value is as good as 0 (positions
	 * are masked, and the publisher reads entries by their marks) */
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
