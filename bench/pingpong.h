/* pingpong.h — the interface between the ping-pong driver (pingpong.c) and
 * the mechanisms it measures (pp_raw.c, pp_other.c, pp_vdds.c, and pp_iox.c
 * when built with iceoryx). */
#ifndef VDDS_BENCH_PINGPONG_H
#define VDDS_BENCH_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define PP_CROSS_ONLY 1u /* spins: on one CPU each wait costs a scheduler tick */
#define PP_PAYLOAD 2u    /* carries a payload (--payload applies) */
/* Each side leaves through exit(), not _exit(): the mechanism's library
 * cleans up in exit handlers (iceoryx deregisters from RouDi, which would
 * otherwise later try to kill a process long gone). They get 10 s. */
#define PP_EXIT_HANDLERS 4u

struct pp_mech;

struct pp_config {
	const struct pp_mech *mech;
	long iters;
	long warmup;
	int cross;      /* 0: both on CPU 0; 1: A on CPU 0, B on CPU 1 */
	size_t payload; /* bytes per message, PP_PAYLOAD mechanisms only */
};

/* One side of a run. A sends the ping and times the round trip; B echoes. */
struct pp_side {
	const struct pp_config *cfg;
	int is_a;
	const struct barrier *b; /* for mechanisms that must meet mid-open */
	const char *prefix;      /* unique per run: for names (topics, semaphores) */
	void *shared;            /* what prepare() made, inherited over fork */
	void *st;                /* what open() made, this side's own */
};

struct pp_mech {
	const char *name;
	unsigned flags;
	/* In the parent, before fork: what both sides inherit. May be NULL. */
	int (*prepare)(void **shared, const char *prefix);
	/* In each side, after fork and pinning. */
	int (*open)(struct pp_side *s);
	/* Message number i: send it to the peer / wait for it from the peer. */
	int (*send)(struct pp_side *s, uint64_t i);
	int (*recv)(struct pp_side *s, uint64_t i);
	void (*close)(struct pp_side *s);
	/* In the parent, after both sides ended. May be NULL. */
	void (*release)(void *shared);
};

extern const struct pp_mech pp_eventfd, pp_epoll, pp_epoll_set, pp_epoll_read, pp_pipe, pp_unix;
extern const struct pp_mech pp_uring_poll, pp_spin, pp_sem;
extern const struct pp_mech pp_vdds_wait, pp_vdds_epoll, pp_vdds_ws_uring, pp_vdds_ws_epoll,
	pp_vdds_spin;
#ifdef VDDS_BENCH_IOX
extern const struct pp_mech pp_iox_ws, pp_iox_spin;
#endif

/* Made before fork by the eventfd-based mechanisms (pp_raw.c): fd[0] the
 * ping eventfd (A -> B), fd[1] the pong eventfd (B -> A), fd[2] and fd[3] a
 * connected socket pair that stays silent. */
struct pp_fds {
	int fd[4];
};
int pp_efd_prepare(void **shared, const char *prefix);
void pp_fds_release(void *shared);

/* Small helpers the mechanisms share (pingpong.c). */
int pp_write8(int fd, uint64_t v, const char *what);
int pp_read8(int fd, uint64_t *v, const char *what);
int pp_epoll_new(void);
int pp_epoll_add(int ep, int fd, uint32_t events, uint64_t data);
int pp_epoll_wait1(int ep, const char *what);
int pp_fail(const char *what);

#endif
