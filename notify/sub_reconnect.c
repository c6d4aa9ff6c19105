/* sub_reconnect.c — a subscriber with the reconnect option following its
 * topic to the next publisher, without ever blocking the caller (issue #26).
 *
 * When the publisher is gone and everything it delivered was taken, the
 * subscriber keeps the dead link only while samples of it are held, and
 * watches the runtime directory (inotify) for the topic's socket to be
 * renamed into place. Then it dials (sub_link.c): a non-blocking connect, a
 * HELLO sent when the socket is writable, the WELCOME read when it is
 * readable. Everything it waits for is an entry of its own epoll set, the fd
 * vdds_sub_fd() returns, so that fd (and a waitset or vdds_sub_wait()
 * sleeping on it) wakes exactly when the reconnect can make progress:
 *  - TAG_WATCH, the directory watch: the topic's socket appeared;
 *  - TAG_DIAL, the handshake's socket: writable for the HELLO, readable for
 *    the answer or the hang-up;
 *  - TAG_RETRY, a timerfd: a publisher whose backlog was full (connect says
 *    EAGAIN, and a Unix socket offers nothing to wait on for room) or that
 *    was busy is tried again after a back-off; a handshake not answered in
 *    HANDSHAKE_MS is given up and tried again the same way.
 * take(), wait() and waitsets advance it with one epoll_wait(0) that finds
 * what is ready, and at most a send or a receive: a publisher that is
 * stopped, stuck or hostile (a full backlog, no answer) costs the subscriber
 * nothing but that publisher's samples, and take() says -EAGAIN meanwhile.
 *
 * The machine reaches the publisher only through vdds__sub_dial_*, so it is
 * the one a subscriber opened before any publisher exists can use as well
 * (issue #21): start with no link and step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rundir.h"
#include "sub_internal.h"

#define RETRY_MIN_MS 50   /* the first retry after a full backlog or a busy publisher */
#define RETRY_MAX_MS 1000 /* the back-off doubles up to this */
#define HANDSHAKE_MS 5000 /* a publisher that has not answered our HELLO by then is given up */
#define EVENTS_PER_LOOK 8 /* our entries, and room for dead publishers' eventfds */

static int watch(struct vdds_sub *s, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void arm_timer(struct vdds_sub *s, uint32_t ms)
{
	struct itimerspec its = { .it_value = { (time_t)(ms / 1000),
						(long)(ms % 1000) * 1000000l } };

	timerfd_settime(s->retry_fd, 0, &its, NULL);
}

/* Try again after the back-off, which doubles each time until a link is made. */
static void retry_later(struct vdds_sub *s)
{
	s->retry_ms = s->retry_ms ? s->retry_ms * 2 : RETRY_MIN_MS;
	if (s->retry_ms > RETRY_MAX_MS)
		s->retry_ms = RETRY_MAX_MS;
	arm_timer(s, s->retry_ms);
}

static void stop_watching(struct vdds_sub *s)
{
	vdds__sub_dial_abort(&s->dial);
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	if (s->retry_fd >= 0)
		close(s->retry_fd);
	s->watch_fd = s->retry_fd = -1;
}

void vdds__sub_reconnect_stop(struct vdds_sub *s)
{
	stop_watching(s);
}

/* Begin waiting for a publisher: the directory watch and the retry timer,
 * in the set. On failure nothing is left. (A subscriber opened before its
 * publisher exists, issue #21, would begin here too, then dial.) */
static int start_watching(struct vdds_sub *s)
{
	char dir[VDDS__PATH_MAX];
	int err = vdds__sub_target_dir(&s->target, dir, sizeof(dir));

	if (err < 0)
		return err;
	s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	s->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->watch_fd < 0 || s->retry_fd < 0) {
		err = -errno;
		goto err_stop;
	}
	/* a publisher renames its socket into place once it listens */
	if (inotify_add_watch(s->watch_fd, dir, IN_MOVED_TO | IN_CREATE) < 0) {
		err = -errno;
		goto err_stop;
	}
	if ((err = watch(s, s->watch_fd, EPOLLIN, TAG_WATCH)) < 0 ||
	    (err = watch(s, s->retry_fd, EPOLLIN, TAG_RETRY)) < 0)
		goto err_stop;
	s->retry_ms = 0;
	return 0;

err_stop:
	/* closing them takes them out of the set too */
	stop_watching(s);
	return err;
}

/* The publisher is gone and everything it delivered was taken: keep its link
 * only while samples of it are held, and watch the directory for the next
 * publisher. Order matters: watch first, then dial, so none is missed. What
 * may fail comes first: on failure nothing has changed (the dead link is
 * still the live one, its hang-up still readable), and the next call tries
 * again. */
static int start_reconnect(struct vdds_sub *s)
{
	struct vdds__sub_link *old = NULL;
	int err;

	if (s->link.core.n_held && !(old = malloc(sizeof(*old))))
		return -ENOMEM;
	if ((err = start_watching(s)) < 0) {
		free(old);
		return err;
	}
	/* the dead publisher's eventfd entry stays until its file goes (see
	 * sub_fd.c): once drained, nothing writes it */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->link.sock, NULL);
	s->latched = 0;
	s->fd_gen++;
	s->taken_before += s->link.core.taken;
	s->lost_before += s->link.core.lost;
	if (old) {
		*old = s->link;
		/* it stays mapped for the held samples; nothing else is needed */
		close(old->sock);
		old->sock = -1;
		old->next = s->retired;
		s->retired = old;
		memset(&s->link, 0, sizeof(s->link));
		s->link.sock = s->link.data_efd = -1;
	} else {
		vdds__sub_link_close(&s->link);
	}
	s->detached = 1;
	s->gone = 0;
	return 0;
}

