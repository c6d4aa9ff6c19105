/* test_depart.c — a subscriber that leaves frees its place at once (issue
 * #29): against publishers that make no call, after a waitset's removal, when
 * closed while still in a waitset, and under churn from several threads. Run
 * once per waitset backend (CTest sets VDDS_BACKEND to io_uring, then epoll).
 * The publishers live in another process, which makes no vdds call at all
 * while the test runs: only its service thread can free a place there. */
#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>

#include "introspect.h"
#include "testutil.h"

#define MAX_QUIET 4
#define CHURN_THREADS 4
#define CHURN_CYCLES 60

/* What the quiet publishers' process reports for each topic once told to
 * stop: its statistics after every subscriber is gone. */
struct quiet_report {
	int32_t await_err; /* tu_await_quiet: 0, or -ETIMEDOUT */
	uint32_t subscribers, free_slots, slot_count;
	uint64_t disconnects;
};

/* ---------------------------------------------------------------- helpers */

static const char *forced_backend(void)
{
	const char *b = getenv("VDDS_BACKEND");

	return b && b[0] ? b : NULL;
}

static vdds_waitset *new_waitset(void)
{
	vdds_waitset *ws;

	ck_assert_int_eq(vdds_waitset_new(&ws), 0);
	if (forced_backend())
		ck_assert_str_eq(vdds_waitset_backend(ws), forced_backend());
	return ws;
}

static void topic_name(char *buf, size_t size, const char *prefix, int i)
{
	snprintf(buf, size, "%s%d", prefix, i);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The publishers' process: open n topics, say so on ctl, then make no vdds
 * call at all until the parent says stop; then wait for every subscriber to
 * be gone and report each topic's statistics. */
__attribute__((noreturn)) static void quiet_child(int ctl, const char *prefix, int n,
						  const struct vdds_pub_opts *o)
{
	vdds_pub *pubs[MAX_QUIET];
	struct quiet_report r[MAX_QUIET];
	char name[32], byte = 'u';

	for (int i = 0; i < n; i++) {
		topic_name(name, sizeof(name), prefix, i);
		if (vdds_pub_open(&pubs[i], name, o) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
	}
	if (write_all(ctl, &byte, 1) < 0 || read_all(ctl, &byte, 1) < 0)
		_exit(TU_CHILD_PIPE_FAILED);
	for (int i = 0; i < n; i++) {
		struct vdds_pub_stats st;

		r[i].await_err = tu_await_quiet(pubs[i], &st);
		r[i].subscribers = st.subscribers;
		r[i].free_slots = st.free_slots;
		r[i].slot_count = st.slot_count;
		r[i].disconnects = st.disconnects;
	}
	if (write_all(ctl, r, sizeof(r[0]) * (size_t)n) < 0)
		_exit(TU_CHILD_PIPE_FAILED);
	for (int i = 0; i < n; i++)
		vdds_pub_close(pubs[i]);
	_exit(TU_CHILD_OK);
}

/* Start n quiet publishers "<prefix>0".. in a child that holds none of our
 * fds (a copy of a subscriber's socket would hide its hang-up); returns once
 * they listen. */
static pid_t start_quiet(const char *prefix, int n, const struct vdds_pub_opts *o, int *ctl)
{
	int sv[2];
	char byte;

	ck_assert_int_le(n, MAX_QUIET);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int keep = sv[1];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0)
		quiet_child(keep, prefix, n, o);
	close(sv[1]);
	*ctl = sv[0];
	ck_assert_int_eq(read_all(*ctl, &byte, 1), 0);
	return pid;
}

/* Tell the quiet publishers to stop; fill r[0..n) with their reports. */
static void stop_quiet(pid_t pid, int ctl, int n, struct quiet_report *r)
{
	char byte = 's';

	ck_assert_int_eq(write_all(ctl, &byte, 1), 0);
	ck_assert_int_eq(read_all(ctl, r, sizeof(r[0]) * (size_t)n), 0);
	close(ctl);
	tu_assert_exit(pid, TU_CHILD_OK);
}

/* Every subscriber gone, every slot back, and `departed` hang-ups seen. */
static void assert_quiet(const struct quiet_report *r, uint64_t departed)
{
	ck_assert_int_eq(r->await_err, 0);
	ck_assert_uint_eq(r->subscribers, 0);
	ck_assert_uint_eq(r->free_slots, r->slot_count);
	ck_assert_uint_eq(r->disconnects, departed);
}

/* Ask topic's publisher (another process) about itself until it lists n
 * subscribers and counts n; 0, or -ETIMEDOUT after TU_AWAIT_NS (a backstop),
 * or introspection's error. Asking makes the publisher's control side answer;
 * its data path makes no call, so this cannot free anything itself. */
static int await_info_subscribers(const char *topic, uint32_t n, struct vdds__msg_info *info)
{
	uint64_t t0 = tu_now_ns();
	int err;

	while ((err = vdds__introspect(getenv("VDDS_DIR"), topic, info, 5000)) == 0 &&
	       (info->n_subs != n || info->subscribers != n)) {
		if (tu_now_ns() - t0 > TU_AWAIT_NS)
			return -ETIMEDOUT;
		tu_sleep_us(1000);
	}
	return err;
}

/* How many polls this process's io_urings hold (the PollList of each
 * ring's fdinfo): a poll holds a reference to its file. -1 if there is no
 * ring, or its fdinfo has no PollList (the epoll backend; another kernel). */
static int ring_polls(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int polls = -1;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[300], link[64], line[256];
		ssize_t n;
		int in_list = 0;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:[io_uring]") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
		FILE *f = fopen(path, "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "PollList:", 9) == 0) {
				in_list = 1;
				polls = polls < 0 ? 0 : polls;
			} else if (in_list && strncmp(line, "  op=", 5) == 0) {
				polls++;
			} else {
				in_list = 0;
			}
		}
		fclose(f);
	}
	closedir(d);
	return polls;
}

