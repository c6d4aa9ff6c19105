/* testutil.h — small helpers shared by the Check suites: a private runtime
 * directory per test, unique topic names, open-fd counting, time. */
#ifndef VDDS_TESTUTIL_H
#define VDDS_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
