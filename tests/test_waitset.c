/* test_waitset.c — the waitset, run once per backend (CTest sets VDDS_BACKEND to
 * io_uring, then epoll): fan-in from many processes, members coming and going,
 * timeouts, plain fds, publishers, publisher death, silence, and the fallback. */
#include <check.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "testutil.h"

#define MS 1000000ull /* ns */

/* What every publisher child sends: which topic, and a counter from 1. */
struct msg {
	uint32_t topic;
	uint32_t n;
};

/* ---------------------------------------------------------------- helpers */

/* The backend this pass forces, or NULL when VDDS_BACKEND is unset. */
static const char *forced_backend(void)
{
	const char *b = getenv("VDDS_BACKEND");

	return b && b[0] ? b : NULL;
}

static vdds_waitset *new_waitset(void)
{
	vdds_waitset *ws;
	const char *want = forced_backend();

	ck_assert_int_eq(vdds_waitset_new(&ws), 0);
	if (want)
		ck_assert_str_eq(vdds_waitset_backend(ws), want);
	else
		ck_assert(strcmp(vdds_waitset_backend(ws), "io_uring") == 0 ||
			  strcmp(vdds_waitset_backend(ws), "epoll") == 0);
	return ws;
}

static double ms_since(uint64_t t0)
{
	return (double)(tu_now_ns() - t0) / 1e6;
}

static vdds_pub *child_open_pub(const char *topic)
{
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 64, .max_subscribers = 16 };
	vdds_pub *pub;

	if (vdds_pub_open(&pub, topic, &o) < 0)
		_exit(TU_CHILD_OPEN_FAILED);
	return pub;
}

/* A publisher child: once `subs` subscribers are in, publish `count` numbered
 * messages on `topic` (pausing `gap_us` between them), then close. */
__attribute__((noreturn)) static void publisher_child(const char *topic, uint32_t tag,
						      uint32_t count, uint32_t subs, long gap_us)
{
	vdds_pub *pub = child_open_pub(topic);

	if (tu_await_subscribers(pub, subs) < 0)
		_exit(TU_CHILD_TIMEOUT);
	for (uint32_t i = 1; i <= count; i++) {
		struct msg m = { tag, i };

		if (vdds_pub_write(pub, &m, sizeof(m), 10000) < 0)
			_exit(TU_CHILD_WRITE_FAILED);
		if (gap_us)
			tu_sleep_us(gap_us);
	}
	vdds_pub_close(pub);
	_exit(TU_CHILD_OK);
}

/* One subscriber's view of a numbered stream. */
struct stream {
	vdds_sub *sub;
	uint32_t topic;
	uint32_t got;    /* messages taken */
	uint32_t last_n; /* counter of the last one; 0 before the first */
	uint64_t last_seq;
	int in_ws;
	int done; /* saw -EPIPE */
};

/* Take until -EAGAIN or -EPIPE, checking that counters and sequence numbers
 * run on without gaps. Returns the last take's result. */
static int drain_stream(struct stream *st)
{
	struct vdds_sample s;
	int err;

	while ((err = vdds_sub_take(st->sub, &s)) == 0) {
		const struct msg *m = s.data;

		ck_assert_uint_eq(s.len, sizeof(*m));
		ck_assert_uint_eq(m->topic, st->topic);
		if (st->last_n) {
			ck_assert_msg(m->n == st->last_n + 1, "topic %u: %u after %u", st->topic,
				      m->n, st->last_n);
			ck_assert_uint_eq(s.seq, st->last_seq + 1);
		}
		st->last_n = m->n;
		st->last_seq = s.seq;
		st->got++;
		ck_assert_int_eq(vdds_sub_release(st->sub, &s), 0);
	}
	ck_assert_msg(err == -EAGAIN || err == -EPIPE, "take: %d (%s)", err, vdds_strerror(err));
	if (err == -EPIPE)
		st->done = 1;
	return err;
}

/* ----------------------------------------------------------------- fan-in */

#define FAN_TOPICS 4
#define FAN_SUBS_PER_TOPIC 4
#define FAN_SUBS (FAN_TOPICS * FAN_SUBS_PER_TOPIC)
#define FAN_MESSAGES 20000u

START_TEST(test_sixteen_subscribers_over_four_topics_see_every_message_exactly_once)
{
	pid_t pids[FAN_TOPICS];
	struct stream subs[FAN_SUBS] = { 0 };
	struct vdds_event ev[FAN_SUBS * 2];
	char topic[32];
	int live = FAN_SUBS;
	uint64_t waits = 0, events = 0;

	tu_private_rundir();
	/* every publisher is forked before this process opens anything */
	for (uint32_t t = 0; t < FAN_TOPICS; t++) {
		snprintf(topic, sizeof(topic), "fan%u", t);
		pids[t] = tu_fork_child();
		if (pids[t] == 0)
			publisher_child(topic, t, FAN_MESSAGES, FAN_SUBS_PER_TOPIC, 0);
	}
	vdds_waitset *ws = new_waitset();

	for (int i = 0; i < FAN_SUBS; i++) {
		subs[i].topic = (uint32_t)i % FAN_TOPICS;
		snprintf(topic, sizeof(topic), "fan%u", subs[i].topic);
		ck_assert_int_eq(tu_sub_open_retry(&subs[i].sub, topic, NULL), 0);
		ck_assert_int_eq(vdds_waitset_add_sub(ws, subs[i].sub, &subs[i]), 0);
	}
	uint64_t t0 = tu_now_ns();

	while (live > 0) {
		int n = vdds_waitset_wait(ws, ev, (int)(sizeof(ev) / sizeof(ev[0])), 10000);

		ck_assert_msg(n > 0, "wait: %d (%s) with %d subscribers unfinished", n,
			      vdds_strerror(n), live);
		waits++;
		events += (uint64_t)n;
		for (int i = 0; i < n; i++) {
			struct stream *st = ev[i].user;

			ck_assert_int_eq(ev[i].kind, VDDS_EVENT_SUB);
			ck_assert_int_eq(ev[i].fd, vdds_sub_fd(st->sub));
			ck_assert(ev[i].events & POLLIN);
			ck_assert(!st->done);
			if (drain_stream(st) == -EPIPE) {
				ck_assert_int_eq(vdds_waitset_remove(ws, ev[i].fd), 0);
				live--;
			}
		}
	}
	double ms = ms_since(t0);

	for (int i = 0; i < FAN_SUBS; i++) {
		ck_assert_uint_eq(subs[i].got, FAN_MESSAGES);
		ck_assert_uint_eq(subs[i].last_n, FAN_MESSAGES);
		vdds_sub_close(subs[i].sub);
	}
	for (int t = 0; t < FAN_TOPICS; t++)
		tu_assert_exit(pids[t], TU_CHILD_OK);
	printf("fan-in [%s]: %u messages x %d subscribers in %.0f ms; %llu waits, "
	       "%.1f events per wait\n",
	       vdds_waitset_backend(ws), FAN_TOPICS * FAN_MESSAGES, FAN_SUBS_PER_TOPIC, ms,
	       (unsigned long long)waits, (double)events / (double)waits);
	fflush(stdout);
	vdds_waitset_free(ws);
}
END_TEST

