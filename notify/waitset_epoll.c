/* waitset_epoll.c — the waitset's epoll backend, for where io_uring is not
 * allowed. A subscriber's epoll set (vdds__sub_fds: it holds the data
 * eventfd) is watched edge-triggered and never waited on here; everything
 * else level-triggered. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "waitset.h"

#define MAX_EVENTS 64

struct epoll_backend {
	int epfd;
};

static uint64_t tag(const struct vdds__member *m, int which)
{
	return (uint64_t)m->id << 1 | (uint64_t)which;
}

static int ep_watch(vdds_waitset *ws, struct vdds__member *m)
{
	struct epoll_backend *b = ws->backend;

	for (int w = 0; w < WATCH_COUNT; w++) {
		if (m->fds[w] < 0)
			continue;
		uint32_t events = m->events;

		if (m->kind == VDDS_EVENT_SUB)
			events = w == WATCH_MAIN ? EPOLLIN | EPOLLET : EPOLLIN | EPOLLRDHUP;
		struct epoll_event ev = { .events = events, .data.u64 = tag(m, w) };

		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, m->fds[w], &ev) < 0) {
			int err = -errno;

			if (w == WATCH_SOCK)
				epoll_ctl(b->epfd, EPOLL_CTL_DEL, m->fds[WATCH_MAIN], NULL);
			return err;
		}
	}
	return 0;
}

static void ep_unwatch(vdds_waitset *ws, struct vdds__member *m)
{
	struct epoll_backend *b = ws->backend;

	for (int w = 0; w < WATCH_COUNT; w++)
		if (m->fds[w] >= 0)
			epoll_ctl(b->epfd, EPOLL_CTL_DEL, m->fds[w], NULL);
}

static int ep_wait(vdds_waitset *ws, int timeout_ms)
{
	struct epoll_backend *b = ws->backend;
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(b->epfd, evs, MAX_EVENTS, timeout_ms);

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		vdds__waitset_fired(ws, (uint32_t)(evs[i].data.u64 >> 1),
				    (int)(evs[i].data.u64 & 1), evs[i].events);
	return n == 0 ? -ETIMEDOUT : 0;
}

static void ep_fini(vdds_waitset *ws)
{
	struct epoll_backend *b = ws->backend;

	close(b->epfd);
	free(b);
}

static void ep_child(vdds_waitset *ws)
{
	struct epoll_backend *b = ws->backend;

	close(b->epfd);
	b->epfd = -1;
}

static const struct vdds__waitset_ops epoll_ops = {
	.name = "epoll",
	.watch = ep_watch,
	.unwatch = ep_unwatch,
	.wait = ep_wait,
	.fini = ep_fini,
	.child = ep_child,
};

int vdds__waitset_epoll_init(vdds_waitset *ws)
{
	struct epoll_backend *b = malloc(sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0) {
		int err = -errno;

		free(b);
		return err;
	}
	ws->backend = b;
	ws->ops = &epoll_ops;
	return 0;
}