/* io_uring: the rings hold no poll (epoll: nothing to look at). */
static void assert_no_polls(void)
{
	int polls = ring_polls();

	if (forced_backend() && strcmp(forced_backend(), "io_uring") == 0)
		ck_assert_int_eq(polls, 0);
}

static void assert_open(vdds_sub **sub, const char *topic, int cycle)
{
	int err = vdds_sub_open(sub, topic, NULL);

	ck_assert_msg(err == 0, "open %d of %s: %s (%s)", cycle, topic, vdds_strerror(err),
		      vdds_last_error_detail());
}

/* ------------------------------------------------------- a quiet publisher */

START_TEST(test_a_publisher_that_makes_no_call_lets_twenty_subscribers_in_one_after_another)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .max_subscribers = 1 };
	struct quiet_report r;
	int ctl;
	pid_t pid = start_quiet("place", 1, &o, &ctl);
	vdds_sub *sub, *second;

	/* each closed, then the next opened at once: the publisher's service
	 * thread sees the hang-up before the next HELLO (it arrives later on
	 * the same epoll set), and that alone must free the one place */
	for (int i = 0; i < 20; i++) {
		assert_open(&sub, "place0", i);
		vdds_sub_close(sub);
	}
	/* the limit still holds */
	assert_open(&sub, "place0", 20);
	ck_assert_int_eq(vdds_sub_open(&second, "place0", NULL), -ENOSPC);
	ck_assert_str_eq(vdds_last_error_detail(), "subscriber limit reached");
	vdds_sub_close(sub);
	stop_quiet(pid, ctl, 1, &r);
	assert_quiet(&r, 21);
}
END_TEST

/* ----------------------------------------------------------- the waitsets */

START_TEST(test_a_subscriber_removed_from_a_waitset_and_closed_leaves_its_publisher_at_once)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .max_subscribers = 1 };
	struct vdds__msg_info info;
	struct vdds_event ev[4];
	struct quiet_report r;
	int ctl;
	pid_t pid = start_quiet("removed", 1, &o, &ctl);
	vdds_waitset *ws = new_waitset();

	for (int i = 0; i < 5; i++) {
		vdds_sub *sub;

		assert_open(&sub, "removed0", i);
		ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
		/* the wait submits the polls: from here the kernel holds the
		 * subscriber's files until they are cancelled */
		ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
		ck_assert_int_eq(await_info_subscribers("removed0", 1, &info), 0);
		ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
		assert_no_polls();
		vdds_sub_close(sub);
		/* read back from the publisher's process, no wait on ws since */
		ck_assert_int_eq(await_info_subscribers("removed0", 0, &info), 0);
	}
	vdds_waitset_free(ws);
	stop_quiet(pid, ctl, 1, &r);
	assert_quiet(&r, 5);
}
END_TEST

/* A publisher that publishes all the time (DROP_OLDEST: it never blocks)
 * until the parent says stop, then reports as quiet_child does. */