/* ---------------------------------------------------------------- members */

START_TEST(test_bad_calls_return_exact_errors)
{
	struct vdds_pub_opts self = { .no_service_thread = true };
	vdds_pub *threaded, *selfserved;
	vdds_sub *sub;
	struct vdds_event ev;
	int p[2];

	tu_private_rundir();
	vdds_waitset *ws = new_waitset();

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vdds_pub_open(&threaded, "threaded", NULL), 0);
	ck_assert_int_eq(vdds_pub_open(&selfserved, "selfserved", &self), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "threaded", NULL), 0);

	ck_assert_int_eq(vdds_waitset_new(NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_sub(NULL, sub, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_pub(NULL, selfserved, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_pub(ws, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_fd(NULL, p[0], POLLIN, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, -1, POLLIN, NULL), -EINVAL);
	ck_assert_int_eq(vdds_waitset_remove(NULL, p[0]), -EINVAL);
	ck_assert_int_eq(vdds_waitset_remove(ws, -1), -EINVAL);
	ck_assert_int_eq(vdds_waitset_wait(NULL, &ev, 1, 0), -EINVAL);
	ck_assert_int_eq(vdds_waitset_wait(ws, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(vdds_waitset_wait(ws, &ev, 0, 0), -EINVAL);
	ck_assert_ptr_null(vdds_waitset_backend(NULL));
	vdds_waitset_free(NULL);

	/* a publisher with the service thread has no control work to hand out */
	ck_assert_int_eq(vdds_waitset_add_pub(ws, threaded, NULL), -EINVAL);

	/* unknown keys */
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), -ENOENT);
	ck_assert_int_eq(vdds_waitset_remove(ws, p[0]), -ENOENT);
	ck_assert_int_eq(vdds_waitset_remove(ws, 100000), -ENOENT);

	/* each member once */
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, NULL), -EEXIST);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, vdds_sub_fd(sub), POLLIN, NULL), -EEXIST);
	ck_assert_int_eq(vdds_waitset_add_pub(ws, selfserved, NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_pub(ws, selfserved, NULL), -EEXIST);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, p[0], POLLIN, NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, p[0], POLLIN, NULL), -EEXIST);

	/* removed once, then unknown */
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), -ENOENT);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_pub_fd(selfserved)), 0);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_pub_fd(selfserved)), -ENOENT);
	ck_assert_int_eq(vdds_waitset_remove(ws, p[0]), 0);
	ck_assert_int_eq(vdds_waitset_remove(ws, p[0]), -ENOENT);
	/* and can come back */
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, NULL), 0);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
	ck_assert_int_eq(vdds_waitset_wait(ws, &ev, 1, 0), -ETIMEDOUT);

	vdds_waitset_free(ws);
	vdds_sub_close(sub);
	vdds_pub_close(selfserved);
	vdds_pub_close(threaded);
	close(p[0]);
	close(p[1]);
}
END_TEST

#define FLOW_SUBS 4
#define FLOW_MESSAGES 5000u

/* Re-add every live member that is out; then take out `victim`. */
static void rotate(vdds_waitset *ws, struct stream *subs, int victim)
{
	for (int i = 0; i < FLOW_SUBS; i++) {
		if (!subs[i].in_ws && !subs[i].done) {
			ck_assert_int_eq(vdds_waitset_add_sub(ws, subs[i].sub, &subs[i]), 0);
			subs[i].in_ws = 1;
		}
	}
	if (subs[victim].in_ws && !subs[victim].done) {
		ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(subs[victim].sub)), 0);
		ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(subs[victim].sub)), -ENOENT);
		subs[victim].in_ws = 0;
	}
}

