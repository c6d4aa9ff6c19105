/* testutil.h — small helpers shared by the Check suites: a private runtime
 * directory per test, open-fd counting, time, a self-checking payload. */
#ifndef VDDS_TESTUTIL_H
#define VDDS_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vdds.h"

/* Point VDDS_DIR at a fresh 0700 directory, so tests never meet each other's
 * topics. Call at the start of every test (Check forks each test). */
static inline void tu_private_rundir(void)
{
	char tmpl[] = "/tmp/vdds-test-XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(setenv("VDDS_DIR", dir, 1), 0);
}

/* Number of open file descriptors of this process. */
static inline int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the DIR's own fd */
}

static inline uint64_t tu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void tu_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Subscribe, retrying while the publisher (another process) is not up yet. */
static inline int tu_sub_open_retry(vdds_sub **sub, const char *topic,
				    const struct vdds_sub_opts *opts)
{
	int err;

	for (int i = 0; i < 2000; i++) {
		err = vdds_sub_open(sub, topic, opts);
		if (err != -ENOENT)
			return err;
		tu_sleep_us(5000);
	}
	return err;
}

/* What a stress test's sample carries: its sequence number, an end mark, and
 * bytes derived from both, so that a torn or stale slot shows. Fills a 64-byte
 * slot; tu_payload_ok() checks one against the sample's own seq. */
struct tu_payload {
	uint64_t seq;
	uint64_t end;
	uint8_t fill[40];
	uint64_t check;
};
_Static_assert(sizeof(struct tu_payload) == 64, "payload fills a 64-byte slot");

static inline uint64_t tu_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static inline void tu_payload_fill(struct tu_payload *p, uint64_t seq, int end)
{
	p->seq = seq;
	p->end = (uint64_t)end;
	for (size_t i = 0; i < sizeof(p->fill); i++)
		p->fill[i] = (uint8_t)(seq * 131 + i);
	p->check = tu_mix(seq) ^ p->end;
}

static inline int tu_payload_ok(const struct vdds_sample *s)
{
	const struct tu_payload *p = s->data;

	if (s->len != sizeof(*p) || p->seq != s->seq || p->end > 1 ||
	    p->check != (tu_mix(p->seq) ^ p->end))
		return 0;
	for (size_t i = 0; i < sizeof(p->fill); i++)
		if (p->fill[i] != (uint8_t)(p->seq * 131 + i))
			return 0;
	return 1;
}

/* Reap a child that should end by itself within timeout_ns: its wait status,
 * or -1 if it did not (it is then killed and reaped). */
static inline int tu_reap_within(pid_t pid, uint64_t timeout_ns)
{
	uint64_t t0 = tu_now_ns();
	int status;

	while (tu_now_ns() - t0 < timeout_ns) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ge(r, 0);
		if (r == pid)
			return status;
		tu_sleep_us(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Run a Check suite in the usual way; returns the process exit code. */
static inline int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
