/* pp_raw.c — raw file-descriptor baselines for the ping-pong: eventfd read,
 * eventfd in epoll (three ways), pipe and Unix datagram socket. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "pingpong.h"

/* One side's view: where it sends, where it waits, and its epoll set. */
struct raw_side {
	int tx, rx, ep;
};

static struct pp_fds *fds_new(void)
{
	struct pp_fds *f = malloc(sizeof(*f));

	if (f == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		f->fd[i] = -1;
	return f;
}

void pp_fds_release(void *shared)
{
	struct pp_fds *f = shared;

	for (int i = 0; i < 4; i++)
		if (f->fd[i] >= 0 && close(f->fd[i]) < 0)
			perror("pingpong: close");
	free(f);
}

/* See struct pp_fds; the socket pair is for epoll-set. */
int pp_efd_prepare(void **shared, const char *prefix)
{
	struct pp_fds *f = fds_new();

	(void)prefix;
	if (f == NULL)
		return -1;
	*shared = f;
	f->fd[0] = eventfd(0, EFD_CLOEXEC);
	f->fd[1] = eventfd(0, EFD_CLOEXEC);
	if (f->fd[0] < 0 || f->fd[1] < 0)
		return pp_fail("eventfd");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->fd + 2) < 0)
		return pp_fail("socketpair");
	return 0;
}

static struct raw_side *side_new(struct pp_side *s, int tx, int rx)
{
	struct raw_side *r = malloc(sizeof(*r));

	if (r == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		return NULL;
	}
	r->tx = tx;
	r->rx = rx;
	r->ep = -1;
	s->st = r;
	return r;
}

static void side_close(struct pp_side *s)
{
	struct raw_side *r = s->st;

	if (r == NULL)
		return;
	if (r->ep >= 0 && close(r->ep) < 0)
		perror("pingpong: close epoll");
	free(r);
	s->st = NULL;
}

static struct raw_side *efd_side(struct pp_side *s)
{
	struct pp_fds *f = s->shared;

	return side_new(s, f->fd[s->is_a ? 0 : 1], f->fd[s->is_a ? 1 : 0]);
}

static int efd_send(struct pp_side *s, uint64_t i)
{
	(void)i;
	return pp_write8(((struct raw_side *)s->st)->tx, 1, "eventfd write");
}

/* --------------------------------------------------------- eventfd read */

static int eventfd_open(struct pp_side *s)
{
	return efd_side(s) ? 0 : -1;
}

static int eventfd_recv(struct pp_side *s, uint64_t i)
{
	uint64_t v;

	(void)i;
	if (pp_read8(((struct raw_side *)s->st)->rx, &v, "eventfd read") < 0)
		return -1;
	if (v != 1) {
		fprintf(stderr, "pingpong: eventfd read %" PRIu64 ", expected 1\n", v);
		return -1;
	}
	return 0;
}

const struct pp_mech pp_eventfd = {
	.name = "eventfd",
	.prepare = pp_efd_prepare,
	.open = eventfd_open,
	.send = efd_send,
	.recv = eventfd_recv,
	.close = side_close,
	.release = pp_fds_release,
};

/* ------------------------------------------------- eventfd in epoll (ET) */

/* Edge-triggered and never read: every write queues one event. This is how
 * vdds watches its data eventfd. */
static int epoll_open(struct pp_side *s)
{
	struct raw_side *r = efd_side(s);

	if (r == NULL || (r->ep = pp_epoll_new()) < 0)
		return -1;
	return pp_epoll_add(r->ep, r->rx, EPOLLIN | EPOLLET, 1);
}

static int epoll_recv(struct pp_side *s, uint64_t i)
{
	(void)i;
	return pp_epoll_wait1(((struct raw_side *)s->st)->ep, "epoll");
}

const struct pp_mech pp_epoll = {
	.name = "epoll",
	.prepare = pp_efd_prepare,
	.open = epoll_open,
	.send = efd_send,
	.recv = epoll_recv,
	.close = side_close,
	.release = pp_fds_release,
};

/* ------------------------------ the set vdds_sub_fd() holds: efd + socket */

/* The same as epoll, plus a connected socket watched for hang-up: exactly
 * the set behind a vdds subscriber's fd, waited on as vdds_sub_wait() does. */
