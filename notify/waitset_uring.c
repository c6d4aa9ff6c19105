/* waitset_uring.c — the waitset's io_uring backend. A subscriber's epoll set
 * (vdds__sub_fds: it holds the data eventfd) gets a multishot poll (armed once, one completion per wakeup); plain fds and
 * publishers get a one-shot poll re-armed before each wait, which makes them
 * level-triggered; a subscriber's socket gets one poll, as its hang-up is
 * final. All (re)arming is batched into the submit that also waits. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "waitset.h"

#define RING_ENTRIES 256
#define TAG_REMOVE 3 /* completions of our own poll-remove requests */

struct uring_backend {
	struct io_uring ring;
	int enabled; /* created disabled, so that SINGLE_ISSUER binds the ring
		      * to the thread that first waits, not the one that created it */
};

static uint64_t tag(const struct vdds__member *m, int which)
{
	return (uint64_t)m->id << 2 | (uint64_t)which;
}

static int multishot(const struct vdds__member *m, int which)
{
	return m->kind == VDDS_EVENT_SUB && which == WATCH_MAIN;
}

static int enable(struct uring_backend *b)
{
	if (!b->enabled) {
		/* liburing 2.3 declares io_uring_enable_rings() but does not
		 * export it: register the opcode directly */
		if (syscall(__NR_io_uring_register, b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			    NULL, 0) < 0)
			return -errno;
		b->enabled = 1;
	}
	return 0;
}

/* An SQE, submitting what is queued if the ring is full. */
static struct io_uring_sqe *get_sqe(struct uring_backend *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe && enable(b) == 0 && io_uring_submit(&b->ring) >= 0)
		sqe = io_uring_get_sqe(&b->ring);
	return sqe;
}

static int arm(struct uring_backend *b, struct vdds__member *m, int which)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (!sqe)
		return -EBUSY;
	if (multishot(m, which))
		io_uring_prep_poll_multishot(sqe, m->fds[which], POLLIN);
	else
		io_uring_prep_poll_add(sqe, m->fds[which],
				       which == WATCH_SOCK ? POLLIN | POLLRDHUP : m->events);
	io_uring_sqe_set_data64(sqe, tag(m, which));
	m->armed[which] = 1;
	return 0;
}

static void complete(vdds_waitset *ws, const struct io_uring_cqe *cqe)
{
	uint64_t t = io_uring_cqe_get_data64(cqe);
	int which = (int)(t & 3);

	if (which == TAG_REMOVE)
		return;
	struct vdds__member *m = vdds__waitset_find_id(ws, (uint32_t)(t >> 2));

	if (!m)
		return;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		m->armed[which] = 0; /* one-shot done, or multishot ended */
	if (cqe->res > 0)
		vdds__waitset_fired(ws, m->id, which, (uint32_t)cqe->res);
}

/* A completion for the member being removed: only whether its poll ended
 * matters. Any other goes where a wait would send it. */
static void complete_leaving(vdds_waitset *ws, const struct io_uring_cqe *cqe,
			     struct vdds__member *leaving)
{
	uint64_t t = io_uring_cqe_get_data64(cqe);
	int which = (int)(t & 3);

	if (which != TAG_REMOVE && (uint32_t)(t >> 2) == leaving->id) {
		if (!(cqe->flags & IORING_CQE_F_MORE))
			leaving->armed[which] = 0;
		return;
	}
	ws->reaped = 1;
	complete(ws, cqe);
}

/* Remove m's polls and reap until each has completed: until then the
 * kernel holds a reference to its file (a subscriber's socket stays open, so
 * that its publisher never sees it leave).
 *
 * With DEFER_TASKRUN a poll's wakeups run as task work, and only inside an
 * io_uring_enter that waits (GETEVENTS) on the ring's own thread. A remove
 * that meets a wakeup still queued fails with -EALREADY (the poll goes on),
 * and a removed poll's last completion is task work too. So each round
 * queues a remove for every poll of m still armed, submits, and waits for at
 * least one completion (the removes' own come at once), which runs the task
 * work: the next round's remove then finds the poll idle. Another thread's
 * enter gets -EEXIST (SINGLE_ISSUER): the removes then stay queued for the
 * waitset's next wait, which completes them as before. Other members'
 * completions reaped meanwhile are recorded as a wait would; the next
 * vdds_waitset_wait reports them without sleeping. REAP_ROUNDS is a
 * backstop, not a timing: no round sleeps, as each gets its removes'
 * completions. */
#define REAP_ROUNDS 64
#define REAP_WAIT_NS 100000000 /* 100 ms: never reached but by a kernel bug */

static int queue_removes(struct uring_backend *b, const struct vdds__member *m)
{
	int queued = 0;

	for (int w = 0; w < WATCH_COUNT; w++) {
		struct io_uring_sqe *sqe;

		if (!m->armed[w] || !(sqe = get_sqe(b)))
			continue;
		io_uring_prep_poll_remove(sqe, tag(m, w));
		io_uring_sqe_set_data64(sqe, TAG_REMOVE);
		queued++;
	}
	return queued;
}

