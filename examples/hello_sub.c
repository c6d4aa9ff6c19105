/* hello_sub.c — the vdds hello world, subscriber side: prints each sample and
 * its publish-to-receive latency until the publisher goes away.
 * Usage: hello_sub [name] [max_samples]   (retries until hello_pub runs) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <vdds.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "sub";
	long max = argc > 2 ? atol(argv[2]) : 0;
	vdds_sub *sub;
	int err;

	/* the publisher may not be up yet: try for ten seconds */
	for (int tries = 0; (err = vdds_sub_open(&sub, "hello", NULL)) == -ENOENT && tries < 100;
	     tries++)
		usleep(100 * 1000);
	if (err < 0) {
		fprintf(stderr, "%s: cannot subscribe to 'hello': %s\n", name, vdds_strerror(err));
		return 1;
	}
	long got = 0;

	while (max == 0 || got < max) {
		struct vdds_sample s;

		err = vdds_sub_wait(sub, -1);
		if (err < 0)
			break;
		while (vdds_sub_take(sub, &s) == 0) {
			uint64_t latency = now_ns() - s.timestamp_ns;

			printf("%s: seq %llu \"%.*s\" latency %.1f us\n", name,
			       (unsigned long long)s.seq, (int)s.len, (const char *)s.data,
			       latency / 1000.0);
			fflush(stdout);
			vdds_sub_release(sub, &s);
			got++;
		}
	}
	if (err < 0 && err != -EPIPE)
		fprintf(stderr, "%s: %s\n", name, vdds_strerror(err));
	else
		printf("%s: %ld samples%s\n", name, got, err == -EPIPE ? ", publisher gone" : "");
	vdds_sub_close(sub);
	return err < 0 && err != -EPIPE;
}
