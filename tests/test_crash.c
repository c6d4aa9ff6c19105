/* test_crash.c — what happens when a peer dies: a killed publisher is seen by
 * its subscribers (-EPIPE, readable fd), a reconnecting subscriber follows the
 * next publisher, a killed subscriber's slots come back at once. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "testutil.h"

/* A publisher child: open topic, publish `count` samples numbered from 1
 * (waiting for a subscriber first), then sleep until killed. If `done` is not
 * NULL, *done becomes a pipe that turns readable once every publish call,
 * wake included, has returned. */
static pid_t spawn_publisher(const char *topic, uint32_t count, int *done)
{
	int p[2] = { -1, -1 };

	if (done)
		ck_assert_int_eq(pipe(p), 0);
	pid_t pid = tu_fork_child();

	if (pid != 0) {
		if (done) {
			close(p[1]);
			*done = p[0];
		}
		return pid;
	}
	struct vdds_pub_opts o = { .slot_count = 8 };
	vdds_pub *pub;

	if (vdds_pub_open(&pub, topic, &o) < 0)
		_exit(TU_CHILD_OPEN_FAILED);
	if (tu_await_subscribers(pub, 1) < 0)
		_exit(TU_CHILD_TIMEOUT);
	for (uint32_t i = 1; i <= count; i++)
		if (vdds_pub_write(pub, &i, sizeof(i), 5000) < 0)
			_exit(TU_CHILD_WRITE_FAILED);
	if (done && write(p[1], "d", 1) != 1)
		_exit(TU_CHILD_PIPE_FAILED);
	for (;;)
		pause();
}

static void kill_and_reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

static uint32_t take_u32(vdds_sub *sub, struct vdds_sample *s)
{
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, s), 0);
	return *(const uint32_t *)s->data;
}

START_TEST(test_killed_publisher_wakes_a_blocked_subscriber_with_epipe)
{
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	pid_t pid = spawn_publisher("victim", 3, NULL);

	ck_assert_int_eq(tu_sub_open_retry(&sub, "victim", NULL), 0);
	for (uint32_t i = 1; i <= 3; i++) {
		ck_assert_uint_eq(take_u32(sub, &s), i);
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	}
	uint64_t t0 = tu_now_ns();

	kill_and_reap(pid);
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), -EPIPE);
	printf("blocking wait saw the publisher's death %.1f us after kill\n",
	       (tu_now_ns() - t0) / 1000.0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EPIPE);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EPIPE); /* and stays so */
	vdds_sub_close(sub);
}
END_TEST

START_TEST(test_killed_publisher_makes_the_fd_readable)
{
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	int done;
	char c;
	pid_t pid = spawn_publisher("victim", 2, &done);

	ck_assert_int_eq(tu_sub_open_retry(&sub, "victim", NULL), 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;

	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(sub), &ev), 0);
	/* drain what was published, by the fd contract */
	for (int got = 0; got < 2;) {
		int err = vdds_sub_take(sub, &s);

		if (err == -EAGAIN) {
			ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
			continue;
		}
		ck_assert_int_eq(err, 0);
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
		got++;
	}
	/* A wake the publisher decided on before our last take may still be in
	 * flight and cost one empty callback (notify/sub_fd.c); once its
	 * publish calls have returned, an empty ring means a quiet fd. */
	ck_assert_int_eq(read(done, &c, 1), 1);
	close(done);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 50), 0); /* quiet */
	uint64_t t0 = tu_now_ns();

	kill_and_reap(pid);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
	printf("epoll saw the publisher's death %.1f us after kill\n", (tu_now_ns() - t0) / 1000.0);
	int err = vdds_sub_take(sub, &s);

	if (err == -EAGAIN)
		err = vdds_sub_take(sub, &s); /* documented: once more at most */
	ck_assert_int_eq(err, -EPIPE);
	close(ep);
	vdds_sub_close(sub);
}
END_TEST

