/* sub_fd.c — the subscriber's pollable fd: an epoll set holding the lane's
 * data eventfd (edge-triggered, never read) and the connection socket
 * (readable only when the publisher hangs up or says BYE), so one fd reports
 * both "data" and "publisher gone"; with the reconnect option, a gone
 * publisher's socket is replaced by what the reconnect waits for
 * (sub_reconnect.c), so the same fd then reports "a new publisher is up".
 * Here too what take and wait do for the fd contract (sub.c calls them off
 * its fast path: an empty ring, max_held reached, a sleep), and what a child
 * of fork() keeps of a subscriber: nothing (fork.h).
 *
 * The subscriber keeps no fd of the data eventfd: once it is in the set, its
 * entry (epitem) lives as long as the file does, and the publisher holds the
 * file until it frees the lane, after it has hung up on us. So a
 * subscription costs two fds, the set and the socket (issue #14). What the
 * eventfd's entry cannot be without our fd is written to by us, nor removed
 * from the set: a reconnect leaves a dead publisher's entry in place until
 * its file goes, and tags it TAG_DATA like the live one (drain ignores both).
 *
 * The fd is level-triggered once the application has asked for it. Two
 * latches make the set readable:
 *  - the data eventfd's entry on the set's ready list, set by the publisher's
 *    write (once per wake generation) and cleared only by an epoll_wait on the
 *    set (edge-triggered: fs/eventpoll.c's ep_send_events does not put it
 *    back), while poll() on the set, nested epoll and io_uring re-poll it and
 *    find the never-read eventfd readable, so leave it there;
 *  - our own: EPOLLOUT added to the socket's level-triggered entry. A
 *    connected socket is writable, so EPOLL_CTL_MOD (ep_modify) queues the
 *    entry and wakes whoever polls the set, and it stays queued (level) until
 *    a MOD without EPOLLOUT, after which the next scan of the ready list
 *    drops it. Writable means: our unread WAKE messages (sub.c) take less than
 *    a quarter of the socket's send buffer (unix_writable); an honest
 *    subscriber sends one per release that met the publisher's watermark, and
 *    the publisher's control side reads them as they come, so that holds; if
 *    it did not, the latch would be late (set when the publisher reads them,
 *    by unix_write_space), never lost.
 * take() keeps the set readable exactly while the ring holds something: when
 * the ring runs empty it clears both latches, arms a fresh generation and
 * looks once more, and sets its own latch if a sample slipped in
 * (vdds__sub_fd_sync). Until then, and for waitsets and vdds_sub_wait(), none
 * of that is paid for. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "internal.h"
#include "proto.h"
#include "rundir.h"
#include "sub_internal.h"

void vdds__sub_learn_fate(struct vdds_sub *s)
{
	union vdds__msg m;
	int fds[1], nfds;

	if (s->gone || s->link.sock < 0)
		return;
	int len = vdds__msg_recv(s->link.sock, &m, fds, 0, &nfds, MSG_DONTWAIT);

	if (len == -EAGAIN)
		return;
	if (len > 0 && vdds__msg_parse(&m, (size_t)len) == VDDS__MSG_BYE)
		s->gone = -m.reject.err;
	else if (len > 0)
		s->gone = -EBADMSG;
	else
		s->gone = -EPIPE;
}

/* Consume every readiness event now pending on our fd; learn of hang-ups. */
void vdds__sub_drain_fd(struct vdds_sub *s, int timeout_ms, int *timed_out)
{
	/* the live eventfd, the socket or directory watch, and room for dead
	 * publishers' eventfd entries not yet gone (see the top) */
	struct epoll_event evs[8];
	/* syscall(), not epoll_wait(): no cancellation-point bookkeeping */
	int n = (int)syscall(SYS_epoll_wait, s->epfd, evs, 8, timeout_ms);

	if (timed_out)
		*timed_out = n == 0;
	for (int i = 0; i < n; i++)
		if (evs[i].data.u32 == TAG_SOCK &&
		    (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			vdds__sub_learn_fate(s); /* not for our own latch's EPOLLOUT */
}

/* Set (on) or clear our own latch: EPOLLOUT on the socket's entry. */
static void latch(struct vdds_sub *s, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0),
				  .data.u32 = TAG_SOCK };

	if (on == s->latched || s->link.sock < 0)
		return;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->link.sock, &ev) == 0)
		s->latched = on;
}

