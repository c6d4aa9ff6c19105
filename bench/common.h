/* common.h — what every bench program shares: the clock, CPU pinning,
 * argument parsing, the start/stop rendezvous, percentiles, a runtime dir. */
#ifndef VDDS_BENCH_COMMON_H
#define VDDS_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes of each payload the benchmarks write and read: the first cache line.
 * The transport under test must not care how big the rest is. */
#define BENCH_TOUCH 64

/* Write a message's first cache line (counter i, repeated) in a few stores;
 * for payloads under a line, the counter only. The bench's own share of the
 * instruction counts stays small this way. */
static inline void bench_fill_line(void *buf, uint64_t i, size_t len)
{
	_Static_assert(BENCH_TOUCH == 8 * sizeof(uint64_t), "eight words");
	if (len >= BENCH_TOUCH) {
		uint64_t line[8] = { i, i, i, i, i, i, i, i };

		memcpy(buf, line, sizeof(line));
	} else {
		memcpy(buf, &i, sizeof(i));
	}
}

/* Two pipes that order start-up and shut-down between two processes. */
struct barrier {
	int rd;
	int wr;
};

uint64_t bench_now_ns(void);
void bench_sleep_ns(long ns);
int bench_pin_cpu(int cpu);
int bench_parse_long(const char *s, long min, long max, long *out);

/* Rendezvous: tell the peer we got here, then wait until it has too. */
int bench_barrier_sync(const struct barrier *b, const char *what);

/* Sort samples[0..n) and print " min= p50= p99= p99.9= max=" to stdout. */
void bench_print_percentiles(uint64_t *samples, long n);

/* A fresh private directory for VDDS_DIR, and its removal (with the sockets
 * and lock files vdds leaves in it). */
int bench_make_rundir(char *dir, size_t size);
void bench_remove_rundir(const char *dir);

/* Fork a child that dies with its parent; the child runs fn(arg) and exits
 * with 0 if it returned 0. Returns the child's pid or -1. */
int bench_fork(int (*fn)(void *arg), void *arg);

/* SIGKILL a child that may already be gone. */
void bench_kill(int pid);

/* Wait for a child; 0 if it exited with 0. */
int bench_reap(int pid, const char *who);

#endif
