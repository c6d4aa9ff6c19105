/* sub_fd.c — the subscriber's pollable fd: an epoll set holding the lane's
 * data eventfd (edge-triggered, never read) and the connection socket
 * (readable only when the publisher hangs up or says BYE), so one fd reports
 * both "data" and "publisher gone"; with the reconnect option, a gone
 * publisher's socket is replaced by an inotify watch on the runtime directory,
 * so the same fd then reports "a new publisher is up".
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
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	if (len > 0 && vdds__msg_parse(&m, (size_t)len) == VDDS_MSG_BYE)
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
	/* the dead publisher's eventfd entry stays until its file goes (see
	 * the top): once drained, nothing writes it */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->link.sock, NULL);
	s->latched = 0;
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
		old->sock = -1;
		old->next = s->retired;
		s->retired = old;
		memset(&s->link, 0, sizeof(s->link));
		s->link.sock = s->link.data_efd = -1;
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
	if ((err = vdds__sub_watch_link(s)) < 0) {
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
int vdds__sub_handle_gone(struct vdds_sub *s)
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

int vdds_sub_fd(vdds_sub *s)
{
	if (!s)
		return -EINVAL;
	if (!s->fd_wanted) {
		/* from now on take() keeps the fd level-triggered; start right */
		s->fd_wanted = 1;
		if (vdds__sub_fd_mode(s) && s->watch_fd < 0)
			vdds__sub_fd_sync(s);
	}
	return s->epfd;
}

const char *vdds_sub_type_name(vdds_sub *s)
{
	if (!s)
		return NULL;
	/* our checked copy, terminated: the publisher can still write the
	 * name in its segment ("" while reconnecting: the link is zeroed) */
	return s->link.core.hdr.type_name;
}

/* ------------------------------------------------------- for the waitset */

int vdds__sub_prepare(vdds_sub *s)
{
	for (;;) {
		if (s->watch_fd < 0) {
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
	if (delta < 0 && vdds__sub_fd_mode(s) && s->watch_fd < 0)
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
	 * the set's pollers each time, queued or not) and by the directory
	 * watch while reconnecting */
	*main_fd = s->epfd;
	*sock = s->watch_fd >= 0 ? -1 : s->link.sock;
	return s->fd_gen;
}

void vdds__sub_socket_event(vdds_sub *s)
{
	vdds__sub_learn_fate(s);
}