START_TEST(test_reconnecting_subscriber_follows_the_next_publisher)
{
	struct vdds_sub_opts o = { .reconnect = true };
	vdds_sub *sub;
	struct vdds_sample s, held;

	tu_private_rundir();
	pid_t pid = spawn_publisher("phoenix", 5, NULL);

	ck_assert_int_eq(tu_sub_open_retry(&sub, "phoenix", &o), 0);
	ck_assert_uint_eq(take_u32(sub, &held), 1); /* held across the restart */
	ck_assert_uint_eq(held.epoch, 0);
	for (uint32_t i = 2; i <= 5; i++) {
		ck_assert_uint_eq(take_u32(sub, &s), i);
		ck_assert_uint_eq(s.seq, i);
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	}
	kill_and_reap(pid);
	/* no publisher: not -EPIPE but a quiet wait */
	ck_assert_int_eq(vdds_sub_wait(sub, 100), -ETIMEDOUT);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	struct pollfd pfd = { .fd = vdds_sub_fd(sub), .events = POLLIN };

	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	pid = spawn_publisher("phoenix", 3, NULL);
	/* the fd wakes for the new publisher; take connects to it */
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	for (uint32_t i = 1; i <= 3; i++) {
		ck_assert_uint_eq(take_u32(sub, &s), i);
		ck_assert_uint_eq(s.epoch, 1);
		ck_assert_uint_eq(s.seq, i); /* a new publisher counts anew */
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	}
	/* the sample of the first publisher is still readable, then released */
	ck_assert_uint_eq(*(const uint32_t *)held.data, 1);
	ck_assert_int_eq(vdds_sub_release(sub, &held), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &held), -EINVAL);
	kill_and_reap(pid);
	vdds_sub_close(sub);
}
END_TEST

START_TEST(test_killed_subscriber_slots_come_back_at_once)
{
	struct vdds_pub_opts o = { .slot_count = 4 };
	vdds_pub *pub;
	vdds_sub *other;
	struct vdds_pub_stats st;
	void *buf;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "reap", &o), 0);
	ck_assert_int_eq(vdds_sub_open(&other, "reap", NULL), 0);
	int ready[2];

	ck_assert_int_eq(pipe(ready), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_sub *sub;
		struct vdds_sample s;

		if (vdds_sub_open(&sub, "reap", NULL) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		for (int i = 0; i < 4; i++) /* hold all four */
			if (vdds_sub_wait(sub, 5000) < 0 || vdds_sub_take(sub, &s) < 0)
				_exit(TU_CHILD_TAKE_FAILED);
		if (write(ready[1], "x", 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		for (;;)
			pause(); /* until SIGKILL */
	}
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	for (uint32_t i = 0; i < 4; i++) {
		struct vdds_sample s;

		ck_assert_int_eq(vdds_pub_write(pub, &i, sizeof(i), 1000), 0);
		ck_assert_int_eq(vdds_sub_take(other, &s), 0);
		ck_assert_int_eq(vdds_sub_release(other, &s), 0);
	}
	char c;

	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), -EAGAIN);
	kill(pid, SIGKILL);
	/* a blocked loan wakes when the hang-up is seen: no timer, no guess */
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 5000), 0);
	printf("loan got a slot %.1f us after the holder was killed\n",
	       (tu_now_ns() - t0) / 1000.0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	ck_assert_uint_eq(st.free_slots, 4);
	ck_assert_uint_eq(st.subscribers, 1);
	waitpid(pid, NULL, 0);
	vdds_sub_close(other);
	vdds_pub_close(pub);
}
END_TEST

static Suite *crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("peers_die");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_killed_publisher_wakes_a_blocked_subscriber_with_epipe);
	tcase_add_test(tc, test_killed_publisher_makes_the_fd_readable);
	tcase_add_test(tc, test_reconnecting_subscriber_follows_the_next_publisher);
	tcase_add_test(tc, test_killed_subscriber_slots_come_back_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(crash_suite());
}
