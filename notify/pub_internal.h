/* pub_internal.h — the publisher's private state, defined once, and what its
 * five files (pub.c, pub_make.c, pub_ctl.c, pub_serve.c, pub_lane.c) ask of
 * each other.
 *
 * Two sides share a publisher. The data path (loan, publish, stats) runs on
 * the application's thread and takes no lock. The control side (accepting,
 * handshaking, WAKEs, hang-ups, cut-offs) runs on the service thread, or in
 * vdds_pub_dispatch() / a blocked loan when there is none. They meet only in
 * the fields marked "under mu" and in the atomic flags below.
 *
 * File descriptors (issue #14): a publisher served by the service thread
 * holds three, its lock file, its topic memfd and its listening socket; the
 * thread's epoll set, eventfd and deadlines serve every publisher of the
 * process (service.h). One serving itself (no_service_thread) also holds the
 * epoll set vdds_pub_fd() returns and a timerfd, which both ticks while
 * handshakes are pending and is how its data path asks for control work.
 * Each subscriber costs the publisher's process two: its socket and its
 * lane's data eventfd.
 *
 * Lock order: the service thread's svc_mu (service.c) before p->mu. The
 * service thread holds svc_mu while it runs control work, which takes p->mu;
 * so nothing may call into service.c while holding p->mu. */
#ifndef VDDS_PUB_INTERNAL_H
#define VDDS_PUB_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fork.h"
#include "pubcore.h"
#include "rundir.h"
#include "service.h"
#include "vdds.h"

struct vdds__member;

/* notify's view of one subscriber's lane: pubcore's part, plus the fds and
 * the lists by which a lane passes between the control side and the data path. */
struct vdds__pub_lane {
	struct vdds__lane_pub core;                    /* first: pubcore hands back &core */
	int data_efd;                                  /* the subscriber sleeps on it */
	int lane_fd;                                   /* the lane memfd, until handed over */
	_Atomic int cut_off;                           /* data path -> control: hang up on it */
	struct vdds__pub_lane *join_next, *leave_next; /* under mu */
	struct vdds__pub_lane *all_next, *all_prev;    /* under mu */
};

static inline struct vdds__pub_lane *vdds__pub_lane_of(struct vdds__lane_pub *lp)
{
	return (struct vdds__pub_lane *)((char *)lp - offsetof(struct vdds__pub_lane, core));
}

/* A connection the control side watches: waiting for HELLO (lane == NULL),
 * or a welcomed subscriber whose WAKEs and hang-up we wait for. */
struct vdds__conn {
	int fd;
	struct vdds_pub *pub;
	vdds__svc_id watch; /* with the service thread */
	pid_t pid;          /* SO_PEERCRED at accept */
	uid_t uid;
	gid_t gid;
	uint64_t deadline_ms; /* until welcomed: when we give up on its HELLO */
	struct vdds__pub_lane *lane;
	struct vdds__conn *next;
};

/* What vdds_pub_stats() would say, for the control side's introspection
 * answer: the data path stores it with relaxed stores where its counters
 * change (nothing is ordered by them: each field is a value of its own, and
 * a reader may see one a call older than another); the control side loads
 * it relaxed. A read costs the data path at most one cache line transfer
 * per introspection request. */
struct vdds__pub_snap {
	_Atomic uint64_t published;
	_Atomic uint64_t wakeups;
	_Atomic uint32_t free_slots, loaned_slots;
};

struct vdds_pub {
	/* data path: the owner thread only */
	struct vdds__pubcore core;
	uint64_t wakeups;
	uint64_t blocked, blocked_ns; /* BLOCK: loans that slept for a slot, how long */
	struct vdds__pub_snap snap;   /* written by the data path only */

	/* made by open, fixed until close */
	struct vdds__topic_hdr *topic;
	size_t topic_size;
	int topic_fd, lock_fd, listen_fd;
	int ctl_epfd; /* no_service_thread only: vdds_pub_fd() */
	int timer_fd; /* no_service_thread only: handshake ticks, cut-off requests */
	uint32_t max_subs;
	int threaded;               /* served by the service thread */
	vdds__svc_id listen_watch;  /* threaded: the listening socket, deadlines, pokes */
	struct vdds__svc_poke poke; /* threaded: data path -> control: lanes to cut off */
	int group_access;
	gid_t group;
	int sock_live;     /* new_path renamed to sock_path */
	uint64_t start_ns; /* CLOCK_REALTIME at open */
	char sock_path[VDDS__PATH_MAX], new_path[VDDS__PATH_MAX], lock_path[VDDS__PATH_MAX];
	int huge_pages;     /* the topic is on huge pages */
	int huge_err;       /* asked for them and fell back: why, -errno */
	char huge_note[64]; /* in words, for vdds_pub_stats */

	/* the waitsets it is in: waitset.c keeps the list, vdds_pub_close
	 * takes it out of each */
	struct vdds__member *memberships;

	/* control side only */
	struct vdds__conn *conns;
	uint32_t handshakes;
	int tick_on;       /* the handshake sweep is scheduled */
	int accept_paused; /* accept4 ran out of fds: retried at the next tick */

	/* control side -> blocked loan: bumped (by the control side only) for
	 * every WAKE and every lane leaving; a loan sleeps on it as a futex
	 * (threaded) while ret_sleeping says so */
	_Atomic uint32_t ret_word;
	_Atomic int ret_sleeping;