__attribute__((noreturn)) static void flowing_child(int ctl, const char *topic)
{
	struct vdds_pub_opts o = { .max_subscribers = 1, .overflow = VDDS_OVERFLOW_DROP_OLDEST };
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	struct vdds_pub_stats st;
	struct quiet_report r;
	vdds_pub *pub;
	char byte = 'u';

	if (vdds_pub_open(&pub, topic, &o) < 0)
		_exit(TU_CHILD_OPEN_FAILED);
	if (write_all(ctl, &byte, 1) < 0)
		_exit(TU_CHILD_PIPE_FAILED);
	while (poll(&pfd, 1, 0) == 0) {
		int err = vdds_pub_write(pub, "x", 1, 0);

		if (err < 0 && err != -ENOBUFS)
			_exit(TU_CHILD_WRITE_FAILED);
		tu_sleep_us(50);
	}
	if (read_all(ctl, &byte, 1) < 0)
		_exit(TU_CHILD_PIPE_FAILED);
	r.await_err = tu_await_subscribers(pub, 0);
	if (vdds_pub_stats(pub, &st) < 0)
		_exit(TU_CHILD_WRONG_RESULT);
	r.subscribers = st.subscribers;
	r.free_slots = st.free_slots;
	r.slot_count = st.slot_count;
	r.disconnects = st.disconnects;
	if (write_all(ctl, &r, sizeof(r)) < 0)
		_exit(TU_CHILD_PIPE_FAILED);
	vdds_pub_close(pub);
	_exit(TU_CHILD_OK);
}

START_TEST(test_a_subscriber_removed_while_samples_flow_leaves_its_publisher_at_once)
{
	tu_private_rundir();
	struct vdds__msg_info info;
	struct vdds_event ev[4];
	struct quiet_report r;
	int sv[2];
	char byte;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int keep = sv[1];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0)
		flowing_child(keep, "flowing");
	close(sv[1]);
	ck_assert_int_eq(read_all(sv[0], &byte, 1), 0);
	vdds_waitset *ws = new_waitset();

	for (int i = 0; i < 10; i++) {
		vdds_sub *sub;
		struct vdds_sample s;
		int taken = 0;
		uint64_t t0 = tu_now_ns();

		assert_open(&sub, "flowing", i);
		ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
		/* samples keep waking the subscriber's poll, so that the
		 * removal below meets wakeups in flight */
		while (taken < 20) {
			ck_assert_msg(tu_now_ns() - t0 < TU_AWAIT_NS, "cycle %d: %d taken", i,
				      taken);
			if (vdds_waitset_wait(ws, ev, 4, 100) < 1)
				continue;
			while (vdds_sub_take(sub, &s) == 0) {
				ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
				taken++;
			}
		}
		/* drained and armed: the next sample writes the eventfd, and
		 * the poll's wakeup waits as task work (DEFER_TASKRUN) that no
		 * wait runs, for the removal to meet (-EALREADY) */
		do {
			while (vdds_sub_take(sub, &s) == 0)
				ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
		} while (vdds_waitset_wait(ws, ev, 4, 0) != -ETIMEDOUT);
		tu_sleep_us(1000);
		ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(sub)), 0);
		assert_no_polls();
		vdds_sub_close(sub);
		ck_assert_int_eq(await_info_subscribers("flowing", 0, &info), 0);
	}
	vdds_waitset_free(ws);
	byte = 's';
	ck_assert_int_eq(write_all(sv[0], &byte, 1), 0);
	ck_assert_int_eq(read_all(sv[0], &r, sizeof(r)), 0);
	close(sv[0]);
	tu_assert_exit(pid, TU_CHILD_OK);
	ck_assert_int_eq(r.await_err, 0);
	ck_assert_uint_eq(r.subscribers, 0);
	ck_assert_uint_eq(r.disconnects, 10);
}
END_TEST

