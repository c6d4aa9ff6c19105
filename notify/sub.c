/* sub.c — the subscriber: vdds_sub_* entry points. Its pollable fd is an
 * epoll set holding the lane's data eventfd (edge-triggered, never read) and
 * the connection socket (readable only when the publisher hangs up or says
 * BYE), so one fd reports both "data" and "publisher gone". With the
 * reconnect option, a gone publisher's socket is replaced in that set by an
 * inotify watch on the runtime directory, so the same fd then reports "a new
 * publisher is up".
 *
 * The fd is level-triggered once the application has asked for it: the data
 * eventfd's entry on the set's ready list is a latch that a write sets (the
 * publisher's, once per wake generation, or our own) and only an epoll_wait
 * on the set clears. take() keeps the latch set exactly while the ring holds
 * something: when the ring runs empty it clears the latch, arms a fresh
 * generation and looks once more (fd_sync). Until then, and for waitsets and
 * vdds_sub_wait(), none of that is paid for. */
#include <errno.h>
#include <poll.h>
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
#include "kick.h"
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
	uint32_t fd_gen;                    /* +1 whenever the watched fds change */
	uint32_t waitsets;                  /* waitsets watching us: they arm us themselves */
	int fd_wanted;                      /* the application asked for vdds_sub_fd() */
	int synced;                         /* fd_sync found the ring empty; nothing taken since */
	uint32_t max_held;                  /* 0: no limit */
	uint32_t spin_ns;                   /* adaptive wait: poll this long before sleeping */
	int starved;                        /* take said -ENOBUFS: the fd was cleared for it */
	uint64_t taken_before, lost_before; /* counts of past links */
};

/* Is take() keeping the fd level-triggered? Not for busy pollers (they said
 * they spin), nor while a waitset watches the subscriber (it arms us). */
static inline int fd_mode(const struct vdds_sub *s)
{
	return s->fd_wanted && s->waitsets == 0 && !s->busy_poll;
}

