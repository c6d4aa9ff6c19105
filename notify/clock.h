/* clock.h — CLOCK_MONOTONIC time and the deadlines of vdds's timed waits.
 * Deadlines are kept in nanoseconds and what is left is rounded up to whole
 * milliseconds, so that no wait returns before the time it was given. */
#ifndef VDDS_CLOCK_H
#define VDDS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t vdds__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The deadline of a wait of timeout_ms > 0 starting now. */
static inline uint64_t vdds__deadline(int timeout_ms)
{
	return vdds__now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

/* Milliseconds left until deadline, rounded up; 0 once it has passed. */
static inline int vdds__ms_left(uint64_t deadline)
{
	uint64_t now = vdds__now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

#endif
