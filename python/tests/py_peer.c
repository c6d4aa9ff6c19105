/* py_peer.c — the C side of the Python package's cross-language tests:
 * publishes, or receives and checks, numbered messages that carry a CRC-32.
 *
 *   py_peer pub TOPIC COUNT [SUBS [gated]]  wait for SUBS subscribers (1), publish
 *                                  COUNT messages, close; gated: one burst of 1-64
 *                                  messages per byte read from stdin
 *   py_peer sub TOPIC COUNT        subscribe (retrying while there is no publisher),
 *                                  print "subscribed", check COUNT messages in order
 *                                  until the publisher is gone, print "ok COUNT"
 *
 * A message: u64 index (0, 1, ...), u32 body length, u32 CRC-32 (zlib's) of the
 * body, then the body. Exit 0 when everything checked out, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vdds.h>

struct msg_hdr {
	uint64_t index;
	uint32_t len;
	uint32_t crc;
};

#define MAX_BODY 1000

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "py_peer: %s: %s\n", what, vdds_strerror(err));
	return 1;
}

static int publish_one(vdds_pub *pub, uint64_t index, uint64_t *rng)
{
	void *buf;
	int err = vdds_pub_loan(pub, &buf, 10000);

	if (err < 0)
		return err;
	struct msg_hdr h = { index, (uint32_t)(next_rand(rng) % (MAX_BODY + 1)), 0 };
	unsigned char *body = (unsigned char *)buf + sizeof(h);

	for (uint32_t i = 0; i < h.len; i++)
		body[i] = (unsigned char)next_rand(rng);
	h.crc = crc32_of(body, h.len);
	memcpy(buf, &h, sizeof(h));
	return vdds_pub_publish(pub, buf, sizeof(h) + h.len);
}

static int run_pub(const char *topic, uint64_t count, uint32_t subs, int gated)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct msg_hdr) + MAX_BODY };
	struct vdds_pub_stats st;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	vdds_pub *pub;
	int err = vdds_pub_open(&pub, topic, &o);

	if (err < 0)
		return fail("open", err);
	/* nobody hears what is published before they join */
	for (int tries = 0; vdds_pub_stats(pub, &st) == 0 && st.subscribers < subs; tries++) {
		if (tries == 30000) {
			vdds_pub_close(pub);
			return fail("waiting for subscribers", -ETIMEDOUT);
		}
		sleep_ms(1);
	}
	for (uint64_t i = 0; i < count;) {
		uint64_t burst = gated ? 1 + next_rand(&rng) % 64 : count;
		char gate;

		if (gated && read(0, &gate, 1) != 1)
			break; /* the test is over */
		for (uint64_t b = 0; b < burst && i < count; b++, i++)
			if ((err = publish_one(pub, i, &rng)) < 0) {
				vdds_pub_close(pub);
				return fail("publish", err);
			}
	}
	vdds_pub_close(pub);
	return 0;
}

static int check(const struct vdds_sample *s, uint64_t expect)
{
	struct msg_hdr h;

	if (s->len < sizeof(h)) {
		fprintf(stderr, "py_peer: message %llu: %zu bytes\n", (unsigned long long)expect,
			s->len);
		return -1;
	}
	memcpy(&h, s->data, sizeof(h));
	const unsigned char *body = (const unsigned char *)s->data + sizeof(h);

	if (h.index != expect || h.len != s->len - sizeof(h) || h.crc != crc32_of(body, h.len)) {
		fprintf(stderr, "py_peer: message %llu: index %llu, body %u of %zu bytes, or crc\n",
			(unsigned long long)expect, (unsigned long long)h.index, h.len, s->len);
		return -1;
	}
	return 0;
}

static int run_sub(const char *topic, uint64_t count)
{
	vdds_sub *sub;
	struct vdds_sample s;
	uint64_t got = 0;
	int err;

	for (int tries = 0; (err = vdds_sub_open(&sub, topic, NULL)) == -ENOENT && tries < 10000;
	     tries++)
		sleep_ms(1);
	if (err < 0)
		return fail("subscribe", err);
	printf("subscribed\n");
	fflush(stdout);
	for (;;) {
		while ((err = vdds_sub_take(sub, &s)) == 0) {
			int bad = check(&s, got);

			vdds_sub_release(sub, &s);
			if (bad) {
				vdds_sub_close(sub);
				return 1;
			}
			got++;
		}
		if (err != -EAGAIN)
			break;
		if ((err = vdds_sub_wait(sub, 30000)) < 0 && err != -EPIPE)
			break;
	}
	vdds_sub_close(sub);
	if (err != -EPIPE)
		return fail("take", err);
	printf("ok %llu\n", (unsigned long long)got);
	return got == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "pub") == 0) {
		uint32_t subs = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1;

		return run_pub(argv[2], strtoull(argv[3], NULL, 10), subs,
			       argc > 5 && strcmp(argv[5], "gated") == 0);
	}
	if (argc == 4 && strcmp(argv[1], "sub") == 0)
		return run_sub(argv[2], strtoull(argv[3], NULL, 10));
	fprintf(stderr,
		"usage: py_peer pub TOPIC COUNT [SUBS [gated]] | py_peer sub TOPIC COUNT\n");
	return 2;
}
