/* hello_pub.c — the vdds hello world, publisher side: publishes a greeting
 * with a counter every interval. Start hello_sub in other shells to watch.
 * Usage: hello_pub [count] [interval_ms] [subscribers]
 *   count 0 = forever; with `subscribers`, waits (up to 10 s) until that many
 *   have connected before publishing the first sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vdds.h>

static const char usage[] =
	"usage: hello_pub [COUNT [INTERVAL_MS [SUBSCRIBERS]]]\n"
	"Publish \"Hello World N\" on topic 'hello' COUNT times (0, the default:\n"
	"until killed), every INTERVAL_MS milliseconds (default 500); first wait up\n"
	"to 10 s for SUBSCRIBERS subscribers. Watch with hello_sub or vdds echo hello.\n";

/* argv[i] as a number >= 0, or def when absent; -1 when it is not one */
static long arg(int argc, char **argv, int i, long def)
{
	char *end;

	if (i >= argc)
		return def;
	long v = strtol(argv[i], &end, 10);

	return *argv[i] && !*end && v >= 0 ? v : -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	long count = arg(argc, argv, 1, 0);
	long interval_ms = arg(argc, argv, 2, 500);
	long want = arg(argc, argv, 3, 0);

	if (argc > 4 || count < 0 || interval_ms < 0 || want < 0 || want > VDDS_MAX_SUBSCRIBERS) {
		fputs(usage, stderr);
		return 2;
	}
	unsigned want_subs = (unsigned)want;
	vdds_pub *pub;
	int err = vdds_pub_open(&pub, "hello", NULL);

	if (err < 0) {
		fprintf(stderr, "hello_pub: cannot publish 'hello': %s\n", vdds_strerror(err));
		return 1;
	}
	printf("hello_pub: publishing on 'hello'\n");
	fflush(stdout);
	struct vdds_pub_stats st = { 0 };

	for (int i = 0; i < 1000 && st.subscribers < want_subs; i++) {
		vdds_pub_stats(pub, &st);
		usleep(10 * 1000);
	}
	for (long i = 1; count == 0 || i <= count; i++) {
		void *buf;

		/* zero copy: write straight into the shared slot */
		err = vdds_pub_loan(pub, &buf, 1000);
		if (err < 0) {
			fprintf(stderr, "hello_pub: loan: %s\n", vdds_strerror(err));
			break;
		}
		int len = snprintf(buf, 64, "Hello World %ld", i);

		err = vdds_pub_publish(pub, buf, (size_t)len + 1);
		if (err < 0) {
			fprintf(stderr, "hello_pub: publish: %s\n", vdds_strerror(err));
			break;
		}
		struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	vdds_pub_close(pub);
	return err < 0;
}
