/* test_stream.c — long streams from one publisher to subscriber processes:
 * every message arrives once, in order and intact, while subscribers join and leave. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "testutil.h"

#define TOPIC "stream"
#define SLOT_COUNT 16        /* small, so the publisher keeps running out of slots */
#define WAIT_MS 10000        /* any single wait longer than this is a lost wakeup */
#define DEADLINE_SLACK_MS 20 /* a wait this close to WAIT_MS ended by its deadline */
#define MSG_BYTES 40
#define HOLD_MAX 4 /* most samples a subscriber holds at once */
#define MAIN_MESSAGES 1000000ull
#define CHURN_MESSAGES 300000ull
#define CHURN_SESSIONS 20 /* subscriptions of the revolving subscriber */

/* A message: a counter, 0..MSG_BYTES bytes derived from it, and a checksum
 * over both. Its length on the wire varies with the number of bytes. */
struct msg {
	uint64_t counter;
	uint64_t checksum;
	uint32_t nbytes;
	uint32_t pad;
	uint8_t bytes[MSG_BYTES];
};

#define MSG_HDR offsetof(struct msg, bytes)

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t msg_checksum(const struct msg *m)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ull, &m->counter, sizeof(m->counter));

	h = fnv1a(h, &m->nbytes, sizeof(m->nbytes));
	return fnv1a(h, m->bytes, m->nbytes);
}

/* Write message number counter into a loaned slot; returns its length. */
static size_t msg_fill(void *buf, uint64_t counter)
{
	struct msg *m = buf;

	m->counter = counter;
	m->nbytes = (uint32_t)(counter % (MSG_BYTES + 1));
	m->pad = 0;
	for (uint32_t j = 0; j < m->nbytes; j++)
		m->bytes[j] = (uint8_t)(counter * 131 + j);
	m->checksum = msg_checksum(m);
	return MSG_HDR + m->nbytes;
}

/* ------------------------------------------------------------ child processes */

/* A forked child reports failure through its exit status and a message on a
 * pipe; it never touches the parent's handles or Check. */
struct child {
	pid_t pid;
	int report; /* read end: why the child failed */
	int go;     /* write end: tells the child when to subscribe (-1: at once) */
	int ack;    /* read end: the child has subscribed */
};