START_TEST(test_members_added_and_removed_while_messages_flow_keep_their_streams)
{
	struct stream subs[FLOW_SUBS] = { 0 };
	struct vdds_event ev[16];
	int p[2], live = FLOW_SUBS, reopened = 0;
	char pipe_tag;
	uint32_t rotations = 0, reopened_first = 0;

	tu_private_rundir();
	pid_t pid = tu_fork_child();

	if (pid == 0)
		publisher_child("flow", 0, FLOW_MESSAGES, FLOW_SUBS, 50);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	vdds_waitset *ws = new_waitset();

	for (int i = 0; i < FLOW_SUBS; i++) {
		ck_assert_int_eq(tu_sub_open_retry(&subs[i].sub, "flow", NULL), 0);
		ck_assert_int_eq(vdds_waitset_add_sub(ws, subs[i].sub, &subs[i]), 0);
		subs[i].in_ws = 1;
	}
	uint64_t t0 = tu_now_ns();

	for (uint32_t iter = 0; live > 0; iter++) {
		ck_assert_msg(tu_now_ns() - t0 < 60000 * MS, "stuck with %d unfinished", live);
		/* a plain fd comes and goes too; it is never ready */
		if (iter % 5 == 0)
			ck_assert_int_eq(vdds_waitset_add_fd(ws, p[0], POLLIN, &pipe_tag), 0);
		if (iter % 5 == 2)
			ck_assert_int_eq(vdds_waitset_remove(ws, p[0]), 0);
		int n = vdds_waitset_wait(ws, ev, 16, 5);

		ck_assert_msg(n > 0 || n == -ETIMEDOUT, "wait: %d (%s)", n, vdds_strerror(n));
		for (int i = 0; i < n; i++) {
			struct stream *st = ev[i].user;

			ck_assert_ptr_ne(st, &pipe_tag);
			ck_assert_int_eq(ev[i].kind, VDDS_EVENT_SUB);
			ck_assert_msg(st->in_ws, "a removed subscriber was reported");
			ck_assert_int_eq(ev[i].fd, vdds_sub_fd(st->sub));
			if (drain_stream(st) == -EPIPE) {
				ck_assert_int_eq(vdds_waitset_remove(ws, ev[i].fd), 0);
				st->in_ws = 0;
				live--;
			}
		}
		if (iter % 3 == 0) {
			rotate(ws, subs, (int)(rotations % FLOW_SUBS));
			rotations++;
		}
		/* once, mid-stream: close one subscriber and join afresh; the new
		 * handle most likely gets the same fd numbers, hence the same key */
		if (!reopened && subs[3].got >= FLOW_MESSAGES / 5 && !subs[3].done) {
			int old_key = vdds_sub_fd(subs[3].sub);

			if (subs[3].in_ws)
				ck_assert_int_eq(vdds_waitset_remove(ws, old_key), 0);
			vdds_sub_close(subs[3].sub);
			memset(&subs[3], 0, sizeof(subs[3]));
			ck_assert_int_eq(vdds_sub_open(&subs[3].sub, "flow", NULL), 0);
			ck_assert_int_eq(vdds_waitset_add_sub(ws, subs[3].sub, &subs[3]), 0);
			subs[3].in_ws = 1;
			reopened = 1;
			printf("flow [%s]: reopened subscriber, key %d -> %d\n",
			       vdds_waitset_backend(ws), old_key, vdds_sub_fd(subs[3].sub));
		}
		if (reopened && !reopened_first && subs[3].got)
			reopened_first = subs[3].last_n - subs[3].got + 1;
	}
	ck_assert(reopened);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(subs[i].got, FLOW_MESSAGES);
	/* the late joiner sees a contiguous stream from its join to the end */
	ck_assert_uint_gt(reopened_first, 0);
	ck_assert_uint_eq(subs[3].last_n, FLOW_MESSAGES);
	ck_assert_uint_eq(subs[3].got, FLOW_MESSAGES - reopened_first + 1);
	printf("flow [%s]: %u messages, %u rotations, late joiner from %u, %.0f ms\n",
	       vdds_waitset_backend(ws), FLOW_MESSAGES, rotations, reopened_first, ms_since(t0));
	fflush(stdout);
	for (int i = 0; i < FLOW_SUBS; i++)
		vdds_sub_close(subs[i].sub);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_waitset_free(ws);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A waitset holding a pipe's read end, a timerfd and a subscriber, each with
 * its own user pointer; none of them ready. */
struct mixed {
	vdds_waitset *ws;
	vdds_pub *pub;
	vdds_sub *sub;
	int p[2], tfd;
	char pipe_tag, timer_tag, sub_tag;
};

static void mixed_open(struct mixed *m)
{
	struct vdds_sample s;

	tu_private_rundir();
	ck_assert_int_eq(pipe2(m->p, O_CLOEXEC | O_NONBLOCK), 0);
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ck_assert_int_ge(m->tfd, 0);
	ck_assert_int_eq(vdds_pub_open(&m->pub, "mixed", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&m->sub, "mixed", NULL), 0);
	ck_assert_int_eq(vdds_sub_take(m->sub, &s), -EAGAIN);
	m->ws = new_waitset();
	ck_assert_int_eq(vdds_waitset_add_fd(m->ws, m->p[0], POLLIN, &m->pipe_tag), 0);
	ck_assert_int_eq(vdds_waitset_add_fd(m->ws, m->tfd, POLLIN, &m->timer_tag), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(m->ws, m->sub, &m->sub_tag), 0);
}

static void mixed_close(struct mixed *m)
{
	vdds_waitset_free(m->ws);
	vdds_sub_close(m->sub);
	vdds_pub_close(m->pub);
	close(m->tfd);
	close(m->p[0]);
	close(m->p[1]);
}

/* Make all three ready, the pipe first: a byte in it, then the timer fires
 * and a sample arrives. Waits until the timer and the subscriber have been
 * reported, checking that every event names its member by kind, fd and user
 * pointer, and that the unread pipe is reported at every wait. */
static void mixed_make_all_ready(struct mixed *m)
{
	struct itimerspec its = { .it_value = { 0, 20 * 1000000 } };
	struct vdds_event ev[8];
	int seen_timer = 0, seen_sub = 0;

	ck_assert_int_eq(write(m->p[1], "x", 1), 1);
	ck_assert_int_eq(timerfd_settime(m->tfd, 0, &its, NULL), 0);
	ck_assert_int_eq(vdds_pub_write(m->pub, "sample", 7, 0), 0);
	for (uint64_t t0 = tu_now_ns(); !(seen_timer && seen_sub);) {
		ck_assert_uint_lt(tu_now_ns() - t0, TU_AWAIT_NS);
		int n = vdds_waitset_wait(m->ws, ev, 8, 1000);
		int seen_pipe = 0;

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].user == &m->pipe_tag) {
				ck_assert_int_eq(ev[i].kind, VDDS_EVENT_FD);
				ck_assert_int_eq(ev[i].fd, m->p[0]);
				seen_pipe = 1;
			} else if (ev[i].user == &m->timer_tag) {
				ck_assert_int_eq(ev[i].kind, VDDS_EVENT_FD);
				ck_assert_int_eq(ev[i].fd, m->tfd);
				ck_assert(ev[i].events & POLLIN);
				seen_timer = 1;
			} else {
				ck_assert_ptr_eq(ev[i].user, &m->sub_tag);
				ck_assert_int_eq(ev[i].kind, VDDS_EVENT_SUB);
				ck_assert_int_eq(ev[i].fd, vdds_sub_fd(m->sub));
				ck_assert(ev[i].events & POLLIN);
				seen_sub = 1;
			}
		}
		ck_assert(seen_pipe);
	}
}

START_TEST(test_an_unread_fd_is_reported_at_every_wait_with_its_user_pointer)
{
	struct vdds_event ev[8];
	struct mixed m;

	mixed_open(&m);
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 0), -ETIMEDOUT);
	ck_assert_int_eq(write(m.p[1], "x", 1), 1);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 1000), 1);
		ck_assert_int_eq(ev[0].kind, VDDS_EVENT_FD);
		ck_assert_int_eq(ev[0].fd, m.p[0]);
		ck_assert_ptr_eq(ev[0].user, &m.pipe_tag);
		ck_assert(ev[0].events & POLLIN);
	}
	mixed_close(&m);
}
END_TEST

START_TEST(test_fds_and_a_subscriber_are_each_reported_with_their_kind_fd_and_user_pointer)
{
	struct mixed m;

	mixed_open(&m);
	mixed_make_all_ready(&m);
	mixed_close(&m);
}
END_TEST