	/* shared by both sides, under mu (see the lock order above) */
	pthread_mutex_t mu;
	_Atomic int pending; /* joins or leaves are waiting */
	struct vdds__pub_lane *joins, *leaves, *all;
	/* bit i: lane id i is taken, from the lane's making to its subscriber's
	 * leaving (not to the data path's freeing of it: see pub_lane.c) */
	uint64_t ids_in_use[VDDS__MAX_LANES / 64];
	uint64_t disconnects, kicked;
	char note[VDDS_NOTE_MAX]; /* vdds_pub_set_note, for introspection */

	/* fork.h: registered from open to close; forked in a child */
	struct vdds__forkable fk;
};

/* pub_make.c: build a publisher's resources (its socket not yet visible);
 * make the socket visible under its final name; tear down whatever exists,
 * unregistering from the service thread first, and free p. o: the options
 * with their defaults resolved (vdds_pub_open). */
int vdds__pub_make(struct vdds_pub *p, const char *topic, const struct vdds_pub_opts *o);
int vdds__pub_go_live(struct vdds_pub *p);
void vdds__pub_destroy(struct vdds_pub *p);
/* Register with fork.c: from then on a child of fork() keeps none of its
 * descriptors, and destroy in a child only frees what is private. */
void vdds__pub_fork_add(struct vdds_pub *p);
/* What open made that vdds_pub_stats reports: the huge pages outcome. */
void vdds__pub_made_stats(const struct vdds_pub *p, struct vdds_pub_stats *st);

/* pub_serve.c: how the control side is served. Register with the service
 * thread (threaded), or make the publisher's own epoll set and timer; undo
 * that. */
int vdds__pub_serve_start(struct vdds_pub *p);
void vdds__pub_serve_stop(struct vdds_pub *p);
/* no_service_thread: do pending work without blocking. */
void vdds__pub_control(struct vdds_pub *p);
/* Data path: lanes are marked cut_off: have the control side run. */
void vdds__pub_ask_control(struct vdds_pub *p);
/* Control side: watch a connection, or stop; listen or not (out of fds);
 * schedule the sweep while handshakes are pending or accepting is paused. */
int vdds__pub_watch_conn(struct vdds_pub *p, struct vdds__conn *c);
void vdds__pub_unwatch_conn(struct vdds_pub *p, struct vdds__conn *c);
void vdds__pub_listen_on(struct vdds_pub *p, int on);
void vdds__pub_update_tick(struct vdds_pub *p);

/* pub_ctl.c: the control side's work, run as pub_serve.c says. */
void vdds__pub_accept(struct vdds_pub *p);
void vdds__pub_serve_conn(struct vdds_pub *p, struct vdds__conn *c);
/* Hang up on clients silent too long; listen again if accepting paused. */
void vdds__pub_sweep(struct vdds_pub *p);
void vdds__pub_serve_cut_offs(struct vdds_pub *p);
/* Hang up on every connection (close: subscribers see -EPIPE). */
void vdds__pub_drop_conns(struct vdds_pub *p);

/* pub_lane.c: lane lifetime and the hand-over between the two sides. */
struct vdds__pub_lane *vdds__pub_lane_new(struct vdds_pub *p, int *err);
void vdds__pub_lane_free(struct vdds_pub *p, struct vdds__pub_lane *pl);
/* Control side -> data path: a lane joins; or its subscriber left: its
 * place (id) is free at once, and the lane goes to the data path to give
 * back its slots and be freed, or is freed here if the data path never
 * adopted it. */
void vdds__pub_hand_over(struct vdds_pub *p, struct vdds__pub_lane *pl, int join);
/* Data path: adopt joins, reclaim and free leaves. */
void vdds__pub_apply_control_slow(struct vdds_pub *p);
/* Data path: ask the control side to hang up on lanes pubcore found broken. */
void vdds__pub_cut_off_broken_slow(struct vdds_pub *p);
/* A blocked loan (threaded) sleeps until ret_word moves past seen, or the
 * absolute CLOCK_MONOTONIC time at (NULL: none): 0, or -ETIMEDOUT. The
 * control side, when a slot may have come back or a lane left, wakes it. */
int vdds__pub_loan_sleep(struct vdds_pub *p, uint32_t seen, const struct timespec *at);
void vdds__pub_wake_loan(struct vdds_pub *p);

/* One load when nothing changed: this is on every loan and publish. 0, or
 * -ECHILD in a child of fork(), whose handler left pending set for good so
 * that the data path finds out here, at no cost to the parent. */
static inline int vdds__pub_apply_control(struct vdds_pub *p)
{
	/* acquire: pairs with vdds__pub_hand_over's release */
	if (vdds__load_acquire(&p->pending)) {
		if (p->fk.forked)
			return -ECHILD;
		vdds__pub_apply_control_slow(p);
	}
	return 0;
}

/* Data path: refresh the snapshot after its counters changed. */
static inline void vdds__pub_snapshot(struct vdds_pub *p)
{
	vdds__store_relaxed(&p->snap.published, p->core.seq);
	vdds__store_relaxed(&p->snap.wakeups, p->wakeups);
	vdds__store_relaxed(&p->snap.free_slots, p->core.n_free);
	vdds__store_relaxed(&p->snap.loaned_slots, p->core.n_loaned);
}

static inline void vdds__pub_cut_off_broken(struct vdds_pub *p)
{
	if (p->core.broken)
		vdds__pub_cut_off_broken_slow(p);
}

#endif
