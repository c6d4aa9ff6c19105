/* info_bench.c — does introspection slow publishing? Publish throughput
 * (with no subscriber: the publisher alone is the bottleneck; or with one
 * busy subscriber, --subs 1), alternating phases in one run: while `vdds info`
 * runs 100 times in a row beside the publisher (10 such phases: 1,000 runs),
 * and quiet phases as long as the loaded one before. The publisher's thread
 * has CPU 0; the subscriber and the info loop (taskset) CPU 1; vdds's service thread,
 * which answers, may run on either. Two figures: messages per second of
 * wall-clock time (on 2 CPUs the info loop also takes CPU from the
 * subscriber, which the publisher then waits for), and per second of the
 * publisher thread's own CPU time (what the data path itself costs).
 * --control 1 runs `vdds --version` instead: the same processes started,
 * no introspection, to tell the cost of starting processes on 2 CPUs from
 * that of answering.
 * Usage: vdds_info_bench --vdds PATH [--subs 0|1] [--control 0|1] [--phases N]
 *        [--runs-per-phase N] */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "vdds.h"

#define TOPIC "info_bench"

extern char **environ;

static const char *vdds_bin;
static long runs_per_phase = 100;
static const char *what = "info " TOPIC; /* --control: "--version", no introspection */

static int subscriber(void *arg)
{
	vdds_sub *sub;
	struct vdds_sample s;
	struct vdds_sub_opts o = { .busy_poll = true };
	int err;

	(void)arg;
	bench_pin_cpu(1);
	for (int i = 0; (err = vdds_sub_open(&sub, TOPIC, &o)) == -ENOENT && i < 2000; i++)
		bench_sleep_ns(1000000);
	if (err < 0)
		return fprintf(stderr, "info_bench: subscribe: %s\n", vdds_strerror(err)), 1;
	while ((err = vdds_sub_take(sub, &s)) != -EPIPE)
		if (err == 0)
			vdds_sub_release(sub, &s);
	vdds_sub_close(sub);
	return 0;
}

/* The info loop, spawned (no copy of the publisher's memory to fault on):
 * a shell on CPU 1 running `vdds info TOPIC` runs_per_phase times, each
 * checked. */
static int spawn_info_loop(void)
{
	char script[512];
	pid_t pid;

	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt %ld ]; do \"$0\" %s >/dev/null || exit 1; "
		 "i=$((i + 1)); done",
		 runs_per_phase, what);
	char *args[] = { "taskset", "-c", "1", "/bin/sh", "-c", script, (char *)vdds_bin, NULL };

	if (posix_spawnp(&pid, "taskset", NULL, NULL, args, environ) != 0)
		return -1;
	return (int)pid;
}

/* Publish until stop_ns, or until child (if > 0) has exited. */
static uint64_t publish_until(vdds_pub *pub, uint64_t stop_ns, int child, int *child_rc)
{
	uint64_t n = 0;
	void *buf;

	for (;;) {
		for (int k = 0; k < 256; k++) {
			if (vdds_pub_loan(pub, &buf, -1) < 0)
				return n;
			bench_fill_line(buf, n, 64);
			vdds_pub_publish(pub, buf, 64);
			n++;
		}
		if (child > 0 && (n & 4095) == 0) {
			int status;

			if (waitpid(child, &status, WNOHANG) == child) {
				*child_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
				return n;
			}
		} else if (child <= 0 && bench_now_ns() >= stop_ns) {
			return n;
		}
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double rate(uint64_t n, uint64_t ns)
{
	return ns ? (double)n / ((double)ns / 1e9) : 0;
}

int main(int argc, char **argv)
{
	char dir[256];
	long phases = 10, subs = 0;
	vdds_pub *pub;
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 64 };
	struct vdds_pub_stats st;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--vdds"))
			vdds_bin = argv[i + 1];
		else if (!strcmp(argv[i], "--phases"))
			bench_parse_long(argv[i + 1], 1, 1000, &phases);
		else if (!strcmp(argv[i], "--control") && !strcmp(argv[i + 1], "1"))
			what = "--version";
		else if (!strcmp(argv[i], "--subs"))
			bench_parse_long(argv[i + 1], 0, 1, &subs);
		else if (!strcmp(argv[i], "--runs-per-phase"))
			bench_parse_long(argv[i + 1], 1, 100000, &runs_per_phase);
	}
	if (!vdds_bin || access(vdds_bin, X_OK) < 0)
		return fprintf(stderr, "usage: vdds_info_bench --vdds PATH [--phases N] "
				       "[--runs-per-phase N]\n"),
		       2;
	if (bench_make_rundir(dir, sizeof(dir)) < 0 || vdds_pub_open(&pub, TOPIC, &o) < 0)
		return 1;
	/* after open: the service thread keeps both CPUs, this thread takes CPU 0 */
	bench_pin_cpu(0);
	int sub = subs ? bench_fork(subscriber, NULL) : -1;

	while (vdds_pub_stats(pub, &st) == 0 && st.subscribers < (uint32_t)subs)
		bench_sleep_ns(1000000);
	publish_until(pub, bench_now_ns() + 300000000u, 0, NULL); /* warm up */
	uint64_t quiet_n = 0, quiet_ns = 0, quiet_cpu = 0, load_n = 0, load_ns = 0, load_cpu = 0;
	int rc = 0;

	for (long p = 0; p < phases && rc == 0; p++) {
		uint64_t t0 = bench_now_ns(), c0 = thread_cpu_ns();
		int child = spawn_info_loop();
		uint64_t n = publish_until(pub, 0, child, &rc);
		uint64_t t1 = bench_now_ns(), c1 = thread_cpu_ns();

		load_n += n;
		load_ns += t1 - t0;
		load_cpu += c1 - c0;
		n = publish_until(pub, t1 + (t1 - t0), 0, NULL);
		quiet_n += n;
		quiet_ns += bench_now_ns() - t1;
		quiet_cpu += thread_cpu_ns() - c1;
		printf("phase=%ld ms=%.0f loaded_msgs_per_s=%.0f quiet_msgs_per_s=%.0f\n", p,
		       (double)(t1 - t0) / 1e6, rate(load_n, load_ns), rate(quiet_n, quiet_ns));
		fflush(stdout);
	}
	double q = rate(quiet_n, quiet_ns), l = rate(load_n, load_ns);
	double qc = rate(quiet_n, quiet_cpu), lc = rate(load_n, load_cpu);

	printf("subs=%ld load='%s' runs=%ld quiet_msgs_per_s=%.0f loaded_msgs_per_s=%.0f "
	       "loaded_over_quiet=%.4f "
	       "quiet_msgs_per_cpu_s=%.0f loaded_msgs_per_cpu_s=%.0f cpu_loaded_over_quiet=%.4f\n",
	       subs, what, phases * runs_per_phase, q, l, l / q, qc, lc, lc / qc);
	vdds_pub_close(pub);
	if (sub > 0)
		bench_reap(sub, "subscriber");
	bench_remove_rundir(dir);
	return rc;
}
