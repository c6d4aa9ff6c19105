/* sub.c — the subscriber: vdds_sub_* entry points. Its pollable fd is an
 * epoll set holding the lane's data eventfd (edge-triggered, never read) and
 * the connection socket (readable only when the publisher hangs up or says
 * BYE), so one fd reports both "data" and "publisher gone". With the
 * reconnect option, a gone publisher's socket is replaced in that set by an
 * inotify watch on the runtime directory, so the same fd then reports "a new
 * publisher is up". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "internal.h"
#include "proto.h"
#include "rundir.h"
#include "sub_link.h"
#include "vdds.h"

#define BUSY_POLL_SOCKET_CHECK 4096 /* busy pollers look for a hang-up this often */

enum { TAG_DATA = 1, TAG_SOCK = 2, TAG_WATCH = 3 };

struct vdds_sub {
	struct vdds__sub_link link;     /* the live one (sock < 0 while reconnecting) */
	struct vdds__sub_link *retired; /* dead publishers' links with samples held */
	struct vdds__sub_target target;
	int epfd;
	int watch_fd; /* reconnecting: inotify on the runtime directory */
	int gone;     /* 0, or -EPIPE / -EBADMSG once the publisher is gone */
	int busy_poll, reconnect;
	uint32_t idle_polls, epochs;
	uint32_t fd_gen;   /* +1 whenever the watched fds change */
	uint32_t waitsets; /* waitsets watching us: they arm us themselves */
};

/* The publisher's socket is readable: it hung up, or said BYE first. */
static void learn_fate(struct vdds_sub *s)
{
	union vdds_msg m;
	int fds[1], nfds;

	if (s->gone || s->link.sock < 0)
		return;
	int len = vdds__msg_recv(s->link.sock, &m, fds, 0, &nfds, MSG_DONTWAIT);

	if (len == -EAGAIN)
		return;
	if (len > 0 && vdds__msg_parse(&m, (size_t)len) == VDDS_MSG_BYE)
		s->gone = -m.reject.err;
	else if (len > 0)
		s->gone = -EBADMSG;
	else
		s->gone = -EPIPE;
}

/* Consume every readiness event now pending on our fd; learn of hang-ups. */
static void drain_fd(struct vdds_sub *s, int timeout_ms, int *timed_out)
{
	struct epoll_event evs[3];
	/* syscall(), not epoll_wait(): no cancellation-point bookkeeping */
	int n = (int)syscall(SYS_epoll_wait, s->epfd, evs, 3, timeout_ms);

	if (timed_out)
		*timed_out = n == 0;
	for (int i = 0; i < n; i++)
		if (evs[i].data.u32 == TAG_SOCK)
			learn_fate(s);
}

static int watch(struct vdds_sub *s, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int watch_link(struct vdds_sub *s)
{
	int err = watch(s, s->link.data_efd, EPOLLIN | EPOLLET, TAG_DATA);

	return err ? err : watch(s, s->link.sock, EPOLLIN | EPOLLRDHUP, TAG_SOCK);
}

/* ------------------------------------------------------------- reconnect */

/* The publisher is gone and everything it delivered was taken: keep its link
 * only while samples of it are held, and watch the directory for the next
 * publisher. Order matters: watch first, then try, so none is missed. */
static int start_reconnect(struct vdds_sub *s)
{
	char dir[108];
	int err = vdds__sub_target_dir(&s->target, dir, sizeof(dir));

	if (err < 0)
		return err;
	s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->watch_fd < 0)
		return -errno;
	/* a publisher renames its socket into place once it listens */
	if (inotify_add_watch(s->watch_fd, dir, IN_MOVED_TO | IN_CREATE) < 0 ||
	    (err = watch(s, s->watch_fd, EPOLLIN, TAG_WATCH)) < 0) {
		err = err ? err : -errno;
		close(s->watch_fd);
		s->watch_fd = -1;
		return err;
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->link.data_efd, NULL);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->link.sock, NULL);
	s->fd_gen++;
	if (s->link.core.n_held) {
		struct vdds__sub_link *old = malloc(sizeof(*old));

		if (!old)
			return -ENOMEM;
		*old = s->link;
		/* it stays mapped for the held samples; nothing else is needed */
		close(old->sock);
		close(old->data_efd);
		close(old->ret_efd);
		old->sock = old->data_efd = old->ret_efd = -1;
		old->next = s->retired;
		s->retired = old;
		memset(&s->link, 0, sizeof(s->link));
		s->link.sock = s->link.data_efd = s->link.ret_efd = -1;
	} else {
		vdds__sub_link_close(&s->link);
	}
	s->gone = 0;
	return 0;
}

