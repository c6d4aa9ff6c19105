/* waitset.h — the waitset's members and the two backends behind it (io_uring
 * in waitset_uring.c, epoll in waitset_epoll.c), as a small ops table. */
#ifndef VDDS_WAITSET_H
#define VDDS_WAITSET_H

#include <stdint.h>

#include "fork.h"
#include "vdds.h"

/* Which of a member's fds a readiness report is about. */
enum {
	WATCH_MAIN = 0, /* sub: its epoll set, holding the data eventfd (edge);
			 * pub: control fd; fd: the fd */
	WATCH_SOCK = 1, /* sub only: connection socket */
	WATCH_COUNT = 2
};

struct vdds__member {
	int kind;     /* enum vdds_event_kind */
	int key;      /* the fd it is removed by */
	uint32_t id;  /* never reused: late io_uring completions of a
			       * removed member find nothing */
	void *handle; /* vdds_sub * or vdds_pub *, or NULL */
	void *user;
	int fds[WATCH_COUNT];   /* -1 where unused */
	uint32_t events;        /* what to watch on fds[WATCH_MAIN] */
	uint32_t revents;       /* seen, not yet reported */
	int armed[WATCH_COUNT]; /* io_uring: a poll request is in flight */
	uint32_t fd_gen;        /* sub: vdds__sub_fds() generation being watched */
	/* sub, pub: the waitset it is in, and the handle's next membership (its
	 * list is what closing the handle removes it from: internal.h) */
	vdds_waitset *ws;
	struct vdds__member *handle_next;
};

struct vdds__waitset_ops {
	const char *name;
	/* start watching m's fds; 0 or -errno */
	int (*watch)(vdds_waitset *ws, struct vdds__member *m);
	/* stop watching m's fds; once it returns, the backend holds none of
	 * them (io_uring: when called on the waitset's thread, see there) */
	void (*unwatch)(vdds_waitset *ws, struct vdds__member *m);
	/* block up to timeout_ms (< 0: forever) and report each readiness through
	 * vdds__waitset_fired(); 0, or -ETIMEDOUT/-errno */
	int (*wait)(vdds_waitset *ws, int timeout_ms);
	/* let go of every member's fds, then of the backend's own */
	void (*fini)(vdds_waitset *ws);
	/* in a child of fork(), single-threaded: close the backend's own fds
	 * (async-signal-safe calls only); its ring, if any, was never
	 * inherited (MADV_DONTFORK). The backend's memory is freed later by
	 * vdds_waitset_free(), with free() alone. */
	void (*child)(vdds_waitset *ws);
};

struct vdds_waitset {
	const struct vdds__waitset_ops *ops;
	struct vdds__member **members;
	uint32_t n_members, cap, next_id;
	uint32_t cursor;          /* where the next report starts: fairness */
	uint32_t spun;            /* waits in a row a spin answered without the kernel */
	int reaped;               /* completions were reaped outside a wait (io_uring) */
	void *backend;            /* the backend's own state */
	struct vdds__forkable fk; /* a child of fork() keeps none of it (fork.h) */
};

/* Backends call this for each readiness they saw. */
void vdds__waitset_fired(vdds_waitset *ws, uint32_t id, int which, uint32_t revents);
struct vdds__member *vdds__waitset_find_id(vdds_waitset *ws, uint32_t id);

/* Set up a backend in ws: 0, or -errno (the waitset then tries the other). */
int vdds__waitset_uring_init(vdds_waitset *ws);
int vdds__waitset_epoll_init(vdds_waitset *ws);

#endif
