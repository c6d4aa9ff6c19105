/* sub_internal.h — the subscriber's private state, defined once, and what
 * sub.c (entry points, data path), sub_fd.c (its pollable fd and take's and
 * wait's part of its contract, the publisher's fate, the waitset's view) and
 * sub_reconnect.c (following the topic to its next publisher without
 * blocking) ask of each other. */
#ifndef VDDS_SUB_INTERNAL_H
#define VDDS_SUB_INTERNAL_H

#include <stdint.h>

#include "fork.h"
#include "subcore.h"
#include "sub_link.h"
#include "vdds.h"

struct vdds__member;

#define BUSY_POLL_SOCKET_CHECK 4096 /* busy pollers look for a hang-up this often */

/* what each entry of the subscriber's epoll set is: the live publisher's
 * data eventfd and socket; while reconnecting, the directory watch, the
 * retry timer and the socket of the handshake under way */
enum { TAG_DATA = 1, TAG_SOCK = 2, TAG_WATCH = 3, TAG_RETRY = 4, TAG_DIAL = 5 };

struct vdds_sub {
	struct vdds__sub_link link;     /* the live one (sock < 0 while reconnecting) */
	struct vdds__sub_link *retired; /* dead publishers' links with samples held */
	struct vdds__sub_target target;
	int epfd;
	/* no live link: reconnecting, or a handle forked into a child; the
	 * data path takes its slow path on this one flag */
	int detached;
	int watch_fd;               /* reconnecting: inotify on the runtime directory */
	int retry_fd;               /* reconnecting: timerfd, to retry or give up a handshake */
	struct vdds__sub_dial dial; /* reconnecting: the handshake under way (sock >= 0) */
	int changed_while_dialling; /* the topic's socket was replaced meanwhile */
	uint32_t retry_ms;          /* the next retry's back-off */
	int gone; /* 0, or -EPIPE / -EBADMSG once the publisher is gone (-ECHILD: forked) */
	int busy_poll, reconnect;
	uint32_t idle_polls, epochs;
	uint32_t fd_gen;   /* +1 whenever the watched fds change */
	uint32_t waitsets; /* waitsets watching us: they arm us themselves */
	int fd_wanted;     /* the application asked for vdds_sub_fd() */
	int synced;        /* vdds__sub_fd_sync found the ring empty; nothing taken since */
	int latched;       /* our own latch is set: EPOLLOUT on the socket's entry */
	uint32_t max_held; /* 0: no limit */
	uint32_t spin_ns;  /* adaptive wait: poll this long before sleeping */
	int starved;       /* take said -ENOBUFS: the fd was cleared for it */
	uint64_t taken_before, lost_before; /* counts of past links */
	struct vdds__member *memberships;   /* in waitsets (waitset.c keeps it) */
	struct vdds__forkable fk;           /* fork.h */
};

/* Is take() keeping the fd level-triggered? Not for busy pollers (they said
 * they spin), nor while a waitset watches the subscriber (it arms us). */
static inline int vdds__sub_fd_mode(const struct vdds_sub *s)
{
	return s->fd_wanted && s->waitsets == 0 && !s->busy_poll;
}

/* The data path's one look at the ring (sub.c, sub_fd.c). */
static inline int vdds__sub_take_now(struct vdds_sub *s, struct vdds_sample *sample)
{
	int err = vdds__subcore_take(&s->link.core, sample);

	if (err == 0)
		sample->epoch = s->link.epoch;
	return err;
}

/* sub_fd.c */
/* take: nothing to take: look for the publisher's death, make sure something
 * will wake the caller, and look once more; what take should return. */
int vdds__sub_take_empty(struct vdds_sub *s, struct vdds_sample *sample);
/* take, in fd mode, took a sample: clear and arm the fd if the ring is empty. */
void vdds__sub_took_in_fd_mode(struct vdds_sub *s);
/* take: max_held reached: keep the fd from calling for it; -ENOBUFS. */
int vdds__sub_take_refused(struct vdds_sub *s);
/* wait, in fd mode: sleep on the fd without clearing its latch. */
void vdds__sub_block_on_fd(struct vdds_sub *s, int timeout_ms, int *timed_out);

/* The publisher's socket is readable: learn whether it hung up or said BYE. */
void vdds__sub_learn_fate(struct vdds_sub *s);
/* Consume every readiness event now pending on our fd (waiting up to
 * timeout_ms for one); learn of hang-ups. */
void vdds__sub_drain_fd(struct vdds_sub *s, int timeout_ms, int *timed_out);
/* The ring looked empty: clear the fd's data latch, arm, look again. */
void vdds__sub_fd_sync(struct vdds_sub *s);
/* Watch the live link's data eventfd and socket in our epoll set, then
 * close our copy of the eventfd (its entry lives as long as the
 * publisher's). */
int vdds__sub_watch_link(struct vdds_sub *s);
/* Register with fork.c (see fork.h). */
void vdds__sub_fork_add(struct vdds_sub *s);
/* Close in a child of fork(): free what is private, nothing else. */
void vdds__sub_forget_in_child(struct vdds_sub *s);

/* sub_reconnect.c */
/* Nothing left from the current publisher: 0 if a new one is connected
 * (look again), or what take/wait should report (-EAGAIN while
 * reconnecting). Never blocks. */
int vdds__sub_handle_gone(struct vdds_sub *s);
/* Close: give up reconnecting, closing what it holds. */
void vdds__sub_reconnect_stop(struct vdds_sub *s);

#endif
