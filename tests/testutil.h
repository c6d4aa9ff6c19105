/* testutil.h — small helpers shared by the Check suites: a private runtime
 * directory per test, child processes and their exit codes, skipping a test
 * that cannot run here, and a few conveniences (fds, time, randomness). */
#ifndef VDDS_TESTUTIL_H
#define VDDS_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vdds.h"

/* The C++ suites include this too (test_typed_cpp.cpp). */
#ifdef __cplusplus
#include <atomic>
typedef std::atomic<unsigned> tu_atomic_uint;
#define TU_STATIC_ASSERT static_assert
#else
#include <stdatomic.h>
typedef _Atomic unsigned tu_atomic_uint;
#define TU_STATIC_ASSERT _Static_assert
#endif

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

/* How long a test waits for something that should come soon (a subscriber
 * joining, a peer's hang-up being seen): a backstop that turns a hang into a
 * failure, not a timing check, so it is generous. */
#define TU_AWAIT_NS (10ull * 1000000000ull)

/* Wait until pub has exactly n subscribers (the service thread applies joins
 * and hang-ups): 0, -ETIMEDOUT after TU_AWAIT_NS, or what vdds_pub_stats()
 * returned. It asserts nothing, so a child may call it too. */
static inline int tu_await_subscribers(vdds_pub *pub, uint32_t n)
{
	struct vdds_pub_stats st;
	uint64_t t0 = tu_now_ns();
	int err;

	while ((err = vdds_pub_stats(pub, &st)) == 0 && st.subscribers != n) {
		if (tu_now_ns() - t0 > TU_AWAIT_NS)
			return -ETIMEDOUT;
		tu_sleep_us(1000);
	}
	return err;
}

/* Wait until every subscriber is gone and every slot is free again (a
 * hang-up is seen by the control side and applied at the publisher's next
 * call, which vdds_pub_stats is): 0, -ETIMEDOUT, or stats' error. *st holds
 * the last statistics read, for the caller's own checks and messages. */
static inline int tu_await_quiet(vdds_pub *pub, struct vdds_pub_stats *st)
{
	uint64_t t0 = tu_now_ns();
	int err;

	while ((err = vdds_pub_stats(pub, st)) == 0 &&
	       (st->subscribers != 0 || st->free_slots != st->slot_count)) {
		if (tu_now_ns() - t0 > TU_AWAIT_NS)
			return -ETIMEDOUT;
		tu_sleep_us(1000);
	}
	return err;
}

/* A bare connection to topic's socket in $VDDS_DIR, for a test that speaks
 * the handshake itself: the fd, or -errno. */
static inline int tu_raw_connect(const char *topic)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", getenv("VDDS_DIR"), topic);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* xorshift64: cheap randomness for stress tests; *s must not be 0. */
static inline uint64_t tu_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
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
TU_STATIC_ASSERT(sizeof(struct tu_payload) == 64, "payload fills a 64-byte slot");

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
	const struct tu_payload *p = (const struct tu_payload *)s->data;

	if (s->len != sizeof(*p) || p->seq != s->seq || p->end > 1 ||
	    p->check != (tu_mix(p->seq) ^ p->end))
		return 0;
	for (size_t i = 0; i < sizeof(p->fill); i++)
		if (p->fill[i] != (uint8_t)(p->seq * 131 + i))
			return 0;
	return 1;
}

/* ---------------------------------------------------------------- children */

/* How a test's child process ends; its parent asserts the code it expects. A
 * suite's own codes, for one kind of child, start at TU_CHILD_SUITE. */
