/* sub.c — the subscriber: vdds_sub_* entry points. Its pollable fd is an
 * epoll set holding the lane's data eventfd (edge-triggered, never read) and
 * the connection socket (readable only when the publisher hangs up or says
 * BYE), so one fd reports both "data" and "publisher gone". */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"
#include "rundir.h"
#include "segment.h"
#include "subcore.h"
#include "vdds.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define BUSY_POLL_SOCKET_CHECK 4096 /* busy pollers look for a hang-up this often */

enum { TAG_DATA = 1, TAG_SOCK = 2 };

struct vdds_sub {
	struct vdds__subcore core;
	int sock, data_efd, ret_efd, epfd;
	void *topic_map, *lane_map;
	size_t topic_size, lane_size;
	int gone;            /* 0, or -EPIPE / -EBADMSG once the publisher is gone */
	int busy_poll;
	uint32_t idle_polls;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int is_eventfd(int fd)
{
	char path[64], target[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* The publisher's socket is readable: it hung up, or said BYE first. */
static void learn_fate(struct vdds_sub *s)
{
	union vdds_msg m;
	int fds[1], nfds;
	int len = vdds__msg_recv(s->sock, &m, fds, 0, &nfds, MSG_DONTWAIT);

	if (len == -EAGAIN || s->gone)
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
	struct epoll_event evs[2];
	int n = epoll_wait(s->epfd, evs, 2, timeout_ms);

	if (timed_out)
		*timed_out = n == 0;
	for (int i = 0; i < n; i++)
		if (evs[i].data.u32 == TAG_SOCK)
			learn_fate(s);
}

/* ------------------------------------------------------------- handshake */

static int connect_topic(const char *topic, uint32_t publisher_uid)
{
	char dir[108];
	struct sockaddr_un addr;
	int err = vdds__rundir(dir, sizeof(dir), 0, publisher_uid);

	if (err < 0)
		return err == -EACCES ? err : -ENOENT;
	if ((err = vdds__topic_addr(&addr, dir, topic, ".sock")) < 0)
		return err;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = errno == ECONNREFUSED || errno == ENOENT ? -ENOENT : -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Receive WELCOME or REJECT; on WELCOME take the four descriptors. */
static int await_welcome(struct vdds_sub *s, struct vdds_msg_welcome *w, int fds[])
{
	struct pollfd pfd = { .fd = s->sock, .events = POLLIN };
	union vdds_msg m;
	int nfds, n;

	do
		n = poll(&pfd, 1, HANDSHAKE_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	int len = vdds__msg_recv(s->sock, &m, fds, VDDS_WELCOME_FDS, &nfds, MSG_DONTWAIT);

	if (len <= 0)
		return len == 0 ? -ECONNRESET : len;
	int kind = vdds__msg_parse(&m, (size_t)len);

	if (kind == VDDS_MSG_REJECT && nfds == 0)
		return -m.reject.err;
	if (kind == VDDS_MSG_WELCOME && nfds == VDDS_WELCOME_FDS) {
		*w = m.welcome;
		return 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return kind == -EPROTO ? -EPROTO : -EBADMSG;
}

/* Check and map what WELCOME handed us. Takes ownership of fds. */
static int adopt(struct vdds_sub *s, const struct vdds_msg_welcome *w, int fds[],
		 const struct vdds_sub_opts *o)
{
	int err = -EBADMSG;

	s->data_efd = fds[2];
	s->ret_efd = fds[3];
	if (w->topic_size > (1ull << 46) || w->lane_size > (1ull << 30) ||
	    !is_eventfd(fds[2]) || !is_eventfd(fds[3]))
		goto out;
	s->topic_size = w->topic_size;
	s->lane_size = w->lane_size;
	if ((err = vdds__segment_map_peer(fds[0], s->topic_size, VDDS_SEALS_TOPIC, 0,
					  &s->topic_map)) < 0) {
		s->topic_map = NULL;
		goto out;
	}
	if ((err = vdds__segment_map_peer(fds[1], s->lane_size, VDDS_SEALS_LANE, 1,
					  &s->lane_map)) < 0) {
		s->lane_map = NULL;
		goto out;
	}
	const struct vdds_topic_hdr *t = s->topic_map;
	struct vdds_lane_hdr *l = s->lane_map;

	if ((err = vdds__topic_check(t, s->topic_size)) < 0 ||
	    (err = vdds__lane_check(l, s->lane_size, t->slot_count)) < 0)
		goto out;
	if ((o->type_name && o->type_name[0] && strcmp(o->type_name, t->type_name)) ||
	    (o->type_size && o->type_size != t->type_size)) {
		err = -EPROTO;
		goto out;
	}
	err = vdds__subcore_init(&s->core, t, l);
out:
	/* the mappings keep the memory; the memfds themselves are not needed */
	close(fds[0]);
	close(fds[1]);
	return err;
}

static int make_epoll(struct vdds_sub *s)
{
	struct epoll_event data = { .events = EPOLLIN | EPOLLET, .data.u32 = TAG_DATA };
	struct epoll_event sock = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = TAG_SOCK };

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->data_efd, &data) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sock, &sock) < 0)
		return -errno;
	return 0;
}

void vdds_sub_close(vdds_sub *s)
{
	if (!s)
		return;
	vdds__subcore_fini(&s->core);
	if (s->topic_map)
		munmap(s->topic_map, s->topic_size);
	if (s->lane_map)
		munmap(s->lane_map, s->lane_size);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->data_efd >= 0)
		close(s->data_efd);
	if (s->ret_efd >= 0)
		close(s->ret_efd);
	/* closing the socket is what tells the publisher to reclaim our slots */
	if (s->sock >= 0)
		close(s->sock);
	free(s);
}

int vdds_sub_open(vdds_sub **subp, const char *topic, const struct vdds_sub_opts *opts)
{
	static const struct vdds_sub_opts defaults;
	struct vdds_msg_hello hello;
	struct vdds_msg_welcome w = { 0 };
	int fds[VDDS_WELCOME_FDS];
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
	s->data_efd = s->ret_efd = s->epfd = -1;
	s->busy_poll = opts->busy_poll;
	s->sock = connect_topic(topic, opts->publisher_uid);
	if (s->sock < 0) {
		err = s->sock;
		goto err_close;
	}
	vdds__msg_hello(&hello, opts->type_name, opts->type_size);
	if ((err = vdds__msg_send(s->sock, &hello, sizeof(hello), NULL, 0)) < 0 ||
	    (err = await_welcome(s, &w, fds)) < 0 ||
	    (err = adopt(s, &w, fds, opts)) < 0 ||
	    (err = make_epoll(s)) < 0)
		goto err_close;
	*subp = s;
	return 0;

err_close:
	vdds_sub_close(s);
	return err == -EPIPE || err == -ECONNRESET ? -ENOENT : err;
}

/* ------------------------------------------------------------- data path */

/* Nothing to take: make sure the fd will wake us (the fd contract), and look
 * once more. Returns what take should return. */
static int take_empty(struct vdds_sub *s, struct vdds_sample *sample)
{
	if (s->busy_poll) {
		if (++s->idle_polls % BUSY_POLL_SOCKET_CHECK == 0)
			learn_fate(s);
		return s->gone ? s->gone : -EAGAIN;
	}
	/* clear readiness first, then arm and re-check: a publish after the
	 * clear either lands in the re-check or writes the eventfd anew */
	drain_fd(s, 0, NULL);
	vdds__subcore_arm(&s->core);
	/* full fence: wake_gen store before the ring load; pairs with the
	 * publisher's push, fence, wake_gen load */
	vdds__fence();
	int err = vdds__subcore_take(&s->core, sample);

	if (err == 0)
		vdds__subcore_disarm(&s->core);
	if (err == -EAGAIN && s->gone)
		return s->gone;
	return err;
}

int vdds_sub_take(vdds_sub *s, struct vdds_sample *sample)
{
	if (!s || !sample)
		return -EINVAL;
	int err = vdds__subcore_take(&s->core, sample);

	if (err == 0) {
		vdds__subcore_disarm(&s->core);
		return 0;
	}
	return err == -EAGAIN ? take_empty(s, sample) : err;
}

int vdds_sub_release(vdds_sub *s, const struct vdds_sample *sample)
{
	if (!s || !sample)
		return -EINVAL;
	int wake = vdds__subcore_release(&s->core, sample->slot);

	if (wake > 0) {
		uint64_t one = 1;

		/* EAGAIN only if the counter is saturated: already woken */
		if (write(s->ret_efd, &one, sizeof(one)) < 0) {
		}
	}
	return wake < 0 ? wake : 0;
}

int vdds_sub_wait(vdds_sub *s, int timeout_ms)
{
	if (!s)
		return -EINVAL;
	uint64_t deadline = timeout_ms > 0 ? now_ms() + (uint64_t)timeout_ms : 0;

	for (;;) {
		int r = vdds__subcore_pending(&s->core);

		if (r != 0)
			return r < 0 ? r : 0;
		if (s->gone)
			return s->gone;
		vdds__subcore_arm(&s->core);
		/* full fence: as in take_empty */
		vdds__fence();
		if ((r = vdds__subcore_pending(&s->core)) != 0)
			return r < 0 ? r : 0;
		int ms = timeout_ms;

		if (timeout_ms > 0) {
			uint64_t now = now_ms();

			ms = now >= deadline ? 0 : (int)(deadline - now);
		}
		int timed_out;

		drain_fd(s, ms, &timed_out);
		if (timed_out) {
			r = vdds__subcore_pending(&s->core);
			return r != 0 ? (r < 0 ? r : 0) : -ETIMEDOUT;
		}
	}
}

int vdds_sub_fd(vdds_sub *s)
{
	return s ? s->epfd : -EINVAL;
}

/* ------------------------------------------------------- for the waitset */

int vdds__sub_prepare(vdds_sub *s)
{
	if (vdds__subcore_pending(&s->core) != 0 || s->gone)
		return 1;
	vdds__subcore_arm(&s->core);
	/* full fence: as in take_empty */
	vdds__fence();
	return vdds__subcore_pending(&s->core) != 0;
}

void vdds__sub_fds(const vdds_sub *s, int *data_efd, int *sock)
{
	*data_efd = s->data_efd;
	*sock = s->sock;
}

void vdds__sub_socket_event(vdds_sub *s)
{
	learn_fate(s);
}