START_TEST(test_members_ready_together_are_reported_together_until_consumed)
{
	struct vdds_event ev[8];
	struct vdds_sample s;
	struct mixed m;
	uint64_t ticks;
	char c;

	mixed_open(&m);
	mixed_make_all_ready(&m);
	/* nothing consumed yet: all three at once, even without waiting */
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 0), 3);
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 1000), 3);

	/* consume each: quiet */
	ck_assert_int_eq(read(m.p[0], &c, 1), 1);
	ck_assert_int_eq(read(m.tfd, &ticks, sizeof(ticks)), (ssize_t)sizeof(ticks));
	ck_assert_int_eq(vdds_sub_take(m.sub, &s), 0);
	ck_assert_str_eq(s.data, "sample");
	ck_assert_int_eq(vdds_sub_release(m.sub, &s), 0);
	ck_assert_int_eq(vdds_sub_take(m.sub, &s), -EAGAIN);
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 50), -ETIMEDOUT);
	mixed_close(&m);
}
END_TEST

START_TEST(test_an_fd_added_for_pollout_is_reported_writable)
{
	struct vdds_event ev[8];
	struct mixed m;
	char out_tag;

	mixed_open(&m);
	/* a pipe's write end is writable at once */
	ck_assert_int_eq(vdds_waitset_add_fd(m.ws, m.p[1], POLLOUT, &out_tag), 0);
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 1000), 1);
	ck_assert_int_eq(ev[0].kind, VDDS_EVENT_FD);
	ck_assert_int_eq(ev[0].fd, m.p[1]);
	ck_assert_ptr_eq(ev[0].user, &out_tag);
	ck_assert(ev[0].events & POLLOUT);
	mixed_close(&m);
}
END_TEST

START_TEST(test_a_removed_fd_is_not_reported_however_ready)
{
	struct vdds_event ev[8];
	struct mixed m;
	char out_tag;

	mixed_open(&m);
	ck_assert_int_eq(vdds_waitset_add_fd(m.ws, m.p[1], POLLOUT, &out_tag), 0);
	ck_assert_int_eq(vdds_waitset_remove(m.ws, m.p[1]), 0);
	ck_assert_int_eq(vdds_waitset_remove(m.ws, m.p[0]), 0);
	ck_assert_int_eq(vdds_waitset_remove(m.ws, m.tfd), 0);
	ck_assert_int_eq(vdds_waitset_remove(m.ws, vdds_sub_fd(m.sub)), 0);
	ck_assert_int_eq(vdds_waitset_remove(m.ws, m.p[0]), -ENOENT);
	/* the write end is writable and the read end readable: neither reported */
	ck_assert_int_eq(write(m.p[1], "y", 1), 1);
	ck_assert_int_eq(vdds_waitset_wait(m.ws, ev, 8, 20), -ETIMEDOUT);
	mixed_close(&m);
}
END_TEST

START_TEST(test_members_ready_beyond_max_are_reported_in_turn)
{
	enum { N = 3 };
	int p[N][2], tags[N], seen[N] = { 0 };
	struct vdds_event ev;

	tu_private_rundir();
	vdds_waitset *ws = new_waitset();

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
		ck_assert_int_eq(write(p[i][1], "x", 1), 1);
		ck_assert_int_eq(vdds_waitset_add_fd(ws, p[i][0], POLLIN, &tags[i]), 0);
	}
	/* all stay ready (never read); with room for one event per call, a fair
	 * waitset gets round to each, as epoll does: none is starved */
	for (int round = 0; round < 2 * N; round++) {
		ck_assert_int_eq(vdds_waitset_wait(ws, &ev, 1, 0), 1);
		seen[(int *)ev.user - tags]++;
	}
	for (int i = 0; i < N; i++)
		ck_assert_msg(seen[i] > 0,
			      "member %d of %d never reported in %d waits "
			      "(reports: %d %d %d)",
			      i, N, 2 * N, seen[0], seen[1], seen[2]);
	vdds_waitset_free(ws);
	for (int i = 0; i < N; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}
END_TEST

/* A spinning subscriber (spin_ns) whose ring always holds a sample is
 * answered from user space, without the kernel; a plain fd that is ready
 * meanwhile must still be reported within a few waits, not starved. */
START_TEST(test_a_spinning_subscriber_with_a_full_ring_does_not_starve_a_plain_fd)
{
	struct vdds_pub_opts po = { .slot_size = 64, .slot_count = 64 };
	struct vdds_sub_opts so = { .spin_ns = 10000 };
	struct vdds_event ev;
	struct vdds_sample s;
	vdds_pub *pub;
	vdds_sub *sub;
	int p[2], pipe_tag, sub_tag;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "dense", &po), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "dense", &so), 0);
	for (uint32_t i = 0; i < 60; i++)
		ck_assert_int_eq(vdds_pub_write(pub, &i, sizeof(i), 0), 0);
	vdds_waitset *ws = new_waitset();

	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, &sub_tag), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, p[0], POLLIN, &pipe_tag), 0);
	int waits = 0, pipe_seen = 0;

	/* one event per wait, one sample per event: the ring never runs dry */
	while (waits < 40 && !pipe_seen) {
		ck_assert_int_eq(vdds_waitset_wait(ws, &ev, 1, 1000), 1);
		waits++;
		if (ev.user == &pipe_tag) {
			pipe_seen = 1;
		} else {
			ck_assert_ptr_eq(ev.user, &sub_tag);
			ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
			ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
		}
	}
	printf("spinning subscriber [%s]: the ready pipe reported at wait %d\n",
	       vdds_waitset_backend(ws), waits);
	ck_assert_msg(pipe_seen, "a ready pipe not reported in %d waits", waits);
	ck_assert_int_le(waits, 9);
	vdds_waitset_free(ws);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_readiness_left_over_from_a_full_wait_is_not_reported_once_consumed)
{
	int a[2], b[2], tag_a, tag_b;
	struct vdds_event ev[4];
	char c;

	tu_private_rundir();
	vdds_waitset *ws = new_waitset();

	ck_assert_int_eq(pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
	ck_assert_int_eq(pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
	ck_assert_int_eq(write(a[1], "x", 1), 1);
	ck_assert_int_eq(write(b[1], "x", 1), 1);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, a[0], POLLIN, &tag_a), 0);
	ck_assert_int_eq(vdds_waitset_add_fd(ws, b[0], POLLIN, &tag_b), 0);
	/* both ready, room for one */
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 1, 0), 1);
	int *first = ev[0].user;
	int other = first == &tag_a ? b[0] : a[0];

	/* the one not reported is drained: level triggered, it is not ready now */
	ck_assert_int_eq(read(other, &c, 1), 1);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 0), 1);
	ck_assert_ptr_eq(ev[0].user, first);
	ck_assert_int_eq(read(first == &tag_a ? a[0] : b[0], &c, 1), 1);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 20), -ETIMEDOUT);
	vdds_waitset_free(ws);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