static int child_fail(int report, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int child_fail(int report, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	va_end(ap);
	if (n > (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	if (write(report, msg, (size_t)n) < 0) {
		/* nothing left to tell it with; the exit status still says it */
	}
	return TU_CHILD_REPORTED;
}

struct child_io {
	int report, go, ack;
};

typedef int (*child_fn)(const void *arg, const struct child_io *io);

static void child_start(struct child *c, child_fn fn, const void *arg, int with_go)
{
	int rep[2], go[2] = { -1, -1 }, ack[2];

	ck_assert_int_eq(pipe2(rep, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ack, O_CLOEXEC), 0);
	if (with_go)
		ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	c->pid = tu_fork_child();
	if (c->pid == 0) {
		struct child_io io = { rep[1], go[0], ack[1] };

		close(rep[0]);
		close(ack[0]);
		if (with_go)
			close(go[1]);
		_exit(fn(arg, &io));
	}
	close(rep[1]);
	close(ack[1]);
	if (with_go)
		close(go[0]);
	c->report = rep[0];
	c->ack = ack[0];
	c->go = go[1];
}

/* Tell a waiting child to subscribe now, after `published` messages, and wait
 * until it has. Returns 0 or -errno (-ETIMEDOUT, -EPIPE: the child died). */
static int child_go(struct child *c, uint64_t published)
{
	struct pollfd pfd = { .fd = c->ack, .events = POLLIN };
	char byte;

	if (write(c->go, &published, sizeof(published)) != (ssize_t)sizeof(published))
		return -EPIPE;
	int n = poll(&pfd, 1, WAIT_MS);

	if (n == 0)
		return -ETIMEDOUT;
	return n > 0 && read(c->ack, &byte, 1) == 1 ? 0 : -EPIPE;
}

/* Wait for the child to exit. Returns its exit status (128 + signal if it was
 * killed) and its message in msg. */
static int child_finish(struct child *c, char *msg, size_t size)
{
	int status = 0;
	pid_t r;
	size_t len = 0;
	ssize_t n;

	do
		r = waitpid(c->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	while (len < size - 1 && (n = read(c->report, msg + len, size - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(c->report);
	close(c->ack);
	if (c->go >= 0)
		close(c->go);
	if (r != c->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --------------------------------------------------------------- subscriber */

enum style {
	STYLE_WAIT,  /* vdds_sub_wait, then take exactly one */
	STYLE_EPOLL, /* take until -EAGAIN, then epoll_wait on vdds_sub_fd */
	STYLE_BUSY,  /* take until -EAGAIN holding a few, release, vdds_sub_wait */
};

static const char *const style_names[] = { "wait", "epoll", "busy" };

/* What one subscriber process does. */
struct plan {
	enum style style;
	unsigned hold;     /* release after holding this many (1..HOLD_MAX) */
	int on_go;         /* subscribe when the parent says so, not at once */
	uint64_t count;    /* samples to take; 0: until the counter reaches last */
	uint64_t last;     /* the last counter the publisher sends */
	unsigned keep;     /* samples left unreleased when leaving */
	int abandon;       /* leave by exiting without vdds_sub_close */
	unsigned sessions; /* subscribe this many times, one after another (on_go) */
};

struct reader {
	const struct plan *plan;
	vdds_sub *sub;
	int epfd;
	struct vdds_sample held[HOLD_MAX];
	unsigned n_held;
	int keeping; /* holding the last plan->keep samples to the end */
	uint64_t first_seq, next_seq, got;
	char why[320];
};

static int reader_error(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reader_error(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int release_held(struct reader *r)
{
	for (unsigned i = 0; i < r->n_held; i++) {
		int err = vdds_sub_release(r->sub, &r->held[i]);

		if (err != 0)
			return reader_error(r, "release of seq %" PRIu64 " returned %d (%s)",
					    r->held[i].seq, err, vdds_strerror(err));
	}
	r->n_held = 0;
	return 0;
}

/* Block for more data in the plan's style; 0 when take should succeed. */
static int reader_block(struct reader *r)
{
	int err;

	if (!r->keeping && release_held(r) < 0)
		return -1;
	if (r->plan->style != STYLE_EPOLL) {
		uint64_t t0 = tu_now_ns();

		err = vdds_sub_wait(r->sub, WAIT_MS);
		uint64_t waited_ms = (tu_now_ns() - t0) / 1000000;

		if (err != 0)
			return reader_error(r,
					    "vdds_sub_wait returned %d (%s) after %" PRIu64
					    " samples, waiting for seq %" PRIu64 "%s",
					    err, vdds_strerror(err), r->got, r->next_seq,
					    err == -ETIMEDOUT ? ": lost wakeup" : "");
		/* at its deadline vdds_sub_wait looks at the ring once more, so a
		 * lost wakeup can also come back as 0, but only then */
		if (waited_ms >= WAIT_MS - DEADLINE_SLACK_MS)
			return reader_error(r,
					    "vdds_sub_wait returned 0 only at its %d ms "
					    "deadline (after %" PRIu64
					    " ms), waiting for seq %" PRIu64 ": lost wakeup",
					    WAIT_MS, waited_ms, r->next_seq);
		return 0;
	}
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(r->epfd, &ev, 1, WAIT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return reader_error(r,
				    "epoll_wait on vdds_sub_fd timed out after %" PRIu64
				    " samples, waiting for seq %" PRIu64 ": lost wakeup",
				    r->got, r->next_seq);
	if (n < 0)
		return reader_error(r, "epoll_wait: %s", strerror(errno));
	return 0;
}

/* Take the next sample into *s, blocking as the plan's style says. */
static int reader_next(struct reader *r, struct vdds_sample *s)
{
	int err;

	if (r->plan->style == STYLE_WAIT) {
		if (reader_block(r) < 0)
			return -1;
		err = vdds_sub_take(r->sub, s);
		if (err != 0)
			return reader_error(r, "take after a successful wait returned %d (%s)", err,
					    vdds_strerror(err));
		return 0;
	}
	while ((err = vdds_sub_take(r->sub, s)) == -EAGAIN)
		if (reader_block(r) < 0)
			return -1;
	if (err != 0)
		return reader_error(r, "take returned %d (%s) after %" PRIu64 " samples", err,
				    vdds_strerror(err), r->got);
	return 0;
}

/* Check one sample: intact, and right after the previous one. */
static int reader_check(struct reader *r, const struct vdds_sample *s)
{
	struct msg m;

	if (s->len < MSG_HDR || s->len > sizeof(m))
		return reader_error(r, "seq %" PRIu64 ": length %zu", s->seq, s->len);
	memcpy(&m, s->data, s->len);
	if (m.nbytes > MSG_BYTES || s->len != MSG_HDR + m.nbytes)
		return reader_error(r, "seq %" PRIu64 ": length %zu for %" PRIu32 " bytes", s->seq,
				    s->len, m.nbytes);
	if (m.checksum != msg_checksum(&m))
		return reader_error(r, "seq %" PRIu64 ": checksum mismatch (counter %" PRIu64 ")",
				    s->seq, m.counter);
	if (r->got > 0 && s->seq != r->next_seq)
		return reader_error(r, "seq %" PRIu64 " after %" PRIu64 ": %s", s->seq,
				    r->next_seq - 1,
				    s->seq < r->next_seq ? "duplicate or reordered" : "gap");
	if (m.counter != s->seq)
		return reader_error(r, "seq %" PRIu64 " carries counter %" PRIu64, s->seq,
				    m.counter);
	if (r->got == 0)
		r->first_seq = s->seq;
	r->next_seq = s->seq + 1;
	r->got++;
	return 0;
}

static int reader_done(const struct reader *r)
{
	const struct plan *p = r->plan;

	return p->count ? r->got == p->count : r->got > 0 && r->next_seq > p->last;
}

/* One subscription: open, read as the plan says, check every sample, leave.
 * Returns TU_CHILD_OK, or TU_CHILD_REPORTED once the failure is reported. */
static int run_session(const struct plan *p, const struct child_io *io, unsigned session)
{
	struct reader r = { .plan = p, .epfd = -1 };
	uint64_t published = 0;
	char name[32];
	struct vdds_sample s;
	int err;

	snprintf(name, sizeof(name), "%s(%u)", style_names[p->style], session);
	if (p->on_go) {
		struct pollfd pfd = { .fd = io->go, .events = POLLIN };

		if (poll(&pfd, 1, 60000) != 1 ||
		    read(io->go, &published, sizeof(published)) != (ssize_t)sizeof(published))
			return child_fail(io->report, "%s subscriber: no word to join", name);
	}
	err = tu_sub_open_retry(&r.sub, TOPIC, NULL);
	if (err != 0)
		return child_fail(io->report, "%s subscriber: vdds_sub_open returned %d (%s)", name,
				  err, vdds_strerror(err));
	if (p->style == STYLE_EPOLL) {
		struct epoll_event ev = { .events = EPOLLIN };

		r.epfd = epoll_create1(EPOLL_CLOEXEC);
		if (r.epfd < 0 || epoll_ctl(r.epfd, EPOLL_CTL_ADD, vdds_sub_fd(r.sub), &ev) < 0)
			return child_fail(io->report, "%s subscriber: epoll: %s", name,
					  strerror(errno));
	}
	if (write(io->ack, "!", 1) != 1)
		return child_fail(io->report, "%s subscriber: ack: %s", name, strerror(errno));

	while (!reader_done(&r)) {
		if (reader_next(&r, &s) < 0 || reader_check(&r, &s) < 0)
			return child_fail(io->report, "%s subscriber: %s", name, r.why);
		if (r.n_held == HOLD_MAX)
			return child_fail(io->report, "%s subscriber: holds too many", name);
		r.held[r.n_held++] = s;
		if (r.keeping)
			continue;
		/* from here the last `keep` samples stay held: leaving returns them */
		r.keeping = p->keep && r.got + p->keep == p->count;
		if ((r.keeping || r.n_held >= p->hold) && release_held(&r) < 0)
			return child_fail(io->report, "%s subscriber: %s", name, r.why);
	}
	if (p->keep && r.n_held != p->keep)
		return child_fail(io->report, "%s subscriber: holds %u, not %u", name, r.n_held,
				  p->keep);
	/* it joined after `published` messages: it sees exactly what came after */
	uint64_t first_expected = published + 1;

	if (r.first_seq != first_expected)
		return child_fail(io->report,
				  "%s subscriber: first seq %" PRIu64 ", expected %" PRIu64, name,
				  r.first_seq, first_expected);
	if (!p->count && (err = vdds_sub_take(r.sub, &s)) != -EAGAIN)
		return child_fail(io->report,
				  "%s subscriber: take after the last message "
				  "returned %d, seq %" PRIu64,
				  name, err, err ? 0 : s.seq);
	if (p->abandon)
		_exit(TU_CHILD_OK); /* like a crash: the publisher must notice and reclaim */
	if (!p->keep && release_held(&r) < 0)
		return child_fail(io->report, "%s subscriber: %s", name, r.why);
	if (r.epfd >= 0)
		close(r.epfd);
	vdds_sub_close(r.sub);
	return TU_CHILD_OK;
}

static int run_subscriber(const void *arg, const struct child_io *io)
{
	const struct plan *p = arg;

	for (unsigned i = 0; i < (p->sessions ? p->sessions : 1); i++)
		if (run_session(p, io, i) != TU_CHILD_OK)
			return TU_CHILD_REPORTED;
	return TU_CHILD_OK;
}

/* ---------------------------------------------------------------- publisher */

static vdds_pub *open_publisher(void)
{
	struct vdds_pub_opts opts = { .slot_size = sizeof(struct msg), .slot_count = SLOT_COUNT };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &opts), 0);
	return pub;
}

struct pub_run {
	uint64_t blocked; /* loans that found no free slot and had to wait */
	char why[160];
};

/* Publish messages first..last, blocking for slots. 0, or -1 with run->why. */
static int publish_range(vdds_pub *pub, uint64_t first, uint64_t last, struct pub_run *run)
{
	for (uint64_t i = first; i <= last; i++) {
		void *buf;
		int err = vdds_pub_loan(pub, &buf, 0);

		if (err == -EAGAIN) {
			run->blocked++;
			err = vdds_pub_loan(pub, &buf, WAIT_MS);
		}
		if (err != 0) {
			snprintf(run->why, sizeof(run->why),
				 "loan for message %" PRIu64 " returned %d (%s)", i, err,
				 vdds_strerror(err));
			return -1;
		}
		err = vdds_pub_publish(pub, buf, msg_fill(buf, i));
		if (err != 0) {
			snprintf(run->why, sizeof(run->why),
				 "publish of message %" PRIu64 " returned %d (%s)", i, err,
				 vdds_strerror(err));
			return -1;
		}
	}
	return 0;
}

/* Reap every child; fail the test naming each one that failed, and the
 * publisher's own error if it had one. */
static void finish_children(struct child *kids, int n, const char *const *names,
			    const struct pub_run *run)
{
	char all[2048] = "", msg[600];
	int failed = 0;

	for (int i = 0; i < n; i++) {
		int status = child_finish(&kids[i], msg, sizeof(msg));

		if (status != TU_CHILD_OK) {
			size_t used = strlen(all);

			snprintf(all + used, sizeof(all) - used, "[%s exited %d: %s] ", names[i],
				 status, msg);
			failed = 1;
		}
	}
	ck_assert_msg(!run->why[0], "publisher: %s; subscribers: %s", run->why, all);
	ck_assert_msg(!failed, "%s", all);
}

/* ------------------------------------------------------------------- tests */

START_TEST(test_three_subscribers_see_every_message_in_order)
{
	static const char *const names[] = { "wait subscriber", "epoll subscriber",
					     "busy subscriber" };
	struct plan plans[3] = {
		{ .style = STYLE_WAIT, .hold = 1, .last = MAIN_MESSAGES },
		{ .style = STYLE_EPOLL, .hold = 1, .last = MAIN_MESSAGES },
		{ .style = STYLE_BUSY, .hold = HOLD_MAX, .last = MAIN_MESSAGES },
	};
	struct child kids[3];
	struct pub_run run = { 0 };
	struct vdds_pub_stats st;

	tu_private_rundir();
	/* fork before the publisher exists: no handle or thread crosses fork */
	for (int i = 0; i < 3; i++)
		child_start(&kids[i], run_subscriber, &plans[i], 0);
	vdds_pub *pub = open_publisher();

	if (tu_await_subscribers(pub, 3) != 0)
		snprintf(run.why, sizeof(run.why), "three subscribers did not connect");
	uint64_t t0 = tu_now_ns();

	if (!run.why[0])
		publish_range(pub, 1, MAIN_MESSAGES, &run);
	uint64_t t1 = tu_now_ns();

	finish_children(kids, 3, names, &run);
	uint64_t t2 = tu_now_ns();

	ck_assert_int_eq(tu_await_quiet(pub, &st), 0);
	ck_assert_uint_eq(st.free_slots, SLOT_COUNT);
	ck_assert_uint_eq(st.loaned_slots, 0);
	ck_assert_uint_eq(st.published, MAIN_MESSAGES);
	ck_assert_uint_eq(st.disconnects, 3);
	ck_assert_uint_eq(st.kicked, 0);
	printf("test_stream: %llu messages to 3 subscriber processes: published in %.2f s, "
	       "all received in %.2f s; %" PRIu64 " loans blocked, %" PRIu64 " wakeups\n",
	       MAIN_MESSAGES, (double)(t1 - t0) / 1e9, (double)(t2 - t0) / 1e9, run.blocked,
	       st.wakeups);
	vdds_pub_close(pub);
}
END_TEST

struct join {
	uint64_t at; /* messages published before the child subscribes */
	int child;
};

static int join_cmp(const void *a, const void *b)
{
	const struct join *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

START_TEST(test_subscribers_joining_and_leaving_see_contiguous_ranges)
{
	const uint64_t n = CHURN_MESSAGES;
	static const char *const names[] = { "steady subscriber", "early leaver",
					     "abandoning subscriber", "late joiner",
					     "revolving subscriber" };
	struct plan plans[5] = {
		/* there from first to last */
		{ .style = STYLE_WAIT, .hold = 1, .last = n },
		/* joins at n/3, takes 10000, closes still holding two */
		{ .style = STYLE_EPOLL, .hold = 1, .on_go = 1, .count = 10000, .keep = 2 },
		/* joins at n/2, takes 5000, exits without closing, holding three */
		{ .style = STYLE_BUSY,
		  .hold = 3,
		  .on_go = 1,
		  .count = 5000,
		  .keep = 3,
		  .abandon = 1 },
		/* joins at 2n/3, stays to the end */
		{ .style = STYLE_BUSY, .hold = 2, .on_go = 1, .last = n },
		/* joins, takes 2000 and leaves holding one, CHURN_SESSIONS times */
		{ .style = STYLE_EPOLL,
		  .hold = 1,
		  .on_go = 1,
		  .count = 2000,
		  .keep = 1,
		  .sessions = CHURN_SESSIONS },
	};
	struct join joins[3 + CHURN_SESSIONS] = {
		{ n / 3, 1 },
		{ n / 2, 2 },
		{ 2 * n / 3, 3 },
	};
	struct child kids[5];
	struct pub_run run = { 0 };
	struct vdds_pub_stats st;
	uint64_t done = 0;

	for (int i = 0; i < CHURN_SESSIONS; i++)
		joins[3 + i] = (struct join){ (uint64_t)(i + 1) * n / (CHURN_SESSIONS + 2) + 7, 4 };
	qsort(joins, 3 + CHURN_SESSIONS, sizeof(joins[0]), join_cmp);
	tu_private_rundir();
	for (int i = 0; i < 5; i++)
		child_start(&kids[i], run_subscriber, &plans[i], plans[i].on_go);
	vdds_pub *pub = open_publisher();

	if (tu_await_subscribers(pub, 1) != 0)
		snprintf(run.why, sizeof(run.why), "the steady subscriber did not connect");
	/* pause at each join until the child has subscribed: it must then see
	 * exactly the messages published after that point */
	for (int i = 0; i < 3 + CHURN_SESSIONS && !run.why[0]; i++) {
		if (publish_range(pub, done + 1, joins[i].at, &run) < 0)
			break;
		done = joins[i].at;
		int err = child_go(&kids[joins[i].child], done);

		if (err != 0)
			snprintf(run.why, sizeof(run.why),
				 "%s did not join after %" PRIu64 " messages: %d (%s)",
				 names[joins[i].child], done, err, vdds_strerror(err));
	}
	if (!run.why[0])
		publish_range(pub, done + 1, n, &run);
	finish_children(kids, 5, names, &run);

	ck_assert_int_eq(tu_await_quiet(pub, &st), 0);
	ck_assert_uint_eq(st.free_slots, SLOT_COUNT);
	ck_assert_uint_eq(st.loaned_slots, 0);
	ck_assert_uint_eq(st.published, n);
	ck_assert_uint_eq(st.disconnects, 4 + CHURN_SESSIONS);
	ck_assert_uint_eq(st.kicked, 0);
	vdds_pub_close(pub);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("stream");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_three_subscribers_see_every_message_in_order);
	tcase_add_test(tc, test_subscribers_joining_and_leaving_see_contiguous_ranges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(stream_suite());
}