START_TEST(test_closing_a_subscriber_still_in_two_waitsets_takes_it_out_of_both)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .max_subscribers = 1 };
	struct vdds_sub_opts so = { .spin_ns = 100000 }; /* the waitset spins on it */
	struct vdds__msg_info info;
	struct vdds_event ev[4];
	struct quiet_report r;
	int ctl;
	pid_t pid = start_quiet("inset", 1, &o, &ctl);
	vdds_waitset *a = new_waitset(), *b = new_waitset();
	vdds_sub *sub;

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(vdds_sub_open(&sub, "inset0", &so), 0);
		int key = vdds_sub_fd(sub);

		ck_assert_int_eq(vdds_waitset_add_sub(a, sub, NULL), 0);
		ck_assert_int_eq(vdds_waitset_add_sub(b, sub, NULL), 0);
		ck_assert_int_eq(vdds_waitset_wait(a, ev, 4, 10), -ETIMEDOUT);
		ck_assert_int_eq(vdds_waitset_wait(b, ev, 4, 10), -ETIMEDOUT);
		vdds_sub_close(sub); /* no remove */
		assert_no_polls();
		/* neither waitset looks at it again (the spin would read it) */
		ck_assert_int_eq(vdds_waitset_wait(a, ev, 4, 10), -ETIMEDOUT);
		ck_assert_int_eq(vdds_waitset_wait(b, ev, 4, 10), -ETIMEDOUT);
		ck_assert_int_eq(vdds_waitset_remove(a, key), -ENOENT);
		ck_assert_int_eq(vdds_waitset_remove(b, key), -ENOENT);
		/* and the publisher saw it leave */
		ck_assert_int_eq(await_info_subscribers("inset0", 0, &info), 0);
	}
	/* a waitset freed first forgets its members: closing one later is fine */
	ck_assert_int_eq(vdds_sub_open(&sub, "inset0", &so), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(a, sub, NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(b, sub, NULL), 0);
	ck_assert_int_eq(vdds_waitset_wait(a, ev, 4, 10), -ETIMEDOUT);
	vdds_waitset_free(a);
	ck_assert_int_eq(vdds_waitset_wait(b, ev, 4, 10), -ETIMEDOUT);
	vdds_sub_close(sub);
	ck_assert_int_eq(vdds_waitset_wait(b, ev, 4, 10), -ETIMEDOUT);
	/* and a waitset freed with a member lets go of it then, not when the
	 * kernel's teardown of its ring gets to it: the place is free at once */
	ck_assert_int_eq(vdds_sub_open(&sub, "inset0", &so), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(b, sub, NULL), 0);
	ck_assert_int_eq(vdds_waitset_wait(b, ev, 4, 10), -ETIMEDOUT);
	vdds_waitset_free(b);
	vdds_sub_close(sub);
	assert_open(&sub, "inset0", 7);
	vdds_sub_close(sub);
	stop_quiet(pid, ctl, 1, &r);
	assert_quiet(&r, 8);
}
END_TEST

START_TEST(test_a_hang_up_reaped_while_another_member_is_removed_is_reported_without_sleeping)
{
	tu_private_rundir();
	struct vdds_event ev[4];
	struct vdds_sample s;
	int dying_ctl, staying_ctl;
	pid_t dying = start_quiet("dying", 1, NULL, &dying_ctl);
	pid_t staying = start_quiet("staying", 1, NULL, &staying_ctl);
	vdds_waitset *ws = new_waitset();
	vdds_sub *a, *b;

	ck_assert_int_eq(vdds_sub_open(&a, "dying0", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&b, "staying0", NULL), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, a, a), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, b, b), 0);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
	/* a's publisher is gone before b is removed: with io_uring, the
	 * completion saying so is reaped by the removal, not by a wait */
	kill(dying, SIGKILL);
	ck_assert_int_eq(waitpid(dying, NULL, 0), dying);
	close(dying_ctl);
	ck_assert_int_eq(vdds_waitset_remove(ws, vdds_sub_fd(b)), 0);
	/* forever: only the test's timeout ends a wait that missed it */
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, -1), 1);
	ck_assert_ptr_eq(ev[0].user, a);
	ck_assert_int_eq(vdds_sub_take(a, &s), -EPIPE);
	vdds_waitset_free(ws);
	vdds_sub_close(a);
	vdds_sub_close(b);
	kill(staying, SIGKILL);
	ck_assert_int_eq(waitpid(staying, NULL, 0), staying);
	close(staying_ctl);
}
END_TEST

START_TEST(test_closing_a_publisher_still_in_a_waitset_takes_it_out)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .no_service_thread = true };
	struct vdds_event ev[4];
	vdds_waitset *ws = new_waitset();
	vdds_pub *pub;
	int fds_before = tu_count_fds();

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(vdds_pub_open(&pub, "selfserved", &o), 0);
		int key = vdds_pub_fd(pub);

		ck_assert_int_eq(vdds_waitset_add_pub(ws, pub, pub), 0);
		ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
		vdds_pub_close(pub); /* no remove */
		assert_no_polls();
		ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 10), -ETIMEDOUT);
		ck_assert_int_eq(vdds_waitset_remove(ws, key), -ENOENT);
	}
	/* nothing of the publishers is held open behind the closed fds */
	ck_assert_int_eq(tu_count_fds(), fds_before);
	vdds_waitset_free(ws);
}
END_TEST

