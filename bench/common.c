/* common.c — the clock, pinning, parsing, rendezvous, percentiles, runtime
 * directory and child processes shared by the bench programs. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; checked anyway. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		perror("bench: clock_gettime");
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "bench: sched_setaffinity(CPU %d): %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

int bench_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int bench_barrier_sync(const struct barrier *b, const char *what)
{
	char c = 'x';
	ssize_t n;

	do
		n = write(b->wr, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "bench[%d]: barrier '%s': write: %s\n", (int)getpid(), what,
			n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	do
		n = read(b->rd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "bench[%d]: barrier '%s': read: %s\n", (int)getpid(), what,
			n < 0 ? strerror(errno) : "peer went away");
		return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least per_mille/1000 of the
 * samples at or below it. */
static uint64_t percentile(const uint64_t *v, long n, long per_mille)
{
	long rank = (n * per_mille + 999) / 1000;

	return v[(rank < 1 ? 1 : rank) - 1];
}

void bench_print_percentiles(uint64_t *samples, long n)
{
	qsort(samples, (size_t)n, sizeof(*samples), cmp_u64);
	printf(" min=%" PRIu64 " p50=%" PRIu64 " p99=%" PRIu64 " p99.9=%" PRIu64 " max=%" PRIu64,
	       samples[0], percentile(samples, n, 500), percentile(samples, n, 990),
	       percentile(samples, n, 999), samples[n - 1]);
}

int bench_make_rundir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, size, "%s/vdds-bench-XXXXXX", tmp) >= size) {
		fprintf(stderr, "bench: TMPDIR too long\n");
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench: mkdtemp(%s): %s\n", dir, strerror(errno));
		return -1;
	}
	if (setenv("VDDS_DIR", dir, 1) < 0) {
		perror("bench: setenv VDDS_DIR");
		return -1;
	}
	return 0;
}

void bench_remove_rundir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL) {
		fprintf(stderr, "bench: opendir(%s): %s\n", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0)
			fprintf(stderr, "bench: unlink %s/%s: %s\n", dir, e->d_name,
				strerror(errno));
	}
	if (closedir(d) < 0)
		fprintf(stderr, "bench: closedir(%s): %s\n", dir, strerror(errno));
	if (rmdir(dir) < 0)
		fprintf(stderr, "bench: rmdir(%s): %s\n", dir, strerror(errno));
}

int bench_fork(int (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid();
	pid_t pid;

	if (fflush(NULL) == EOF)
		perror("bench: fflush");
	pid = fork();
	if (pid < 0) {
		perror("bench: fork");
		return -1;
	}
	if (pid > 0)
		return (int)pid;
	/* If the parent dies, the child must not wait for it forever. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		perror("bench: prctl(PR_SET_PDEATHSIG)");
		_exit(1);
	}
	if (getppid() != parent)
		_exit(1);
	int rc = fn(arg);

	if (fflush(NULL) == EOF)
		_exit(1);
	_exit(rc == 0 ? 0 : 1);
}

void bench_kill(int pid)
{
	if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
		perror("bench: kill");
}

int bench_reap(int pid, const char *who)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "bench: waitpid(%s): %s\n", who, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "bench: %s killed by signal %d\n", who, WTERMSIG(status));
	else
		fprintf(stderr, "bench: %s exited with %d\n", who, WEXITSTATUS(status));
	return -1;
}