/* Reconnecting: if the directory changed, try the new publisher. 0 when
 * connected again, -EAGAIN while there is none, or a final error. */
static int try_reconnect(struct vdds_sub *s, int force)
{
	char buf[4096];
	int changed = 0;

	while (read(s->watch_fd, buf, sizeof(buf)) > 0)
		changed = 1;
	if (!changed && !force)
		return -EAGAIN;
	struct vdds__sub_link l;
	int err = vdds__sub_link_open(&l, &s->target);

	if (err == -ENOENT)
		return -EAGAIN;
	if (err < 0) {
		s->gone = err; /* say, a new publisher of another type: final */
		return err;
	}
	s->link = l;
	s->link.epoch = ++s->epochs;
	if ((err = watch_link(s)) < 0) {
		s->gone = err;
		return err;
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->watch_fd, NULL);
	close(s->watch_fd);
	s->watch_fd = -1;
	s->fd_gen++;
	return 0;
}

/* Nothing left from the current publisher. Returns 0 if a new one is
 * connected (look again), or what take/wait should report. */
static int handle_gone(struct vdds_sub *s)
{
	if (s->watch_fd >= 0)
		return try_reconnect(s, 0);
	if (!s->gone)
		return -EAGAIN;
	if (!s->reconnect || s->gone != -EPIPE)
		return s->gone;
	int err = start_reconnect(s);

	return err < 0 ? err : try_reconnect(s, 1);
}

/* -------------------------------------------------------------- lifetime */

void vdds_sub_close(vdds_sub *s)
{
	if (!s)
		return;
	vdds__sub_link_close(&s->link);
	while (s->retired) {
		struct vdds__sub_link *old = s->retired;

		s->retired = old->next;
		vdds__sub_link_close(old);
		free(old);
	}
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}

int vdds_sub_open(vdds_sub **subp, const char *topic, const struct vdds_sub_opts *opts)
{
	static const struct vdds_sub_opts defaults;
	int err;

	if (!subp || vdds__topic_valid(topic) < 0)
		return -EINVAL;
	*subp = NULL;
	opts = opts ? opts : &defaults;
	if (opts->type_name && strlen(opts->type_name) > VDDS_TYPE_NAME_MAX)
		return -EINVAL;
	struct vdds_sub *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->link.sock = s->link.data_efd = s->link.ret_efd = -1;
	s->epfd = s->watch_fd = -1;
	s->busy_poll = opts->busy_poll;
	s->reconnect = opts->reconnect;
	snprintf(s->target.topic, sizeof(s->target.topic), "%s", topic);
	if (opts->type_name)
		snprintf(s->target.type_name, sizeof(s->target.type_name), "%s", opts->type_name);
	s->target.type_size = opts->type_size;
	s->target.publisher_uid = opts->publisher_uid;
	if ((err = vdds__sub_link_open(&s->link, &s->target)) < 0)
		goto err_close;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		err = -errno;
		goto err_close;
	}
	if ((err = watch_link(s)) < 0)
		goto err_close;
	*subp = s;
	return 0;

err_close:
	vdds_sub_close(s);
	return err;
}

/* ------------------------------------------------------------- data path */

static inline int take_now(struct vdds_sub *s, struct vdds_sample *sample)
{
	int err = vdds__subcore_take(&s->link.core, sample);

	if (err == 0)
		sample->epoch = s->link.epoch;
	return err;
}

/* Nothing to take: make sure the fd will wake us (the fd contract), and look
 * once more. Returns what take should return. */
static __attribute__((noinline)) int take_empty(struct vdds_sub *s, struct vdds_sample *sample)
{
	/* in a waitset, the waitset arms us before it sleeps and watches our
	 * socket: the fd contract of vdds_sub_fd() is not needed, nor its cost */
	int own_fd = s->waitsets == 0 && !s->busy_poll;

	if (s->busy_poll && s->watch_fd < 0) {
		if (++s->idle_polls % BUSY_POLL_SOCKET_CHECK == 0)
			learn_fate(s);
		if (!s->gone)
			return -EAGAIN;
	} else if (own_fd) {
		/* clear readiness first, then arm and re-check: a publish after
		 * the clear either lands in the re-check or writes the eventfd */
		drain_fd(s, 0, NULL);
	}
	if (s->watch_fd < 0 && own_fd) {
		vdds__subcore_arm(&s->link.core);
		/* full fence: wake_gen store before the ring load; pairs with the
		 * publisher's push, fence, wake_gen load */
		vdds__fence();
		int err = take_now(s, sample);

		if (err != -EAGAIN)
			return err;
	}
	int err = handle_gone(s);

	return err == 0 ? vdds_sub_take(s, sample) : err;
}

