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

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 0;
	long interval_ms = argc > 2 ? atol(argv[2]) : 500;
	unsigned want_subs = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
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