/* The publisher's socket is readable: it hung up, or said BYE first. */
static void learn_fate(struct vdds_sub *s)
{
	union vdds__msg m;
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

/* The ring looked empty: clear the fd's data latch, arm a fresh generation,
 * and look again. A publish after the look writes the eventfd (it sees the
 * generation); one before it is found by the look, and we set the latch
 * ourselves. Ends with the latch set exactly when something waits, but for a
 * publisher's write for an older generation still in flight, which can set
 * it once more: that costs one empty take, never a missed sample. */
static void fd_sync(struct vdds_sub *s)
{
	drain_fd(s, 0, NULL);
	vdds__subcore_arm(&s->link.core);
	/* full fence: wake_gen store before the ring load; pairs with the
	 * publisher's push, fence, wake_gen load */
	vdds__fence();
	s->synced = vdds__subcore_pending(&s->link.core) == 0;
	if (!s->synced)
		vdds__kick(s->link.data_efd); /* a sample, or the publisher broke the lane */
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
	char dir[VDDS_PATH_MAX];
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
	s->taken_before += s->link.core.taken;
	s->lost_before += s->link.core.lost;
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
	s->synced = 0; /* a new lane: the next empty take syncs the fd */
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
	s->target.hello_flags = opts->no_history ? VDDS_HELLO_NO_HISTORY : 0;
	s->max_held = opts->max_held;
	s->spin_ns = opts->spin_ns;
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

/* Nothing to take: look for the publisher's death, make sure something will
 * wake the caller, and look once more. Returns what take should return. */
static __attribute__((noinline)) int take_empty(struct vdds_sub *s, struct vdds_sample *sample)
{
	if (s->watch_fd >= 0) {
		/* reconnecting: the directory watch is what wakes the fd */
	} else if (s->busy_poll) {
		if (++s->idle_polls % BUSY_POLL_SOCKET_CHECK == 0)
			learn_fate(s);
		if (!s->gone)
			return -EAGAIN;
	} else if (fd_mode(s)) {
		/* synced: the take that emptied the ring cleared and armed the
		 * fd; a second look would only cost a system call. Once: a stale
		 * wakeup that set the latch since is cleared by the next one. */
		if (s->synced && !s->gone) {
			s->synced = 0;
			return -EAGAIN;
		}
		fd_sync(s);
		if (!s->synced)
			return vdds_sub_take(s, sample);
	} else if (s->waitsets == 0) {
		/* learn of a hang-up, arm and look again, so that a caller who
		 * asks for the fd later, or waits, finds it right */
		drain_fd(s, 0, NULL);
		vdds__subcore_arm(&s->link.core);
		/* full fence: as in fd_sync */
		vdds__fence();
		int err = take_now(s, sample);

		if (err != -EAGAIN)
			return err;
	}
	int err = handle_gone(s);

	return err == 0 ? vdds_sub_take(s, sample) : err;
}

/* fd mode, after a take: when that emptied the ring, clear and arm the fd
 * now, so that a caller taking one sample per readiness is not called again
 * for nothing (and needs no -EAGAIN to be woken). */
static __attribute__((noinline)) void took_in_fd_mode(struct vdds_sub *s)
{
	s->synced = 0;
	if (vdds__subcore_pending(&s->link.core) == 0)
		fd_sync(s);
}

/* max_held samples are held: nothing can be taken until one is released, so
 * the fd must not call the application for it meanwhile. */
static __attribute__((noinline)) int take_refused(struct vdds_sub *s)
{
	if (fd_mode(s) && !s->starved)
		drain_fd(s, 0, NULL);
	s->starved = 1;
	s->synced = 0;
	return -ENOBUFS;
}

int vdds_sub_take(vdds_sub *s, struct vdds_sample *sample)
{
	if (!s || !sample)
		return -EINVAL;
	if (s->max_held && s->link.core.n_held >= s->max_held && s->watch_fd < 0)
		return take_refused(s);
	if (s->watch_fd < 0) {
		int err = take_now(s, sample);

		if (err == 0 && fd_mode(s))
			took_in_fd_mode(s);
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
	int wake = vdds__subcore_release(&s->link.core, sample->slot, sample->seq);

	if (wake > 0)
		vdds__kick(s->link.ret_efd);
	if (s->starved && wake >= 0) {
		/* room to take again: the fd is readable if something waits */
		s->starved = 0;
		if (fd_mode(s))
			fd_sync(s);
	}
	return wake < 0 ? wake : 0;
}

int vdds_sub_stats(vdds_sub *s, struct vdds_sub_stats *st)
{
	if (!s || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->taken = s->taken_before;
	st->lost = s->lost_before;
	if (s->watch_fd < 0) {
		st->taken += s->link.core.taken;
		st->lost += s->link.core.lost;
		st->held = s->link.core.n_held;
		st->queued = vdds__subcore_queued(&s->link.core);
	}
	for (const struct vdds__sub_link *old = s->retired; old; old = old->next)
		st->held += old->core.n_held;
	return 0;
}

/* fd mode: sleep on the fd without clearing its latch (poll, not
 * epoll_wait), so that it stays readable while a sample waits. */
static void block_on_fd(struct vdds_sub *s, int timeout_ms, int *timed_out)
{
	struct pollfd pfd = { .fd = s->epfd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	*timed_out = n == 0;
	if (n > 0 && s->watch_fd < 0 && vdds__subcore_pending(&s->link.core) == 0)
		s->synced = 0; /* a hang-up, or stale: the next prepare learns which */
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

		if (fd_mode(s))
			block_on_fd(s, ms, &timed_out);
		else
			drain_fd(s, ms, &timed_out);
		if (s->watch_fd < 0 && vdds__subcore_pending(&s->link.core) > 0)
			return 0; /* the usual wakeup: straight back to take() */
		if (timed_out && timeout_ms >= 0)
			return -ETIMEDOUT;
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Adaptive wait: look at the ring for up to spin_ns; 1 if a sample came. The
 * clock is read once per 64 looks. */
static __attribute__((noinline)) int spin_for_sample(struct vdds_sub *s)
{
	uint64_t until = vdds__now_ns() + s->spin_ns;

	do {
		for (int i = 0; i < 64; i++) {
			if (vdds__subcore_pending(&s->link.core) != 0)
				return 1; /* a sample, or a broken lane: take says which */
			cpu_relax();
		}
	} while (vdds__now_ns() < until);
	return 0;
}

int vdds__sub_spin(vdds_sub *s)
{
	return s->spin_ns && s->watch_fd < 0 && !s->gone && spin_for_sample(s);
}

uint32_t vdds__sub_spin_ns(const vdds_sub *s)
{
	return s->spin_ns;
}

int vdds_sub_wait(vdds_sub *s, int timeout_ms)
{
	if (!s)
		return -EINVAL;
	if (s->max_held && s->link.core.n_held >= s->max_held && s->watch_fd < 0)
		return -ENOBUFS;
	/* a sample is already waiting: no arming, no syscall */
	if (s->watch_fd < 0 && vdds__subcore_pending(&s->link.core) > 0)
		return 0;
	if (timeout_ms != 0 && vdds__sub_spin(s) && vdds__subcore_pending(&s->link.core) > 0)
		return 0;
	return wait_slow(s, timeout_ms);
}

int vdds_sub_fd(vdds_sub *s)
{
	if (!s)
		return -EINVAL;
	if (!s->fd_wanted) {
		/* from now on take() keeps the fd level-triggered; start right */
		s->fd_wanted = 1;
		if (fd_mode(s) && s->watch_fd < 0)
			fd_sync(s);
	}
	return s->epfd;
}

const char *vdds_sub_type_name(vdds_sub *s)
{
	if (!s)
		return NULL;
	/* the topic segment is sealed and vdds__topic_check() found the name
	 * NUL-terminated when the link was made: the publisher cannot change it */
	const struct vdds__topic_hdr *topic = s->link.topic_map;

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
			if (!s->gone && fd_mode(s)) {
				if (!s->synced)
					fd_sync(s);
				if (!s->gone)
					return !s->synced;
			} else if (!s->gone) {
				vdds__subcore_arm(&s->link.core);
				/* full fence: as in fd_sync */
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
	/* the last waitset let go: the fd is ours to keep right again */
	if (delta < 0 && fd_mode(s) && s->watch_fd < 0)
		fd_sync(s);
}

int vdds__sub_key(const vdds_sub *s)
{
	return s->epfd;
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