int vdds_sub_take(vdds_sub *s, struct vdds_sample *sample)
{
	if (!s || !sample)
		return -EINVAL;
	if (s->watch_fd < 0) {
		int err = take_now(s, sample);

		if (err != -EAGAIN)
			return err;
	}
	return take_empty(s, sample);
}

/* A sample of a publisher that has since gone: just forget it, and unmap that
 * publisher's memory with its last sample. */
static int release_retired(struct vdds_sub *s, const struct vdds_sample *sample)
{
	for (struct vdds__sub_link **pl = &s->retired; *pl; pl = &(*pl)->next) {
		struct vdds__sub_link *old = *pl;

		if (old->epoch != sample->epoch)
			continue;
		if (vdds__subcore_forget(&old->core, sample->slot) < 0)
			return -EINVAL;
		if (old->core.n_held == 0) {
			*pl = old->next;
			vdds__sub_link_close(old);
			free(old);
		}
		return 0;
	}
	return -EINVAL;
}

int vdds_sub_release(vdds_sub *s, const struct vdds_sample *sample)
{
	if (!s || !sample)
		return -EINVAL;
	if (sample->epoch != s->link.epoch || s->link.sock < 0)
		return release_retired(s, sample);
	int wake = vdds__subcore_release(&s->link.core, sample->slot);

	if (wake > 0) {
		uint64_t one = 1;

		/* EAGAIN only if the counter is saturated: already woken */
		syscall(SYS_write, s->link.ret_efd, &one, sizeof(one));
	}
	return wake < 0 ? wake : 0;
}

static __attribute__((noinline)) int wait_slow(struct vdds_sub *s, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;

	for (;;) {
		int r = vdds__sub_prepare(s);

		if (r < 0)
			return r;
		if (r > 0) {
			/* ready: a sample, or the publisher gone with nothing left */
			if (s->gone && vdds__subcore_pending(&s->link.core) == 0)
				return s->gone;
			return 0;
		}
		int ms = timeout_ms;

		if (timeout_ms > 0)
			ms = vdds__ms_left(deadline);
		int timed_out;

		drain_fd(s, ms, &timed_out);
		if (s->watch_fd < 0 && vdds__subcore_pending(&s->link.core) > 0)
			return 0; /* the usual wakeup: straight back to take() */
		if (timed_out && timeout_ms >= 0)
			return -ETIMEDOUT;
	}
}

int vdds_sub_wait(vdds_sub *s, int timeout_ms)
{
	if (!s)
		return -EINVAL;
	/* a sample is already waiting: no arming, no syscall */
	if (s->watch_fd < 0 && vdds__subcore_pending(&s->link.core) > 0)
		return 0;
	return wait_slow(s, timeout_ms);
}

int vdds_sub_fd(vdds_sub *s)
{
	return s ? s->epfd : -EINVAL;
}

const char *vdds_sub_type_name(vdds_sub *s)
{
	if (!s)
		return NULL;
	/* the topic segment is sealed and vdds__topic_check() found the name
	 * NUL-terminated when the link was made: the publisher cannot change it */
	const struct vdds_topic_hdr *topic = s->link.topic_map;

	return topic ? topic->type_name : "";
}

/* ------------------------------------------------------- for the waitset */

int vdds__sub_prepare(vdds_sub *s)
{
	for (;;) {
		if (s->watch_fd < 0) {
			int r = vdds__subcore_pending(&s->link.core);

			if (r != 0)
				return r;
			if (!s->gone) {
				vdds__subcore_arm(&s->link.core);
				/* full fence: as in take_empty */
				vdds__fence();
				return vdds__subcore_pending(&s->link.core);
			}
		}
		int err = handle_gone(s);

		if (err != 0)
			return err == -EAGAIN ? 0 : 1; /* gone for good: take says why */
	}
}

void vdds__sub_watched(vdds_sub *s, int delta)
{
	s->waitsets += (uint32_t)delta;
}

uint32_t vdds__sub_fds(const vdds_sub *s, int *main_fd, int *sock)
{
	*main_fd = s->watch_fd >= 0 ? s->watch_fd : s->link.data_efd;
	*sock = s->watch_fd >= 0 ? -1 : s->link.sock;
	return s->fd_gen;
}

void vdds__sub_socket_event(vdds_sub *s)
{
	learn_fate(s);
}