END_TEST

START_TEST(test_publisher_in_waitset_reports_a_connecting_subscriber)
{
	struct vdds_pub_opts o = { .slot_count = 4, .no_service_thread = true };
	struct vdds_pub_stats st = { 0 };
	struct vdds_event ev[4];
	char pub_tag;
	vdds_pub *pub;

	tu_private_rundir();
	vdds_waitset *ws = new_waitset();

	ck_assert_int_eq(vdds_pub_open(&pub, "served", &o), 0);
	ck_assert_int_eq(vdds_waitset_add_pub(ws, pub, &pub_tag), 0);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 0), -ETIMEDOUT);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_sub *sub;
		struct vdds_sample s;

		/* nothing serves our handshake but the parent's waitset loop */
		if (vdds_sub_open(&sub, "served", NULL) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		if (vdds_sub_wait(sub, 5000) < 0 || vdds_sub_take(sub, &s) < 0)
			_exit(TU_CHILD_TAKE_FAILED);
		_exit(*(const uint32_t *)s.data == 77 ? TU_CHILD_OK : TU_CHILD_BAD_PAYLOAD);
	}
	int rounds = 0;
	uint64_t t0 = tu_now_ns();

	while (st.subscribers == 0) {
		ck_assert_msg(tu_now_ns() - t0 < TU_AWAIT_NS, "no subscriber after %d dispatches",
			      rounds);
		ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 5000), 1);
		ck_assert_int_eq(ev[0].kind, VDDS_EVENT_PUB);
		ck_assert_int_eq(ev[0].fd, vdds_pub_fd(pub));
		ck_assert_ptr_eq(ev[0].user, &pub_tag);
		ck_assert(ev[0].events & POLLIN);
		ck_assert_int_eq(vdds_pub_dispatch(pub), 0);
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
		rounds++;
	}
	ck_assert_uint_eq(st.subscribers, 1);
	printf("pub [%s]: subscriber in after %d event(s) and dispatch(es), %.2f ms\n",
	       vdds_waitset_backend(ws), rounds, ms_since(t0));
	fflush(stdout);
	uint32_t v = 77;

	ck_assert_int_eq(vdds_pub_write(pub, &v, sizeof(v), 1000), 0);
	/* the child takes it and exits: its hang-up is control work too */
	t0 = tu_now_ns();
	while (st.subscribers == 1) {
		ck_assert_uint_lt(tu_now_ns() - t0, TU_AWAIT_NS);
		ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 5000), 1);
		ck_assert_int_eq(ev[0].kind, VDDS_EVENT_PUB);
		ck_assert_int_eq(vdds_pub_dispatch(pub), 0);
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	}
	ck_assert_uint_eq(st.subscribers, 0);
	ck_assert_uint_eq(st.free_slots, 4);
	tu_assert_exit(pid, TU_CHILD_OK);
	/* all served: quiet */
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 20), -ETIMEDOUT);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_pub_fd(pub)), 0);
	vdds_waitset_free(ws);
	vdds_pub_close(pub);
}
END_TEST

/* --------------------------------------------------------------- timeouts */

START_TEST(test_timeouts_zero_ten_ms_and_forever_return_exactly)
{
	struct vdds_event ev[4];
	struct vdds_sample s;
	char sub_tag;
	int go[2];
	vdds_sub *sub;

	tu_private_rundir();
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_pub *pub = child_open_pub("clock");
		struct msg m = { 0, 1 };
		char c;

		close(go[1]);
		if (tu_await_subscribers(pub, 1) < 0)
			_exit(TU_CHILD_TIMEOUT);
		if (read(go[0], &c, 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		tu_sleep_us(50000);
		if (vdds_pub_write(pub, &m, sizeof(m), 1000) < 0)
			_exit(TU_CHILD_WRITE_FAILED);
		/* stay until the parent is done: our going away would wake it */
		if (read(go[0], &c, 1) != 0)
			_exit(TU_CHILD_PIPE_FAILED);
		vdds_pub_close(pub);
		_exit(TU_CHILD_OK);
	}
	close(go[0]);
	vdds_waitset *ws = new_waitset();

	/* an empty waitset times out as well */
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
	ck_assert_uint_ge(tu_now_ns() - t0, 10 * MS);

	ck_assert_int_eq(tu_sub_open_retry(&sub, "clock", NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, &sub_tag), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);

	t0 = tu_now_ns();
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 0), -ETIMEDOUT);
	double zero_ms = ms_since(t0);

	ck_assert_uint_lt(tu_now_ns() - t0, 100 * MS);

	t0 = tu_now_ns();
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
	double ten_ms = ms_since(t0);

	ck_assert_uint_ge(tu_now_ns() - t0, 10 * MS);
	ck_assert_uint_lt(tu_now_ns() - t0, 1000 * MS);

	/* forever: woken by the child's sample ~50 ms after "go" */
	t0 = tu_now_ns();
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, -1), 1);
	double forever_ms = ms_since(t0);

	ck_assert_uint_ge(tu_now_ns() - t0, 50 * MS);
	ck_assert_int_eq(ev[0].kind, VDDS_EVENT_SUB);
	ck_assert_int_eq(ev[0].fd, vdds_sub_fd(sub));
	ck_assert_ptr_eq(ev[0].user, &sub_tag);
	ck_assert(ev[0].events & POLLIN);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(((const struct msg *)s.data)->n, 1);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
	printf("timeouts [%s]: 0 -> %.3f ms, 10 -> %.3f ms, -1 -> woken after %.3f ms\n",
	       vdds_waitset_backend(ws), zero_ms, ten_ms, forever_ms);
	fflush(stdout);

	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
	vdds_sub_close(sub);
	close(go[1]);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_waitset_free(ws);
}
END_TEST

/* CPU time and voluntary context switches of the calling thread. */
struct usage {
	uint64_t cpu_us;
	long nvcsw;
};

static struct usage thread_usage(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_THREAD, &ru), 0);
	return (struct usage){
		.cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
			  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
		.nvcsw = ru.ru_nvcsw,
	};
}

/* 200 ms in which the waitset and the subscriber's own fd must stay silent:
 * they time out, having slept rather than spun or woken for nothing. The fd
 * contract of vdds_sub_fd() holds for a subscriber in no waitset, so it is
 * taken out of the waitset (and re-armed by take) for the second half. */
