/* burst_pub.c — a test publisher: COUNT samples of 64 bytes in random bursts
 * of 1..64 with random pauses, once SUBS subscribers are in; then it closes,
 * so that subscribers see -EPIPE. A stalled subscriber shows as a timeout.
 * Usage: burst_pub TOPIC COUNT [SUBS]   (SUBS default 1) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vdds.h>

#define SUBSCRIBER_WAIT_S 10
#define LOAN_WAIT_MS 10000

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "burst_pub: %s: %s\n", what, vdds_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 128 };
	struct vdds_pub_stats st;
	vdds_pub *pub;
	int err;

	if (argc < 3) {
		fprintf(stderr, "usage: burst_pub TOPIC COUNT [SUBS]\n");
		return 2;
	}
	uint64_t count = strtoull(argv[2], NULL, 10),
		 rnd = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	uint32_t subs = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;

	if ((err = vdds_pub_open(&pub, argv[1], &o)) < 0)
		return fail("open", err);
	for (int i = 0; (err = vdds_pub_stats(pub, &st)) == 0 && st.subscribers < subs; i++) {
		if (i == SUBSCRIBER_WAIT_S * 100)
			return fail("waiting for subscribers", -ETIMEDOUT);
		usleep(10000);
	}
	for (uint64_t seq = 1; seq <= count;) {
		uint64_t burst = 1 + xorshift(&rnd) % 64;

		for (uint64_t i = 0; i < burst && seq <= count; i++, seq++) {
			if ((err = vdds_pub_write(pub, &seq, sizeof(seq), LOAN_WAIT_MS)) < 0)
				return fail("write", err);
		}
		if (xorshift(&rnd) % 4 == 0)
			usleep((useconds_t)(xorshift(&rnd) % 300));
	}
	vdds_pub_stats(pub, &st);
	printf("burst_pub: %" PRIu64 " samples published\n", st.published);
	vdds_pub_close(pub);
	return 0;
}