enum tu_child_exit {
	TU_CHILD_OK = 0,
	TU_CHILD_REPORTED = 1,     /* failed; the reason is in the child's report pipe */
	TU_CHILD_OPEN_FAILED = 10, /* vdds_pub_open() or vdds_sub_open() */
	TU_CHILD_WAIT_FAILED,
	TU_CHILD_TAKE_FAILED,
	TU_CHILD_RELEASE_FAILED,
	TU_CHILD_WRITE_FAILED,  /* publishing */
	TU_CHILD_TIMEOUT,       /* what it awaited did not come */
	TU_CHILD_PIPE_FAILED,   /* talking with its parent */
	TU_CHILD_WRONG_RESULT,  /* a call returned other than the test expects */
	TU_CHILD_SETUP_FAILED,  /* could not become what the test needs (uid, ...) */
	TU_CHILD_GAP = 20,      /* a sequence number skipped or repeated */
	TU_CHILD_BAD_PAYLOAD,   /* a sample's bytes are not what was written */
	TU_CHILD_ORPHANED = 30, /* the test process was gone before the child began */
	TU_CHILD_SUITE = 40,
};

/* fork() for a test: the child is killed when the test process dies, so a
 * failed assertion never leaves one behind. Returns as fork() does. */
static inline pid_t tu_fork_child(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* it died before we asked */
			_exit(TU_CHILD_ORPHANED);
	}
	return pid;
}

/* tu_fork_child(), and the child keeps none of the parent's descriptors but
 * *keep, if given, which it finds as fd 3 (*keep says so). A copy of a
 * publisher's end of a connection would hide the publisher's hang-up from
 * that connection's subscriber. */
static inline pid_t tu_fork_child_keeping(int *keep)
{
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		if (keep && (*keep = dup2(*keep, 3)) != 3)
			_exit(TU_CHILD_SETUP_FAILED);
		close_range(keep ? 4 : 3, ~0u, 0);
	}
	return pid;
}

/* Wait for child pid to end, and assert that it exited with code want. */
static inline void tu_assert_exit(pid_t pid, int want)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == want,
		      "child %d: wait status 0x%x, not exit code %d", (int)pid, status, want);
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

/* ------------------------------------------------------------------- skips
 *
 * A test that cannot run here (it needs root, or something this kernel or
 * sandbox lacks) calls tu_skip("why") and returns; a suite none of whose
 * tests could run checks up front in main() and returns TU_SKIP at once.
 * The suite program then exits TU_SKIP (77, CTest's SKIP_RETURN_CODE) if no
 * test failed: CTest reports the whole program as skipped even when its other
 * tests ran and passed, because "all passed" would claim what was not
 * tested. The output says which: a line "SKIP: <test>: <why>" per skipped
 * test, and a summary of how many ran. A failure outranks a skip.
 *
 * Check runs every test in a forked process, so skips are counted in a page
 * that tu_run_suite() maps shared before the tests fork: the one piece of
 * mutable state here, one per suite program (each is a single file).
 */
#define TU_SKIP 77

static tu_atomic_uint *tu_skips;

/* Record and print that the calling test is skipped, and why; the test then returns. */
#define tu_skip(...) tu_skip_test(__func__, __VA_ARGS__)

static inline void tu_skip_test(const char *fn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void tu_skip_test(const char *fn, const char *fmt, ...)
{
	size_t len = strlen(fn);
	va_list ap;

	/* START_TEST(name) defines name_fn */
	if (len > 3 && strcmp(fn + len - 3, "_fn") == 0)
		len -= 3;
	printf("SKIP: %.*s: ", (int)len, fn);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (tu_skips)
		atomic_fetch_add(tu_skips, 1);
}

/* Run a Check suite; returns the process exit code: EXIT_FAILURE if a test
 * failed, else TU_SKIP if one was skipped, else EXIT_SUCCESS. */
static inline int tu_run_suite(Suite *s)
{
	tu_skips = (tu_atomic_uint *)mmap(NULL, sizeof(*tu_skips), PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tu_skips == MAP_FAILED) {
		perror("mmap");
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int ran = srunner_ntests_run(sr);
	int failed = srunner_ntests_failed(sr);
	unsigned skipped = atomic_load(tu_skips);

	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (skipped) {
		printf("SKIP: %u of %d tests could not run here (see above); %u ran and passed\n",
		       skipped, ran, (unsigned)ran - skipped);
		return TU_SKIP;
	}
	return EXIT_SUCCESS;
}

#endif