static void expect_200ms_of_silence(vdds_waitset *ws, vdds_sub *sub, int ep, const char *when)
{
	struct vdds_event ev[4];
	struct epoll_event eev[4];
	struct vdds_sample s;
	struct usage u0 = thread_usage();
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 200), -ETIMEDOUT);
	uint64_t ws_ns = tu_now_ns() - t0;

	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	struct usage u1 = thread_usage();

	ck_assert_uint_ge(ws_ns, 200 * MS);
	t0 = tu_now_ns();
	ck_assert_int_eq(epoll_wait(ep, eev, 4, 200), 0);
	uint64_t ep_ns = tu_now_ns() - t0;
	struct usage u2 = thread_usage();

	ck_assert_uint_ge(ep_ns, 199 * MS);
	printf("silence [%s] %s: waitset %.1f ms (%llu us cpu, %ld switches), "
	       "epoll on the sub fd %.1f ms (%llu us cpu, %ld switches)\n",
	       vdds_waitset_backend(ws), when, (double)ws_ns / 1e6,
	       (unsigned long long)(u1.cpu_us - u0.cpu_us), u1.nvcsw - u0.nvcsw,
	       (double)ep_ns / 1e6, (unsigned long long)(u2.cpu_us - u1.cpu_us),
	       u2.nvcsw - u1.nvcsw);
	fflush(stdout);
	/* one sleep each; a spinning or often-woken waiter would show here */
	ck_assert_int_le(u1.nvcsw - u0.nvcsw, 3);
	ck_assert_int_le(u2.nvcsw - u1.nvcsw, 3);
	ck_assert_uint_lt(u1.cpu_us - u0.cpu_us, 20000);
	ck_assert_uint_lt(u2.cpu_us - u1.cpu_us, 20000);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
}

#define BURST 50
#define BURSTS 3

START_TEST(test_two_hundred_ms_of_silence_produce_no_wakeups)
{
	struct vdds_event ev[4];
	struct vdds_sample s;
	int cmd[2], ack[2];
	vdds_sub *sub;
	char c;

	tu_private_rundir();
	ck_assert_int_eq(pipe2(cmd, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ack, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_pub *pub = child_open_pub("quiet");
		uint32_t n = 0;

		close(cmd[1]);
		close(ack[0]);
		if (tu_await_subscribers(pub, 1) < 0)
			_exit(TU_CHILD_TIMEOUT);
		/* a burst per command byte; the ack says the burst is all out */
		while (read(cmd[0], &c, 1) == 1) {
			for (int i = 0; i < BURST; i++) {
				struct msg m = { 0, ++n };

				if (vdds_pub_write(pub, &m, sizeof(m), 5000) < 0)
					_exit(TU_CHILD_WRITE_FAILED);
			}
			if (write(ack[1], "d", 1) != 1)
				_exit(TU_CHILD_PIPE_FAILED);
		}
		vdds_pub_close(pub);
		_exit(TU_CHILD_OK);
	}
	close(cmd[0]);
	close(ack[1]);
	ck_assert_int_eq(tu_sub_open_retry(&sub, "quiet", NULL), 0);
	vdds_waitset *ws = new_waitset();
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event eev = { .events = EPOLLIN };

	ck_assert_int_ge(ep, 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(sub), &eev), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	expect_200ms_of_silence(ws, sub, ep, "before any sample");

	uint32_t got = 0;

	for (int b = 1; b <= BURSTS; b++) {
		ck_assert_int_eq(write(cmd[1], "b", 1), 1);
		ck_assert_int_eq(read(ack[0], &c, 1), 1);
		while (got < (uint32_t)(b * BURST)) {
			int err;

			ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 2000), 1);
			ck_assert_ptr_eq(ev[0].user, sub);
			while ((err = vdds_sub_take(sub, &s)) == 0) {
				ck_assert_uint_eq(((const struct msg *)s.data)->n, ++got);
				ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
			}
			ck_assert_int_eq(err, -EAGAIN);
		}
		ck_assert_uint_eq(got, (uint32_t)(b * BURST));
		expect_200ms_of_silence(ws, sub, ep, "after a consumed burst");
	}
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
	close(ep);
	vdds_sub_close(sub);
	close(cmd[1]);
	close(ack[0]);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_waitset_free(ws);
}
END_TEST

/* ---------------------------------------------------------- publisher death */

/* One subscriber blocked one way; it records when and how it woke. */
struct waiter {
	const char *how;
	int (*block)(struct waiter *w);
	vdds_sub *sub;
	pthread_t thread;
	atomic_int blocking; /* about to block */
	atomic_int finished;
	uint64_t woke_ns;
	int ret;               /* what the blocking call returned */
	int takes[2];          /* the takes after waking; takes[1] only after -EAGAIN */
	int ws_kind, ws_again; /* waitset only: the event kind; a wait(0) after */
	char backend[16];
};

static int block_sub_wait(struct waiter *w)
{
	atomic_store(&w->blocking, 1);
	return vdds_sub_wait(w->sub, -1);
}

static int block_epoll(struct waiter *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(w->sub), &ev) < 0)
		return -errno;
	atomic_store(&w->blocking, 1);
	do
		n = epoll_wait(ep, &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	close(ep);
	return n;
}

static int block_poll(struct waiter *w)
{
	struct pollfd pfd = { .fd = vdds_sub_fd(w->sub), .events = POLLIN };
	int n;

	atomic_store(&w->blocking, 1);
	do
		n = poll(&pfd, 1, -1);
	while (n < 0 && errno == EINTR);
	return n == 1 && !(pfd.revents & POLLIN) ? -EIO : n;
}

static int block_waitset(struct waiter *w)
{
	struct vdds_event ev[4];
	vdds_waitset *ws;
	int n, err;

	/* created here: the waitset belongs to the thread that waits on it */
	if ((err = vdds_waitset_new(&ws)) < 0)
		return err;
	snprintf(w->backend, sizeof(w->backend), "%s", vdds_waitset_backend(ws));
	if ((err = vdds_waitset_add_sub(ws, w->sub, w)) < 0)
		return err;
	atomic_store(&w->blocking, 1);
	n = vdds_waitset_wait(ws, ev, 4, -1);
	w->woke_ns = tu_now_ns();
	if (n == 1)
		w->ws_kind = ev[0].user == w ? ev[0].kind : -1;
	/* take as the other waiters do, then: still reported, the publisher being gone */
	struct vdds_sample s;

	w->takes[0] = vdds_sub_take(w->sub, &s);
	w->takes[1] = w->takes[0] == -EAGAIN ? vdds_sub_take(w->sub, &s) : w->takes[0];
	w->ws_again = vdds_waitset_wait(ws, ev, 4, 0);
	vdds_waitset_remove(ws, vdds_sub_fd(w->sub));
	vdds_waitset_free(ws);
	return n;
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->ret = w->block(w);
	if (!w->woke_ns) {
		struct vdds_sample s;

		w->woke_ns = tu_now_ns();
		w->takes[0] = vdds_sub_take(w->sub, &s);
		w->takes[1] = w->takes[0] == -EAGAIN ? vdds_sub_take(w->sub, &s) : w->takes[0];
	}
	atomic_store(&w->finished, 1);
	return NULL;
}