/* The ring looked empty: clear the fd's data latch, arm a fresh generation,
 * and look again. A publish after the look writes the eventfd (it sees the
 * generation); one before it is found by the look, and we set our own latch.
 * Ends with the set readable exactly when something waits, but for a
 * publisher's write for an older generation still in flight, which can set
 * the data latch once more: that costs one empty take, never a missed
 * sample. Our latch costs a system call to set and one to clear, only when a
 * sample slipped in between the two looks. */
void vdds__sub_fd_sync(struct vdds_sub *s)
{
	vdds__sub_drain_fd(s, 0, NULL);
	vdds__subcore_arm(&s->link.core);
	/* full fence: wake_gen store before the ring load; pairs with the
	 * publisher's push, fence, wake_gen load */
	vdds__fence();
	s->synced = vdds__subcore_pending(&s->link.core) == 0;
	/* set: a sample, or the publisher broke the lane */
	latch(s, !s->synced);
}

static int watch(struct vdds_sub *s, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int vdds__sub_watch_link(struct vdds_sub *s)
{
	int err = watch(s, s->link.data_efd, EPOLLIN | EPOLLET, TAG_DATA);

	if (!err)
		err = watch(s, s->link.sock, EPOLLIN | EPOLLRDHUP, TAG_SOCK);
	if (!err) {
		/* the entry stays while the publisher holds the file */
		close(s->link.data_efd);
		s->link.data_efd = -1;
	}
	s->latched = 0;
	return err;
}

int vdds_sub_fd(vdds_sub *s)
{
	if (!s)
		return vdds__detail_setf(-EINVAL, "sub: NULL");
	if (s->fk.forked)
		return -ECHILD;
	if (!s->fd_wanted) {
		/* from now on take() keeps the fd level-triggered; start right */
		s->fd_wanted = 1;
		if (vdds__sub_fd_mode(s) && !s->detached)
			vdds__sub_fd_sync(s);
	}
	return s->epfd;
}

const char *vdds_sub_type_name(vdds_sub *s)
{
	if (!s)
		return NULL;
	if (s->detached)
		return ""; /* no publisher (or forked: none of its memory) */
	/* our checked copy, terminated: the publisher can still write the
	 * name in its segment ("" while reconnecting: the link is zeroed) */
	return s->link.core.hdr.type_name;
}

/* ------------------------------------------- take and wait (sub.c) */

/* Nothing to take: look for the publisher's death, make sure something will
 * wake the caller, and look once more. Returns what take should return. */
int vdds__sub_take_empty(struct vdds_sub *s, struct vdds_sample *sample)
{
	if (s->detached) {
		/* reconnecting (sub_reconnect.c says what wakes the fd), or
		 * forked: handle_gone says which */
	} else if (s->busy_poll) {
		if (++s->idle_polls % BUSY_POLL_SOCKET_CHECK == 0)
			vdds__sub_learn_fate(s);
		if (!s->gone)
			return -EAGAIN;
	} else if (vdds__sub_fd_mode(s)) {
		/* synced: the take that emptied the ring cleared and armed the
		 * fd; a second look would only cost a system call. Once: a stale
		 * wakeup that set the latch since is cleared by the next one. */
		if (s->synced && !s->gone) {
			s->synced = 0;
			return -EAGAIN;
		}
		vdds__sub_fd_sync(s);
		if (!s->synced)
			return vdds_sub_take(s, sample);
	} else if (s->waitsets == 0) {
		/* learn of a hang-up, arm and look again, so that a caller who
		 * asks for the fd later, or waits, finds it right */
		vdds__sub_drain_fd(s, 0, NULL);
		vdds__subcore_arm(&s->link.core);
		/* full fence: as in vdds__sub_fd_sync */
		vdds__fence();
		int err = vdds__sub_take_now(s, sample);

		if (err != -EAGAIN)
			return err;
	}
	int err = vdds__sub_handle_gone(s);

	return err == 0 ? vdds_sub_take(s, sample) : err;
}

/* fd mode, after a take: when that emptied the ring, clear and arm the fd
 * now, so that a caller taking one sample per readiness is not called again
 * for nothing (and needs no -EAGAIN to be woken). */
void vdds__sub_took_in_fd_mode(struct vdds_sub *s)
{
	s->synced = 0;
	if (vdds__subcore_pending(&s->link.core) == 0)
		vdds__sub_fd_sync(s);
}

/* max_held samples are held: nothing can be taken until one is released, so
 * the fd must not call the application for it meanwhile. */
int vdds__sub_take_refused(struct vdds_sub *s)
{
	if (vdds__sub_fd_mode(s) && !s->starved)
		vdds__sub_drain_fd(s, 0, NULL);
	s->starved = 1;
	s->synced = 0;
	return -ENOBUFS;
}

/* fd mode: sleep on the fd without clearing its latch (poll, not
 * epoll_wait), so that it stays readable while a sample waits. */
void vdds__sub_block_on_fd(struct vdds_sub *s, int timeout_ms, int *timed_out)
{
	struct pollfd pfd = { .fd = s->epfd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	*timed_out = n == 0;
	if (n > 0 && !s->detached && vdds__subcore_pending(&s->link.core) == 0)
		s->synced = 0; /* a hang-up, or stale: the next prepare learns which */
}

/* ------------------------------------------------------- for the waitset */

int vdds__sub_prepare(vdds_sub *s)
{
	for (;;) {
		if (!s->detached) {
			int r = vdds__subcore_pending(&s->link.core);

			if (r != 0)
				return r;
			if (!s->gone && vdds__sub_fd_mode(s)) {
				if (!s->synced)
					vdds__sub_fd_sync(s);
				if (!s->gone)
					return !s->synced;
			} else if (!s->gone) {
				vdds__subcore_arm(&s->link.core);
				/* full fence: as in vdds__sub_fd_sync */
				vdds__fence();
				return vdds__subcore_pending(&s->link.core);
			}
		}
		int err = vdds__sub_handle_gone(s);

		if (err != 0)
			return err == -EAGAIN ? 0 : 1; /* gone for good: take says why */
	}
}

void vdds__sub_watched(vdds_sub *s, int delta)
{
	s->waitsets += (uint32_t)delta;
	/* the waitset arms us and never clears our latch: let it go */
	if (delta > 0)
		latch(s, 0);
	/* the last waitset let go: the fd is ours to keep right again */
	if (delta < 0 && vdds__sub_fd_mode(s) && !s->detached)
		vdds__sub_fd_sync(s);
}

int vdds__sub_key(const vdds_sub *s)
{
	return s->epfd;
}

uint32_t vdds__sub_fds(const vdds_sub *s, int *main_fd, int *sock)
{
	/* the set, not the eventfd we no longer hold: a waitset watching the
	 * set is woken by every write to the eventfd (ep_poll_callback wakes
	 * the set's pollers each time, queued or not) and by what the
	 * reconnect waits for (sub_reconnect.c) */
	*main_fd = s->epfd;
	*sock = s->detached ? -1 : s->link.sock;
	return s->fd_gen;
}

void vdds__sub_socket_event(vdds_sub *s)
{
	vdds__sub_learn_fate(s);
}

/* ------------------------------------------------------ fork (fork.h) */

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* In the child: close every descriptor (the socket would otherwise keep
 * our lane, and the publisher waiting on it, for as long as the child
 * lives), and send take/wait/release to their slow paths for good, where
 * they find the handle forked. The mappings were never inherited. */
static void fork_child(struct vdds__forkable *f)
{
	struct vdds_sub *s = (struct vdds_sub *)((char *)f - offsetof(struct vdds_sub, fk));

	close_fd(s->epfd);
	close_fd(s->link.sock);
	close_fd(s->link.data_efd);
	close_fd(s->watch_fd);
	close_fd(s->retry_fd);
	close_fd(s->dial.sock);
	for (struct vdds__sub_link *old = s->retired; old; old = old->next)
		close_fd(old->sock); /* -1: closed when retired; for certainty */
	s->detached = 1;
	s->gone = -ECHILD;
	s->link.sock = -1; /* release() looks here */
}

static const struct vdds__fork_ops fork_ops = { .child = fork_child };

void vdds__sub_fork_add(struct vdds_sub *s)
{
	vdds__fork_add(&s->fk, &fork_ops);
}

void vdds__sub_forget_in_child(struct vdds_sub *s)
{
	vdds__subcore_fini(&s->link.core);
	while (s->retired) {
		struct vdds__sub_link *old = s->retired;

		s->retired = old->next;
		vdds__subcore_fini(&old->core);
		free(old);
	}
	free(s);
}
