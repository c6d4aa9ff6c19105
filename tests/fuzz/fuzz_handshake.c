/* fuzz_handshake.c — libFuzzer target for what a peer can hand us: the
 * handshake messages (vdds__msg_parse), and the topic and lane headers a
 * subscriber maps (vdds__subcore_init's checks, then take/release
 * over a lane whose every word comes from the fuzzer). Any crash, sanitizer
 * report or out-of-range sample is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "subcore.h"
#include "vdds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_message(const uint8_t *data, size_t size)
{
	union vdds__msg m;

	if (size > sizeof(m))
		size = sizeof(m); /* the receiver truncates (and rejects) longer */
	memcpy(&m, data, size);
	int kind = vdds__msg_parse(&m, size);

	if (kind == VDDS__MSG_HELLO && !memchr(m.hello.type_name, 0, sizeof(m.hello.type_name)))
		abort(); /* accepted an unterminated string */
	if (kind == VDDS__MSG_INFO &&
	    (m.info.n_subs > VDDS_MAX_SUBSCRIBERS || size != vdds__msg_info_size(m.info.n_subs) ||
	     !memchr(m.info.type_name, 0, sizeof(m.info.type_name))))
		abort();
	if ((kind == VDDS__MSG_REJECT || kind == VDDS__MSG_BYE) &&
	    (m.reject.err <= 0 || !memchr(m.reject.reason, 0, sizeof(m.reject.reason))))
		abort();
}

/* A topic and a lane laid out by the fuzzer; if the checks accept them, the
 * subscriber's data path must stay inside them whatever the rings say. */
static void fuzz_segments(const uint8_t *data, size_t size)
{
	size_t topic_size = 8192;
	size_t lane_size = vdds__lane_size(16);
	void *topic_mem = NULL;
	uint8_t *lane = malloc(lane_size);

	if (posix_memalign(&topic_mem, 4096, topic_size) != 0 || !lane)
		abort();
	uint8_t *topic = topic_mem;

	memset(topic, 0, topic_size);
	memset(lane, 0, lane_size);
	memcpy(topic, data,
	       size < sizeof(struct vdds__topic_hdr) ? size : sizeof(struct vdds__topic_hdr));
	if (size > sizeof(struct vdds__topic_hdr)) {
		size_t rest = size - sizeof(struct vdds__topic_hdr);

		memcpy(lane, data + sizeof(struct vdds__topic_hdr),
		       rest < lane_size ? rest : lane_size);
	}
	struct vdds__lane_hdr *l = (void *)lane;
	struct vdds__subcore sc;

	if (vdds__subcore_init(&sc, topic, topic_size, l, lane_size) == 0) {
		struct vdds_sample s;
		uint32_t held[64];
		uint64_t seqs[64];
		int n = 0;

		for (int i = 0; i < 64 && vdds__subcore_take(&sc, &s) == 0; i++) {
			const uint8_t *p = s.data;

			if (p < topic || p + s.len > topic + topic_size)
				abort(); /* a sample outside the segment */
			seqs[n] = s.seq;
			held[n++] = s.slot;
		}
		for (int i = 0; i < n; i++)
			vdds__subcore_release(&sc, held[i], seqs[i]);
	}
	vdds__subcore_fini(&sc);
	free(topic);
	free(lane);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_segments(data + 1, size - 1);
	else
		fuzz_message(data + 1, size - 1);
	return 0;
}