START_TEST(test_publisher_killed_wakes_every_waiter_with_epipe)
{
	struct waiter ws[4] = {
		{ .how = "vdds_sub_wait", .block = block_sub_wait },
		{ .how = "epoll on vdds_sub_fd", .block = block_epoll },
		{ .how = "poll on vdds_sub_fd", .block = block_poll },
		{ .how = "waitset", .block = block_waitset },
	};
	struct vdds_sample s;
	int ready[2];
	char c;

	tu_private_rundir();
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_pub *pub = child_open_pub("doomed");

		close(ready[0]);
		if (tu_await_subscribers(pub, 4) < 0)
			_exit(TU_CHILD_TIMEOUT);
		for (uint32_t i = 1; i <= 3; i++) {
			struct msg m = { 0, i };

			if (vdds_pub_write(pub, &m, sizeof(m), 1000) < 0)
				_exit(TU_CHILD_WRITE_FAILED);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		for (;;)
			pause(); /* until SIGKILL */
	}
	close(ready[1]);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(tu_sub_open_retry(&ws[i].sub, "doomed", NULL), 0);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* consume what was sent, down to -EAGAIN: the fd contract holds from here */
	for (int i = 0; i < 4; i++) {
		for (uint32_t n = 1; n <= 3; n++) {
			ck_assert_int_eq(vdds_sub_wait(ws[i].sub, 1000), 0);
			ck_assert_int_eq(vdds_sub_take(ws[i].sub, &s), 0);
			ck_assert_uint_eq(((const struct msg *)s.data)->n, n);
			ck_assert_int_eq(vdds_sub_release(ws[i].sub, &s), 0);
		}
		ck_assert_int_eq(vdds_sub_take(ws[i].sub, &s), -EAGAIN);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&ws[i].thread, NULL, waiter_main, &ws[i]), 0);
	for (int i = 0; i < 4; i++)
		while (!atomic_load(&ws[i].blocking))
			tu_sleep_us(1000);
	tu_sleep_us(100000); /* let them all be asleep */
	for (int i = 0; i < 4; i++)
		ck_assert_msg(!atomic_load(&ws[i].finished), "%s woke before the kill", ws[i].how);

	uint64_t killed = tu_now_ns();

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	for (int i = 0; i < 4; i++) {
		while (!atomic_load(&ws[i].finished)) {
			ck_assert_msg(tu_now_ns() - killed < TU_AWAIT_NS,
				      "%s did not wake within 10 s of the kill", ws[i].how);
			tu_sleep_us(1000);
		}
		ck_assert_int_eq(pthread_join(ws[i].thread, NULL), 0);
	}
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	ck_assert_int_eq(ws[0].ret, -EPIPE);
	ck_assert_int_eq(ws[1].ret, 1);
	ck_assert_int_eq(ws[2].ret, 1);
	ck_assert_int_eq(ws[3].ret, 1);
	ck_assert_int_eq(ws[3].ws_kind, VDDS_EVENT_SUB);
	ck_assert_int_eq(ws[3].ws_again, 1);
	if (forced_backend())
		ck_assert_str_eq(ws[3].backend, forced_backend());
	for (int i = 0; i < 4; i++) {
		/* -EPIPE, after at most one -EAGAIN; and it stays -EPIPE */
		ck_assert_msg(ws[i].takes[0] == -EPIPE || ws[i].takes[0] == -EAGAIN,
			      "%s: first take %d", ws[i].how, ws[i].takes[0]);
		ck_assert_msg(ws[i].takes[1] == -EPIPE, "%s: takes %d then %d", ws[i].how,
			      ws[i].takes[0], ws[i].takes[1]);
		ck_assert_int_eq(vdds_sub_take(ws[i].sub, &s), -EPIPE);
		ck_assert_int_eq(vdds_sub_wait(ws[i].sub, 0), -EPIPE);
		printf("publisher killed [%s]: %-22s woke after %7.1f us, take %s%s\n",
		       ws[3].backend, ws[i].how, (double)(ws[i].woke_ns - killed) / 1e3,
		       ws[i].takes[0] == -EAGAIN ? "-EAGAIN then " : "", "-EPIPE");
		vdds_sub_close(ws[i].sub);
	}
	fflush(stdout);
	close(ready[0]);
}
END_TEST

/* ---------------------------------------------------------------- fallback */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define TEST_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif

/* Make io_uring_setup fail with EPERM, as container seccomp profiles do.
 * Returns 0, or a negative errno when the filter cannot be installed. */
static int deny_io_uring_setup(void)
{
#if defined(TEST_AUDIT_ARCH) && defined(__NR_io_uring_setup)
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* a syscall of another ABI is not ours to judge: allow it */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = (unsigned short)(sizeof(prog) / sizeof(prog[0])),
				    .filter = prog };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
		return -errno;
	return 0;
#else
	return -ENOSYS;
#endif
}

/* How the fallback child ends, besides TU_CHILD_OK: where the fallback broke,
 * or that it could not deny io_uring here. */
enum fallback_exit {
	FALLBACK_NO_SECCOMP = TU_CHILD_SUITE, /* cannot install a seccomp filter */
	FALLBACK_NOT_DENIED,                  /* io_uring_setup still works */
	FALLBACK_NO_WAITSET,
	FALLBACK_NOT_EPOLL,
	FALLBACK_NO_TOPIC,
	FALLBACK_NOT_ADDED, /* add_sub failed, or the subscriber was not empty */
	FALLBACK_NOT_QUIET,
	FALLBACK_NOT_REPORTED,
	FALLBACK_WRONG_SAMPLE,
	FALLBACK_NOT_REMOVED,
};