/* ------------------------------------------------------------------ churn */

struct churn {
	int id;
	_Atomic uint64_t *opened; /* per topic */
	_Atomic int *failures;
	char first_failure[160]; /* this thread's */
};

/* One thread's churn: open subscribers on random topics, hold up to two at
 * once, sometimes in the thread's own waitset (closed with or without
 * removing), with random short pauses; every open must succeed. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(c->id + 1);
	vdds_sub *held[2] = { NULL, NULL };
	struct vdds_event ev[4];
	vdds_waitset *ws = NULL;
	char topic[32];

	if (vdds_waitset_new(&ws) < 0)
		ws = NULL;
	for (int i = 0; i < CHURN_CYCLES; i++) {
		int k = (int)(tu_xorshift(&seed) % 2), t = (int)(tu_xorshift(&seed) % 3);

		if (held[k]) {
			uint64_t how = tu_xorshift(&seed) % 3;

			if (how == 1 && ws)
				vdds_waitset_remove(ws, vdds_sub_fd(held[k]));
			vdds_sub_close(held[k]); /* how 2: closed while in ws */
			held[k] = NULL;
		}
		topic_name(topic, sizeof(topic), "churn", t);
		int err = vdds_sub_open(&held[k], topic, NULL);

		if (err < 0) {
			held[k] = NULL;
			if (atomic_fetch_add(c->failures, 1) == 0 || !c->first_failure[0])
				snprintf(c->first_failure, sizeof(c->first_failure),
					 "thread %d cycle %d %s: %s (%s)", c->id, i, topic,
					 vdds_strerror(err), vdds_last_error_detail());
			continue;
		}
		atomic_fetch_add(&c->opened[t], 1);
		if (ws && tu_xorshift(&seed) % 2 && vdds_waitset_add_sub(ws, held[k], NULL) == 0)
			vdds_waitset_wait(ws, ev, 4, 0);
		tu_sleep_us((long)(tu_xorshift(&seed) % 300));
	}
	for (int k = 0; k < 2; k++)
		vdds_sub_close(held[k]);
	vdds_waitset_free(ws);
	return NULL;
}

START_TEST(test_subscribers_churning_from_four_threads_against_three_quiet_publishers_get_in)
{
	tu_private_rundir();
	struct quiet_report r[3];
	int ctl;
	pid_t pid = start_quiet("churn", 3, NULL, &ctl); /* 32 places each */
	_Atomic uint64_t opened[3] = { 0, 0, 0 };
	_Atomic int failures = 0;
	struct churn c[CHURN_THREADS];
	pthread_t th[CHURN_THREADS];

	for (int i = 0; i < CHURN_THREADS; i++) {
		c[i] = (struct churn){ .id = i, .opened = opened, .failures = &failures };
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_main, &c[i]), 0);
	}
	for (int i = 0; i < CHURN_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < CHURN_THREADS; i++)
		ck_assert_msg(c[i].first_failure[0] == 0, "%d opens failed, e.g. %s",
			      atomic_load(&failures), c[i].first_failure);
	ck_assert_int_eq(atomic_load(&failures), 0);
	/* more subscribers came and went than any topic has places */
	for (int t = 0; t < 3; t++)
		ck_assert_uint_gt(atomic_load(&opened[t]), 32);
	stop_quiet(pid, ctl, 3, r);
	for (int t = 0; t < 3; t++)
		assert_quiet(&r[t], atomic_load(&opened[t]));
}
END_TEST

/* --------------------------------- a busy data path (the ThreadSanitizer's) */

struct busy_pub {
	vdds_pub *pub;
	atomic_int stop;
	int err;
};

/* Publish in bursts with pauses, so that a place freed by the service thread
 * meets a data path that is sometimes in the middle of a publish and
 * sometimes idle. DROP_OLDEST: never blocks. */
static void *busy_pub_main(void *arg)
{
	struct busy_pub *b = arg;
	uint64_t seed = 12345;

	while (!atomic_load(&b->stop)) {
		for (int i = 0; i < 4; i++) {
			int err = vdds_pub_write(b->pub, "x", 1, 0);

			if (err < 0 && err != -ENOBUFS) {
				b->err = err;
				return NULL;
			}
		}
		tu_sleep_us((long)(tu_xorshift(&seed) % 2000));
	}
	return NULL;
}