static void ur_unwatch(vdds_waitset *ws, struct vdds__member *m)
{
	struct uring_backend *b = ws->backend;

	/* a ring never enabled has submitted nothing: the kernel holds none of
	 * m's files, and the polls and their removes go in together at the
	 * first wait. Late completions carry an id no member has. */
	if (!b->enabled) {
		queue_removes(b, m);
		return;
	}
	for (int round = 0; round < REAP_ROUNDS && queue_removes(b, m) > 0; round++) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = REAP_WAIT_NS };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int err = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);

		if (err < 0 && err != -ETIME && err != -EINTR)
			return; /* -EEXIST: not the ring's thread */
		io_uring_for_each_cqe(&b->ring, head, cqe)
		{
			complete_leaving(ws, cqe, m);
			seen++;
		}
		io_uring_cq_advance(&b->ring, seen);
	}
}

static int ur_watch(vdds_waitset *ws, struct vdds__member *m)
{
	for (int w = 0; w < WATCH_COUNT; w++) {
		if (m->fds[w] < 0)
			continue;
		int err = arm(ws->backend, m, w);

		if (err < 0) {
			/* the member is freed: take back what was armed */
			ur_unwatch(ws, m);
			return err;
		}
	}
	return 0;
}

static int ur_wait(vdds_waitset *ws, int timeout_ms)
{
	struct uring_backend *b = ws->backend;
	struct io_uring_cqe *cqe;
	int err;

	/* re-arm what fired last time: level-triggered fds, ended multishots;
	 * a subscriber's socket is watched until it fires once */
	for (uint32_t i = 0; i < ws->n_members; i++) {
		struct vdds__member *m = ws->members[i];

		for (int w = 0; w < WATCH_COUNT; w++) {
			if (m->fds[w] < 0 || m->armed[w] || (w == WATCH_SOCK && m->revents))
				continue;
			if (m->kind == VDDS_EVENT_SUB && w == WATCH_SOCK)
				continue;
			if ((err = arm(b, m, w)) < 0)
				return err;
		}
	}
	if ((err = enable(b)) < 0)
		return err;
	if (timeout_ms < 0) {
		err = io_uring_submit_and_wait(&b->ring, 1);
	} else {
		struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
						.tv_nsec = (timeout_ms % 1000) * 1000000ll };

		err = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);
	}
	if (err < 0 && err != -ETIME && err != -EINTR)
		return err;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe)
	{
		complete(ws, cqe);
		seen++;
	}
	io_uring_cq_advance(&b->ring, seen);
	return seen ? 0 : -ETIMEDOUT;
}

static void ur_fini(vdds_waitset *ws)
{
	struct uring_backend *b = ws->backend;

	/* the ring's teardown would cancel what is left, but in a kernel
	 * worker, some time later: remove each member's polls now, so that a
	 * member closed next is let go of at once, as with epoll */
	for (uint32_t i = 0; i < ws->n_members; i++)
		ur_unwatch(ws, ws->members[i]);
	io_uring_queue_exit(&b->ring);
	free(b);
}

static void ur_child(vdds_waitset *ws)
{
	struct uring_backend *b = ws->backend;

	/* the rings are MADV_DONTFORK (ur_init): only the fds are ours */
	close(b->ring.ring_fd); /* the only fd: the ring's fd is not registered */
	b->ring.ring_fd = -1;
}

static const struct vdds__waitset_ops uring_ops = {
	.name = "io_uring",
	.watch = ur_watch,
	.unwatch = ur_unwatch,
	.wait = ur_wait,
	.fini = ur_fini,
	.child = ur_child,
};

int vdds__waitset_uring_init(vdds_waitset *ws)
{
	struct uring_backend *b = calloc(1, sizeof(*b));
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN |
					      IORING_SETUP_R_DISABLED };

	if (!b)
		return -ENOMEM;
	int err = io_uring_queue_init_params(RING_ENTRIES, &b->ring, &p);

	if (err == -EINVAL) {
		/* a kernel before 6.1: plain ring, enabled at once */
		struct io_uring_params plain = { 0 };

		err = io_uring_queue_init_params(RING_ENTRIES, &b->ring, &plain);
		b->enabled = 1;
	}
	if (err < 0) {
		free(b);
		return err;
	}
	/* a child of fork() must not get the rings: they are the parent's
	 * (shared, not copied), and one SQE written there would be its */
	err = io_uring_ring_dontfork(&b->ring);
	if (err < 0) {
		io_uring_queue_exit(&b->ring);
		free(b);
		return err;
	}
	ws->backend = b;
	ws->ops = &uring_ops;
	return 0;
}