/* The child's side: everything it checks, as an exit code. */
static int fallback_child(void)
{
	struct vdds_event ev[4];
	struct vdds_sample s;
	vdds_waitset *ws;
	vdds_pub *pub;
	vdds_sub *sub;
	int err = deny_io_uring_setup();

	if (err < 0) {
		printf("fallback: cannot install a seccomp filter: %s\n", strerror(-err));
		fflush(stdout);
		return FALLBACK_NO_SECCOMP;
	}
#ifdef __NR_io_uring_setup
	struct io_uring_params params = { 0 };

	if (syscall(__NR_io_uring_setup, 4, &params) != -1 || errno != EPERM)
		return FALLBACK_NOT_DENIED;
#endif
	unsetenv("VDDS_BACKEND");
	if (vdds_waitset_new(&ws) < 0)
		return FALLBACK_NO_WAITSET;
	if (strcmp(vdds_waitset_backend(ws), "epoll") != 0)
		return FALLBACK_NOT_EPOLL;
	if (vdds_pub_open(&pub, "fallback", NULL) < 0 || vdds_sub_open(&sub, "fallback", NULL) < 0)
		return FALLBACK_NO_TOPIC;
	if (vdds_waitset_add_sub(ws, sub, sub) < 0 || vdds_sub_take(sub, &s) != -EAGAIN)
		return FALLBACK_NOT_ADDED;
	if (vdds_waitset_wait(ws, ev, 4, 0) != -ETIMEDOUT)
		return FALLBACK_NOT_QUIET;
	if (vdds_pub_write(pub, "through epoll", 14, 1000) < 0)
		return TU_CHILD_WRITE_FAILED;
	if (vdds_waitset_wait(ws, ev, 4, 2000) != 1 || ev[0].kind != VDDS_EVENT_SUB ||
	    ev[0].user != sub)
		return FALLBACK_NOT_REPORTED;
	if (vdds_sub_take(sub, &s) < 0 || strcmp(s.data, "through epoll") != 0 ||
	    vdds_sub_release(sub, &s) < 0)
		return FALLBACK_WRONG_SAMPLE;
	if (vdds_waitset_remove(ws, vdds_sub_fd(sub)) < 0)
		return FALLBACK_NOT_REMOVED;
	vdds_waitset_free(ws);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
	return TU_CHILD_OK;
}

START_TEST(test_io_uring_denied_by_seccomp_falls_back_to_epoll)
{
	vdds_waitset *before;
	int status;

	tu_private_rundir();
	ck_assert_int_eq(vdds_waitset_new(&before), 0);
	int have_uring = strcmp(vdds_waitset_backend(before), "io_uring") == 0;

	vdds_waitset_free(before);
	if (!have_uring) {
		tu_skip("no io_uring here to fall back from");
		return;
	}
	fflush(stdout);
	pid_t pid = tu_fork_child();

	if (pid == 0)
		_exit(fallback_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child status 0x%x", status);
	if (WEXITSTATUS(status) == FALLBACK_NO_SECCOMP) {
		tu_skip("cannot install a seccomp filter here");
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == TU_CHILD_OK, "fallback child: exit code %d",
		      WEXITSTATUS(status));
	printf("fallback: io_uring_setup denied by seccomp, the waitset used epoll\n");
	fflush(stdout);
}
END_TEST

static Suite *waitset_suite(void)
{
	Suite *s = suite_create("waitset");
	TCase *fan = tcase_create("fan-in");
	TCase *members = tcase_create("members");
	TCase *timing = tcase_create("timing");
	TCase *death = tcase_create("death");

	tcase_set_timeout(fan, 120);
	tcase_add_test(fan,
		       test_sixteen_subscribers_over_four_topics_see_every_message_exactly_once);
	suite_add_tcase(s, fan);

	tcase_set_timeout(members, 60);
	tcase_add_test(members, test_bad_calls_return_exact_errors);
	tcase_add_test(members,
		       test_members_added_and_removed_while_messages_flow_keep_their_streams);
	tcase_add_test(members, test_an_unread_fd_is_reported_at_every_wait_with_its_user_pointer);
	tcase_add_test(
		members,
		test_fds_and_a_subscriber_are_each_reported_with_their_kind_fd_and_user_pointer);
	tcase_add_test(members, test_members_ready_together_are_reported_together_until_consumed);
	tcase_add_test(members, test_an_fd_added_for_pollout_is_reported_writable);
	tcase_add_test(members, test_a_removed_fd_is_not_reported_however_ready);
	tcase_add_test(members, test_members_ready_beyond_max_are_reported_in_turn);
	tcase_add_test(members,
		       test_a_spinning_subscriber_with_a_full_ring_does_not_starve_a_plain_fd);
	tcase_add_test(members,
		       test_readiness_left_over_from_a_full_wait_is_not_reported_once_consumed);
	tcase_add_test(members, test_publisher_in_waitset_reports_a_connecting_subscriber);
	suite_add_tcase(s, members);

	tcase_set_timeout(timing, 30);
	tcase_add_test(timing, test_timeouts_zero_ten_ms_and_forever_return_exactly);
	tcase_add_test(timing, test_two_hundred_ms_of_silence_produce_no_wakeups);
	suite_add_tcase(s, timing);

	tcase_set_timeout(death, 30);
	tcase_add_test(death, test_publisher_killed_wakes_every_waiter_with_epipe);
	suite_add_tcase(s, death);

	/* the fallback starts from a working io_uring: not the epoll pass's */
	if (!forced_backend() || strcmp(forced_backend(), "epoll") != 0) {
		TCase *fallback = tcase_create("fallback");

		tcase_set_timeout(fallback, 20);
		tcase_add_test(fallback, test_io_uring_denied_by_seccomp_falls_back_to_epoll);
		suite_add_tcase(s, fallback);
	}
	return s;
}

/* Whether this kernel (and sandbox) lets us set up an io_uring: 0, or the
 * errno io_uring_setup failed with. */
static int io_uring_setup_errno(void)
{
#ifdef __NR_io_uring_setup
	struct io_uring_params p = { 0 };
	long fd = syscall(__NR_io_uring_setup, 4, &p);

	if (fd < 0)
		return errno;
	close((int)fd);
	return 0;
#else
	return ENOSYS;
#endif
}

int main(void)
{
	const char *forced = forced_backend();
	int err;

	/* every test of the io_uring pass needs io_uring */
	if (forced && strcmp(forced, "io_uring") == 0 && (err = io_uring_setup_errno()) != 0) {
		printf("SKIP: test_waitset, io_uring pass: io_uring_setup: %s\n", strerror(err));
		return TU_SKIP;
	}
	return tu_run_suite(waitset_suite());
}