static void *churn_one_place(void *arg)
{
	struct churn *c = arg;
	uint64_t seed = 777u + (uint64_t)c->id;
	struct vdds_sample s;

	for (int i = 0; i < 200; i++) {
		vdds_sub *sub;
		int err = vdds_sub_open(&sub, "busy", NULL);

		if (err < 0) {
			if (atomic_fetch_add(c->failures, 1) == 0 || !c->first_failure[0])
				snprintf(c->first_failure, sizeof(c->first_failure),
					 "thread %d cycle %d: %s (%s)", c->id, i,
					 vdds_strerror(err), vdds_last_error_detail());
			continue;
		}
		atomic_fetch_add(&c->opened[0], 1);
		/* hold a sample now and then: the slots it holds come back
		 * when the data path next runs, the place at once */
		if (tu_xorshift(&seed) % 2 && vdds_sub_wait(sub, 5) == 0 &&
		    vdds_sub_take(sub, &s) == 0 && tu_xorshift(&seed) % 2)
			vdds_sub_release(sub, &s);
		vdds_sub_close(sub);
	}
	return NULL;
}

START_TEST(test_a_publishing_data_path_and_subscribers_reusing_its_two_places_agree)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 8,
				   .max_subscribers = 2,
				   .history = 2,
				   .overflow = VDDS_OVERFLOW_DROP_OLDEST };
	struct busy_pub b = { 0 };
	_Atomic uint64_t opened[1] = { 0 };
	_Atomic int failures = 0;
	struct churn c[2];
	pthread_t pt, th[2];
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_open(&b.pub, "busy", &o), 0);
	ck_assert_int_eq(pthread_create(&pt, NULL, busy_pub_main, &b), 0);
	for (int i = 0; i < 2; i++) {
		c[i] = (struct churn){ .id = i, .opened = opened, .failures = &failures };
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_one_place, &c[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	atomic_store(&b.stop, 1);
	ck_assert_int_eq(pthread_join(pt, NULL), 0);
	ck_assert_int_eq(b.err, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(c[i].first_failure[0] == 0, "%d opens failed, e.g. %s",
			      atomic_load(&failures), c[i].first_failure);
	ck_assert_uint_eq(atomic_load(&opened[0]), 400);
	ck_assert_int_eq(tu_await_subscribers(b.pub, 0), 0);
	ck_assert_int_eq(vdds_pub_stats(b.pub, &st), 0);
	ck_assert_uint_eq(st.disconnects, 400);
	/* every slot back but the history's two */
	ck_assert_uint_ge(st.published, 2);
	ck_assert_uint_eq(st.free_slots, st.slot_count - 2);
	vdds_pub_close(b.pub);
}
END_TEST

static Suite *depart_suite(void)
{
	Suite *s = suite_create("depart");
	TCase *quiet = tcase_create("quiet publisher");
	TCase *ws = tcase_create("waitsets");
	TCase *churn = tcase_create("churn");

	tcase_set_timeout(quiet, 60);
	tcase_add_test(
		quiet,
		test_a_publisher_that_makes_no_call_lets_twenty_subscribers_in_one_after_another);
	suite_add_tcase(s, quiet);

	tcase_set_timeout(ws, 60);
	tcase_add_test(
		ws,
		test_a_subscriber_removed_from_a_waitset_and_closed_leaves_its_publisher_at_once);
	tcase_add_test(ws,
		       test_a_subscriber_removed_while_samples_flow_leaves_its_publisher_at_once);
	tcase_add_test(ws, test_closing_a_subscriber_still_in_two_waitsets_takes_it_out_of_both);
	tcase_add_test(ws, test_closing_a_publisher_still_in_a_waitset_takes_it_out);
	tcase_add_test(
		ws,
		test_a_hang_up_reaped_while_another_member_is_removed_is_reported_without_sleeping);
	suite_add_tcase(s, ws);

	tcase_set_timeout(churn, 120);
	tcase_add_test(
		churn,
		test_subscribers_churning_from_four_threads_against_three_quiet_publishers_get_in);
	tcase_add_test(churn,
		       test_a_publishing_data_path_and_subscribers_reusing_its_two_places_agree);
	suite_add_tcase(s, churn);
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

	if (forced && strcmp(forced, "io_uring") == 0 && (err = io_uring_setup_errno()) != 0) {
		printf("SKIP: test_depart, io_uring pass: io_uring_setup: %s\n", strerror(err));
		return TU_SKIP;
	}
	return tu_run_suite(depart_suite());
}
