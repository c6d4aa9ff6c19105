/* fuzz_sub.c — libFuzzer target for what a subscriber reads from a publisher:
 * a topic and a lane segment built from the fuzzer's bytes, checked and
 * attached by vdds__subcore_init, then a program of operations, also from
 * the bytes, that has the subscriber take, release, look and arm while the
 * publisher writes deliver entries, moves deliver_cons and scribbles both
 * headers. Whatever it writes, every sample must lie in the slot the header
 * said when it was checked, no slot is handed out twice, a broken lane stays
 * broken, and nothing is read or written out of bounds (ASan: the segments
 * are heap blocks of their exact sizes).
 *
 * Input: [topic pages][ring log2][topic header, 256 B][lane header, 64 B]
 * [operations...]; tests/fuzz/make_corpus.py writes seeds that pass the
 * checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "subcore.h"
#include "vdds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LANE_HDR_BYTES 64 /* the publisher's part of the lane header */
#define MAX_HELD 64

/* The bytes left to read, as a stream; reads past the end give zeroes. */
struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t get(struct input *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++) {
		uint64_t b = in->n ? (in->n--, *in->p++) : 0;

		v |= b << (8 * i);
	}
	return v;
}

/* The harness's own view: the header as it was when checked, the slots the
 * subscriber handed out and has not been given back, the publisher's
 * position for honest-looking entries. */
struct world {
	uint8_t *topic, *lane_mem;
	size_t topic_size, lane_size;
	uint32_t ring;
	struct vdds__topic_hdr at_check;
	struct vdds__subcore sc;
	uint32_t held[MAX_HELD];
	uint64_t held_seq[MAX_HELD];
	uint32_t n_held;
	uint32_t prod;
	int broken;
};

static void check_sample(struct world *w, const struct vdds_sample *s)
{
	const struct vdds__topic_hdr *h = &w->at_check;
	const uint8_t *p = s->data;

	if (s->slot >= h->slot_count || s->len > h->slot_size)
		abort(); /* a slot or length the checked header does not allow */
	if (p != w->topic + h->data_offset + (uint64_t)s->slot * h->slot_stride)
		abort(); /* not where the checked header puts that slot */
	if (p < w->topic || s->len > (size_t)(w->topic + w->topic_size - p))
		abort(); /* outside the segment */
	for (uint32_t i = 0; i < w->n_held; i++)
		if (w->held[i] == s->slot)
			abort(); /* handed out twice */
}

static void op_take(struct world *w)
{
	struct vdds_sample s;
	int err = vdds__subcore_take(&w->sc, &s);

	if (err == 0) {
		if (w->broken)
			abort(); /* a broken lane must stay broken */
		check_sample(w, &s);
		if (w->n_held == MAX_HELD) {
			vdds__subcore_release(&w->sc, s.slot, s.seq);
			return;
		}
		w->held_seq[w->n_held] = s.seq;
		w->held[w->n_held++] = s.slot;
		return;
	}
	if (err == -EBADMSG)
		w->broken = 1;
	else if (err != -EAGAIN || w->broken)
		abort();
}

static void op_release(struct world *w, struct input *in)
{
	if (w->n_held == 0)
		return;
	uint32_t k = (uint32_t)get(in, 1) % w->n_held;

	if (vdds__subcore_release(&w->sc, w->held[k], w->held_seq[k]) < 0)
		abort(); /* it was held */
	w->held[k] = w->held[--w->n_held];
	w->held_seq[k] = w->held_seq[w->n_held];
}

/* The publisher writes a deliver entry: at its own next position with that
 * position's mark (honest-looking), or anywhere with any mark. */
static void op_deliver(struct world *w, struct input *in, int honest)
{
	uint32_t pos = honest ? w->prod++ : (uint32_t)get(in, 1);
	uint32_t mark = honest ? pos + 1 : (uint32_t)get(in, 4);
	struct vdds__dentry *e = &vdds__lane_deliver(
		(struct vdds__lane_hdr *)w->lane_mem)[pos & (w->ring - 1)];

	e->slot = (uint32_t)get(in, honest ? 1 : 4);
	e->seq = get(in, 2);
	e->timestamp_ns = get(in, 2);
	e->len = honest ? get(in, 2) : get(in, 8);
	e->mark = mark;
}

/* The publisher scribbles a byte of the topic header, or of the lane's
 * header lines (its part or the indices), after the checks: the subscriber
 * must not read them again. */
static void op_scribble(struct world *w, struct input *in, int lane)
{
	uint32_t off = (uint32_t)get(in, 2);
	uint8_t v = (uint8_t)get(in, 1);

	if (lane)
		w->lane_mem[off % sizeof(struct vdds__lane_hdr)] = v;
	else
		w->topic[off % sizeof(struct vdds__topic_hdr)] = v;
}

static void run(struct world *w, struct input *in)
{
	struct vdds__lane_hdr *l = (struct vdds__lane_hdr *)w->lane_mem;

	for (int steps = 0; in->n > 0 && steps < 4096; steps++) {
		switch (get(in, 1) % 11) {
		case 0:
		case 1: op_take(w); break;
		case 2: op_release(w, in); break;
		case 3:
			if (vdds__subcore_pending(&w->sc) < 0)
				w->broken = 1;
			break;
		case 4: op_deliver(w, in, 1); break;
		case 5: op_deliver(w, in, 0); break;
		case 6: l->deliver_cons = (uint32_t)get(in, 4); break;
		case 7: op_scribble(w, in, 0); break;
		case 8: op_scribble(w, in, 1); break;
		case 9:
			if (vdds__subcore_queued(&w->sc) > w->ring)
				abort();
			break;
		default: vdds__subcore_arm(&w->sc); break;
		}
	}
	while (w->n_held > 0) {
		uint32_t k = --w->n_held;

		if (vdds__subcore_release(&w->sc, w->held[k], w->held_seq[k]) < 0)
			abort();
	}
	if (w->sc.n_held != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct world w;
	void *topic = NULL;

	memset(&w, 0, sizeof(w));
	w.topic_size = 4096 * (1 + get(&in, 1) % 4);
	w.ring = 1u << (get(&in, 1) % 7);
	w.lane_size = vdds__lane_size(w.ring);
	if (posix_memalign(&topic, 4096, w.topic_size) != 0)
		abort();
	w.topic = topic;
	w.lane_mem = malloc(w.lane_size);
	if (!w.lane_mem)
		abort();
	memset(w.topic, 0, w.topic_size);
	memset(w.lane_mem, 0, w.lane_size);
	for (size_t i = 0; i < sizeof(struct vdds__topic_hdr); i++)
		w.topic[i] = (uint8_t)get(&in, 1);
	for (size_t i = 0; i < LANE_HDR_BYTES; i++)
		w.lane_mem[i] = (uint8_t)get(&in, 1);
	memcpy(&w.at_check, w.topic, sizeof(w.at_check));
	if (vdds__subcore_init(&w.sc, w.topic, w.topic_size, (struct vdds__lane_hdr *)w.lane_mem,
			       w.lane_size) == 0) {
		/* what it checked is what it keeps, name terminated */
		if (memcmp(&w.sc.hdr, &w.at_check, sizeof(w.at_check)) != 0 ||
		    !memchr(w.sc.hdr.type_name, '\0', sizeof(w.sc.hdr.type_name)))
			abort();
		run(&w, &in);
	}
	vdds__subcore_fini(&w.sc);
	free(w.topic);
	free(w.lane_mem);
	return 0;
}