static int epoll_set_open(struct pp_side *s)
{
	struct pp_fds *f = s->shared;

	if (epoll_open(s) < 0)
		return -1;
	return pp_epoll_add(((struct raw_side *)s->st)->ep, f->fd[s->is_a ? 2 : 3],
			    EPOLLIN | EPOLLRDHUP, 2);
}

const struct pp_mech pp_epoll_set = {
	.name = "epoll-set",
	.prepare = pp_efd_prepare,
	.open = epoll_set_open,
	.send = efd_send,
	.recv = epoll_recv,
	.close = side_close,
	.release = pp_fds_release,
};

/* -------------------------------------- eventfd in epoll, read to clear */

/* Level-triggered, cleared by read(): the usual way to put an eventfd in
 * one's own event loop; the counterpart of a vdds fd in the user's epoll. */
static int epoll_read_open(struct pp_side *s)
{
	struct raw_side *r = efd_side(s);

	if (r == NULL || (r->ep = pp_epoll_new()) < 0)
		return -1;
	return pp_epoll_add(r->ep, r->rx, EPOLLIN, 1);
}

static int epoll_read_recv(struct pp_side *s, uint64_t i)
{
	if (epoll_recv(s, i) < 0)
		return -1;
	return eventfd_recv(s, i);
}

const struct pp_mech pp_epoll_read = {
	.name = "epoll-read",
	.prepare = pp_efd_prepare,
	.open = epoll_read_open,
	.send = efd_send,
	.recv = epoll_read_recv,
	.close = side_close,
	.release = pp_fds_release,
};

/* ----------------------------------------------------------------- pipe */

/* fd[0], fd[1]: the ping pipe (read, write ends); fd[2], fd[3]: pong. */
static int pipe_prepare(void **shared, const char *prefix)
{
	struct pp_fds *f = fds_new();

	(void)prefix;
	if (f == NULL)
		return -1;
	*shared = f;
	if (pipe2(f->fd, O_CLOEXEC) < 0 || pipe2(f->fd + 2, O_CLOEXEC) < 0)
		return pp_fail("pipe2");
	return 0;
}

static int pipe_open(struct pp_side *s)
{
	struct pp_fds *f = s->shared;

	return side_new(s, f->fd[s->is_a ? 1 : 3], f->fd[s->is_a ? 2 : 0]) ? 0 : -1;
}

static int pipe_send(struct pp_side *s, uint64_t i)
{
	return pp_write8(((struct raw_side *)s->st)->tx, i, "pipe write");
}

static int pipe_recv(struct pp_side *s, uint64_t i)
{
	uint64_t v;

	if (pp_read8(((struct raw_side *)s->st)->rx, &v, "pipe read") < 0)
		return -1;
	if (v != i) {
		fprintf(stderr, "pingpong: read %" PRIu64 ", expected %" PRIu64 "\n", v, i);
		return -1;
	}
	return 0;
}

const struct pp_mech pp_pipe = {
	.name = "pipe",
	.prepare = pipe_prepare,
	.open = pipe_open,
	.send = pipe_send,
	.recv = pipe_recv,
	.close = side_close,
	.release = pp_fds_release,
};

/* ------------------------------------------------ Unix datagram socket */

static int unix_prepare(void **shared, const char *prefix)
{
	struct pp_fds *f = fds_new();

	(void)prefix;
	if (f == NULL)
		return -1;
	*shared = f;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, f->fd) < 0)
		return pp_fail("socketpair");
	return 0;
}

static int unix_open(struct pp_side *s)
{
	struct pp_fds *f = s->shared;
	int fd = f->fd[s->is_a ? 0 : 1];

	return side_new(s, fd, fd) ? 0 : -1;
}

static int unix_send(struct pp_side *s, uint64_t i)
{
	ssize_t n;

	do
		n = send(((struct raw_side *)s->st)->tx, &i, sizeof(i), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(i))
		return pp_fail("send");
	return 0;
}

static int unix_recv(struct pp_side *s, uint64_t i)
{
	uint64_t v;
	ssize_t n;

	do
		n = recv(((struct raw_side *)s->st)->rx, &v, sizeof(v), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(v))
		return pp_fail("recv");
	if (v != i) {
		fprintf(stderr, "pingpong: recv %" PRIu64 ", expected %" PRIu64 "\n", v, i);
		return -1;
	}
	return 0;
}

const struct pp_mech pp_unix = {
	.name = "unix",
	.prepare = unix_prepare,
	.open = unix_open,
	.send = unix_send,
	.recv = unix_recv,
	.close = side_close,
	.release = pp_fds_release,
};
