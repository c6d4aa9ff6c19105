/* hello_pub.c — the vdds hello world, publisher side: publishes a greeting
 * with a counter every interval. Start hello_sub in other shells to watch.
 * Usage: hello_pub [count] [interval_ms]   (count 0 = forever) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vdds.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 0;
	long interval_ms = argc > 2 ? atol(argv[2]) : 500;
	vdds_pub *pub;
	int err = vdds_pub_open(&pub, "hello", NULL);

	if (err < 0) {
		fprintf(stderr, "hello_pub: cannot publish 'hello': %s\n", vdds_strerror(err));
		return 1;
	}
	printf("hello_pub: publishing on 'hello'\n");
	fflush(stdout);
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