/* 1 if the directory watch says the topic's socket appeared (or events were
 * lost, so it may have). Reads every queued event. */
static int socket_appeared(struct vdds_sub *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char name[VDDS_TOPIC_MAX + 8];
	ssize_t n;
	int hit = 0;

	snprintf(name, sizeof(name), "%s.sock", s->target.topic);
	while ((n = read(s->watch_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if ((ev->mask & IN_Q_OVERFLOW) || (ev->len && strcmp(ev->name, name) == 0))
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

/* What of ours is ready, consumed: one epoll_wait that does not wait. */
static void look(struct vdds_sub *s, int *appeared, int *timer, int *dial)
{
	struct epoll_event evs[EVENTS_PER_LOOK];
	/* syscall(), not epoll_wait(): no cancellation-point bookkeeping */
	int n = (int)syscall(SYS_epoll_wait, s->epfd, evs, EVENTS_PER_LOOK, 0);

	for (int i = 0; i < n; i++) {
		uint64_t ticks;

		if (evs[i].data.u32 == TAG_WATCH)
			*appeared |= socket_appeared(s);
		else if (evs[i].data.u32 == TAG_RETRY)
			*timer |= read(s->retry_fd, &ticks, sizeof(ticks)) ==
				  (ssize_t)sizeof(ticks);
		else if (evs[i].data.u32 == TAG_DIAL)
			*dial = 1;
	}
}

/* A final answer: a publisher of another type, one that refuses us. */
static int give_up(struct vdds_sub *s, int err)
{
	stop_watching(s);
	s->gone = err;
	return err;
}

/* The handshake succeeded: l is the new live link. */
static int connected(struct vdds_sub *s, struct vdds__sub_link *l)
{
	/* the socket was watched as the dial's; it is watched again as the link's */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->sock, NULL);
	s->link = *l;
	s->link.epoch = ++s->epochs;
	int err = vdds__sub_watch_link(s);

	if (err < 0) {
		vdds__sub_link_close(&s->link);
		return give_up(s, err);
	}
	stop_watching(s);
	s->detached = 0;
	s->fd_gen++;
	s->synced = 0; /* a new lane: the next empty take syncs the fd */
	s->retry_ms = 0;
	return 0;
}

/* Step the handshake under way. */
static int advance(struct vdds_sub *s)
{
	struct vdds__sub_link l;
	int err = vdds__sub_dial_step(&s->dial, &l, &s->target);

	if (err == -EINPROGRESS) {
		struct epoll_event ev = { .events = vdds__sub_dial_events(&s->dial),
					  .data.u32 = TAG_DIAL };

		epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->dial.sock, &ev);
		return -EAGAIN;
	}
	if (err == 0)
		return connected(s, &l);
	/* over, and its socket closed (which took it out of the set) */
	arm_timer(s, 0);
	switch (err) {
	case -ENOENT:
		/* hung up without answering: going away. If the socket was
		 * replaced meanwhile, the next one is tried at once */
		if (s->changed_while_dialling)
			arm_timer(s, 1);
		return -EAGAIN;
	case -EBUSY:  /* too many handshakes pending there: REJECT said so */
	case -EMFILE: /* out of descriptors, here or there */
	case -ENFILE:
	case -ENOMEM: retry_later(s); return -EAGAIN;
	default: return give_up(s, err);
	}
}

/* Start a handshake with whatever listens on the topic's socket now. */
static int dial(struct vdds_sub *s)
{
	int err = vdds__sub_dial_start(&s->dial, &s->target, 1);

	s->changed_while_dialling = 0;
	if (err == -ENOENT)
		return -EAGAIN; /* nobody: the directory watch says when */
	if (err == -EAGAIN || err == -EMFILE || err == -ENFILE) {
		retry_later(s); /* its backlog is full; nothing to wait on */
		return -EAGAIN;
	}
	if (err < 0)
		return give_up(s, err);
	if (watch(s, s->dial.sock, vdds__sub_dial_events(&s->dial), TAG_DIAL) < 0) {
		vdds__sub_dial_abort(&s->dial);
		retry_later(s);
		return -EAGAIN;
	}
	arm_timer(s, HANDSHAKE_MS);
	return advance(s);
}

/* Reconnecting: do what is ready. 0 when connected again, -EAGAIN while not
 * yet, or a final error. force: dial now (the publisher just went). */
static int step(struct vdds_sub *s, int force)
{
	int appeared = 0, timer = 0, ready = 0;

	if (s->gone)
		return s->gone; /* gave up */
	look(s, &appeared, &timer, &ready);
	if (s->dial.sock < 0)
		return appeared || timer || force ? dial(s) : -EAGAIN;
	s->changed_while_dialling |= appeared;
	if (ready) {
		int err = advance(s);

		if (err != -EAGAIN || s->dial.sock < 0)
			return err;
	}
	if (timer) {
		/* no answer in HANDSHAKE_MS: a stopped or stuck publisher */
		vdds__sub_dial_abort(&s->dial);
		retry_later(s);
	}
	return -EAGAIN;
}

int vdds__sub_handle_gone(struct vdds_sub *s)
{
	if (s->fk.forked)
		return -ECHILD;
	if (s->detached)
		return step(s, 0);
	if (!s->gone)
		return -EAGAIN;
	if (!s->reconnect || s->gone != -EPIPE)
		return s->gone;
	int err = start_reconnect(s);

	return err < 0 ? err : step(s, 1);
}
