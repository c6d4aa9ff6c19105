/* test_levelfd.c — the fd contract: vdds_sub_fd() is level-triggered from the
 * moment of open, readable exactly when vdds_sub_take() would return a sample,
 * -EPIPE or -EBADMSG, whatever the caller took before and however many samples
 * it takes per readiness; under poll, epoll (level and edge) and io_uring. */
#include <check.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "vdds.h"

#define STREAM_COUNT 100000u
#define READY_WAIT_MS 10000 /* a lost wakeup shows as this timeout */

static int readable(vdds_sub *sub, int timeout_ms)
{
	struct pollfd pfd = { .fd = vdds_sub_fd(sub), .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	ck_assert_int_ge(n, 0);
	return n;
}

static vdds_pub *open_pub(const char *topic, uint32_t slots)
{
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = slots };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, topic, &o), 0);
	return pub;
}

static void publish_n(vdds_pub *pub, uint64_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct tu_payload p;

		tu_payload_fill(&p, first + i, 0);
		ck_assert_int_eq(vdds_pub_write(pub, &p, sizeof(p), 1000), 0);
	}
}

static void take_expect(vdds_sub *sub, uint64_t seq)
{
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(s.seq, seq);
	ck_assert(tu_payload_ok(&s));
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
}

START_TEST(test_fd_wakes_for_the_first_sample_without_any_take)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("first", 8);
	vdds_sub *sub;

	ck_assert_int_eq(vdds_sub_open(&sub, "first", NULL), 0);
	ck_assert_int_eq(readable(sub, 0), 0);
	publish_n(pub, 1, 1);
	ck_assert_int_eq(readable(sub, READY_WAIT_MS), 1);
	take_expect(sub, 1);
	ck_assert_int_eq(readable(sub, 0), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_fd_asked_for_late_is_readable_for_samples_already_there)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("late", 8);
	vdds_sub *sub;

	ck_assert_int_eq(vdds_sub_open(&sub, "late", NULL), 0);
	publish_n(pub, 1, 2);
	ck_assert_int_eq(readable(sub, 0), 1);
	take_expect(sub, 1);
	take_expect(sub, 2);
	ck_assert_int_eq(readable(sub, 0), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_fd_stays_readable_while_samples_remain_and_not_after)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("level", 8);
	vdds_sub *sub;

	ck_assert_int_eq(vdds_sub_open(&sub, "level", NULL), 0);
	ck_assert_int_eq(readable(sub, 0), 0);
	publish_n(pub, 1, 3);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		ck_assert_int_eq(readable(sub, 0), 1);
		take_expect(sub, seq);
	}
	ck_assert_int_eq(readable(sub, 0), 0);
	/* and after a take that said -EAGAIN, the next publish wakes it */
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	ck_assert_int_eq(readable(sub, 0), 0);
	publish_n(pub, 4, 1);
	ck_assert_int_eq(readable(sub, READY_WAIT_MS), 1);
	take_expect(sub, 4);
	ck_assert_int_eq(readable(sub, 0), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_level_epoll_does_not_call_a_drained_subscriber_again)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("drained", 16);
	vdds_sub *sub;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ck_assert_int_eq(vdds_sub_open(&sub, "drained", NULL), 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(sub), &ev), 0);
	for (uint64_t round = 0; round < 100; round++) {
		publish_n(pub, round * 5 + 1, 5);
		ck_assert_int_eq(epoll_wait(ep, &ev, 1, READY_WAIT_MS), 1);
		for (uint64_t i = 1; i <= 5; i++)
			take_expect(sub, round * 5 + i);
		/* drained: level-triggered epoll must not report it again */
		ck_assert_int_eq(epoll_wait(ep, &ev, 1, 0), 0);
	}
	close(ep);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_wait_leaves_the_fd_readable_for_the_sample_it_reports)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("mixed", 8);
	vdds_sub *sub;

	ck_assert_int_eq(vdds_sub_open(&sub, "mixed", NULL), 0);
	ck_assert_int_eq(readable(sub, 0), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 0), -ETIMEDOUT);
	publish_n(pub, 1, 1);
	ck_assert_int_eq(vdds_sub_wait(sub, READY_WAIT_MS), 0);
	ck_assert_int_eq(readable(sub, 0), 1);
	take_expect(sub, 1);
	ck_assert_int_eq(readable(sub, 0), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* A publisher process that publishes `queued` samples, then dies by SIGKILL
 * once the subscriber has seen them arrive (the parent kills it). */
static void death_with_queued(uint32_t queued)
{
	int go[2], done[2];

	tu_private_rundir();
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_pub *pub;
		struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 64 };
		char c;

		if (vdds_pub_open(&pub, "dying", &o) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		if (read(go[0], &c, 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		for (uint32_t i = 1; i <= queued; i++) {
			struct tu_payload p;

			tu_payload_fill(&p, i, 0);
			if (vdds_pub_write(pub, &p, sizeof(p), 1000) < 0)
				_exit(TU_CHILD_WRITE_FAILED);
		}
		if (write(done[1], "d", 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		pause();
		_exit(TU_CHILD_OK);
	}
	vdds_sub *sub;

	ck_assert_int_eq(tu_sub_open_retry(&sub, "dying", NULL), 0);
	ck_assert_int_eq(readable(sub, 0), 0);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(readable(sub, READY_WAIT_MS), 1);
	char c;

	ck_assert_int_eq(read(done[0], &c, 1), 1); /* all of them delivered */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	for (uint64_t seq = 1; seq <= queued; seq++) {
		ck_assert_int_eq(readable(sub, 0), 1);
		take_expect(sub, seq);
	}
	/* only death is left: readable, and take says so, and keeps saying so */
	ck_assert_int_eq(readable(sub, READY_WAIT_MS), 1);
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_take(sub, &s), -EPIPE);
	ck_assert_int_eq(readable(sub, 0), 1);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EPIPE);
	vdds_sub_close(sub);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

START_TEST(test_publisher_death_with_one_sample_queued_reads_then_epipe)
{
	death_with_queued(1);
}
END_TEST

START_TEST(test_publisher_death_with_many_samples_queued_reads_them_all_then_epipe)
{
	death_with_queued(40);
}
END_TEST

/* ------------------------------------------------ the stream, four ways */

enum how { HOW_POLL, HOW_EPOLL_LEVEL, HOW_EPOLL_EDGE, HOW_URING_POLL };
static const char *const how_name[] = { "poll", "epoll level", "epoll edge", "io_uring poll" };

/* Publish count self-checking samples in random bursts of 1..64 with random
 * pauses, once one subscriber is in; then close (the subscriber sees -EPIPE). */
static pid_t burst_publisher(const char *topic, uint64_t count, uint64_t seed)
{
	pid_t pid = tu_fork_child();

	if (pid != 0)
		return pid;
	vdds_pub *pub;
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 128 };
	uint64_t rnd = seed, seq = 1;

	if (vdds_pub_open(&pub, topic, &o) < 0)
		_exit(TU_CHILD_OPEN_FAILED);
	if (tu_await_subscribers(pub, 1) < 0)
		_exit(TU_CHILD_TIMEOUT);
	while (seq <= count) {
		uint64_t burst = 1 + tu_xorshift(&rnd) % 64;

		for (uint64_t i = 0; i < burst && seq <= count; i++, seq++) {
			struct tu_payload p;

			tu_payload_fill(&p, seq, seq == count);
			if (vdds_pub_write(pub, &p, sizeof(p), READY_WAIT_MS) < 0)
				_exit(TU_CHILD_WRITE_FAILED);
		}
		uint64_t pause_us = tu_xorshift(&rnd) % 4 == 0 ? tu_xorshift(&rnd) % 300 : 0;

		if (pause_us)
			tu_sleep_us((long)pause_us);
	}
	vdds_pub_close(pub);
	_exit(TU_CHILD_OK);
}

struct waiter {
	enum how how;
	int fd, ep;
	struct io_uring ring;
	int armed;
};

/* 0, or -1 when this way of waiting cannot be used here (skipped). */
static int waiter_open(struct waiter *w, enum how how, int fd)
{
	w->how = how;
	w->fd = fd;
	w->armed = 0;
	if (how == HOW_EPOLL_LEVEL || how == HOW_EPOLL_EDGE) {
		struct epoll_event ev = { .events = EPOLLIN |
						    (how == HOW_EPOLL_EDGE ? EPOLLET : 0) };

		w->ep = epoll_create1(EPOLL_CLOEXEC);
		ck_assert_int_ge(w->ep, 0);
		ck_assert_int_eq(epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev), 0);
	}
	if (how == HOW_URING_POLL) {
		int err = io_uring_queue_init(4, &w->ring, 0);

		if (err < 0) {
			tu_skip("io_uring_queue_init: %s", strerror(-err));
			return -1;
		}
	}
	return 0;
}

/* Block until the fd is readable; 0, or -ETIMEDOUT. */
static int waiter_wait(struct waiter *w)
{
	if (w->how == HOW_POLL) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

		return poll(&pfd, 1, READY_WAIT_MS) == 1 ? 0 : -ETIMEDOUT;
	}
	if (w->how != HOW_URING_POLL) {
		struct epoll_event ev;

		return epoll_wait(w->ep, &ev, 1, READY_WAIT_MS) == 1 ? 0 : -ETIMEDOUT;
	}
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = READY_WAIT_MS / 1000 };

	if (!w->armed) { /* single shot: a level check when it is armed */
		io_uring_prep_poll_add(io_uring_get_sqe(&w->ring), w->fd, POLLIN);
		ck_assert_int_eq(io_uring_submit(&w->ring), 1);
		w->armed = 1;
	}
	if (io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts) < 0)
		return -ETIMEDOUT;
	ck_assert_int_gt(cqe->res, 0);
	io_uring_cqe_seen(&w->ring, cqe);
	w->armed = 0;
	return 0;
}

static void waiter_close(struct waiter *w)
{
	if (w->how == HOW_EPOLL_LEVEL || w->how == HOW_EPOLL_EDGE)
		close(w->ep);
	if (w->how == HOW_URING_POLL)
		io_uring_queue_exit(&w->ring);
}

/* Register before the first sample; per readiness take one sample (edge:
 * until -EAGAIN, as edge-triggered users must); count readiness that found
 * nothing. */
static void stream_one_per_readiness(enum how how)
{
	char topic[32];
	struct waiter w;
	vdds_sub *sub;
	uint64_t next = 1, wakes = 0, empty = 0;
	int err = 0;

	tu_private_rundir();
	snprintf(topic, sizeof(topic), "stream%d", (int)how);
	pid_t pid = burst_publisher(topic, STREAM_COUNT, 0x9e3779b97f4a7c15ull + (uint64_t)how);

	ck_assert_int_eq(tu_sub_open_retry(&sub, topic, NULL), 0);
	if (waiter_open(&w, how, vdds_sub_fd(sub)) < 0) {
		vdds_sub_close(sub);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	while (err != -EPIPE) {
		struct vdds_sample s;

		ck_assert_msg(waiter_wait(&w) == 0,
			      "%s: no readiness for %d s at seq %llu (a lost wakeup)",
			      how_name[how], READY_WAIT_MS / 1000, (unsigned long long)next);
		wakes++;
		int took = 0;

		do {
			err = vdds_sub_take(sub, &s);
			if (err == 0) {
				ck_assert_uint_eq(s.seq, next);
				ck_assert(tu_payload_ok(&s));
				ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
				next++;
				took++;
			}
		} while (how == HOW_EPOLL_EDGE && err == 0);
		ck_assert_msg(err == 0 || err == -EAGAIN || err == -EPIPE, "take: %d", err);
		if (!took && err != -EPIPE)
			empty++;
	}
	ck_assert_uint_eq(next, STREAM_COUNT + 1);
	printf("%-13s: %u samples, one per readiness%s: %llu wakes, %llu found nothing (%.3f%%)\n",
	       how_name[how], STREAM_COUNT, how == HOW_EPOLL_EDGE ? " (edge: drained)" : "",
	       (unsigned long long)wakes, (unsigned long long)empty,
	       100.0 * (double)empty / (double)wakes);
	ck_assert_msg(empty * 100 < wakes, "%s: %llu of %llu wakes found nothing", how_name[how],
		      (unsigned long long)empty, (unsigned long long)wakes);
	waiter_close(&w);
	vdds_sub_close(sub);
	int status = tu_reap_within(pid, 30ull * 1000000000ull);

	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_OK);
}

START_TEST(test_poll_one_sample_per_readiness_gets_every_sample_in_bursts)
{
	stream_one_per_readiness(HOW_POLL);
}
END_TEST

START_TEST(test_level_epoll_one_sample_per_readiness_gets_every_sample_in_bursts)
{
	stream_one_per_readiness(HOW_EPOLL_LEVEL);
}
END_TEST

START_TEST(test_edge_epoll_draining_per_readiness_gets_every_sample_in_bursts)
{
	stream_one_per_readiness(HOW_EPOLL_EDGE);
}
END_TEST

START_TEST(test_uring_poll_one_sample_per_readiness_gets_every_sample_in_bursts)
{
	stream_one_per_readiness(HOW_URING_POLL);
}
END_TEST

static Suite *levelfd_suite(void)
{
	Suite *s = suite_create("levelfd");
	TCase *basic = tcase_create("contract");
	TCase *death = tcase_create("death");
	TCase *stream = tcase_create("stream");

	tcase_set_timeout(basic, 30);
	tcase_add_test(basic, test_fd_wakes_for_the_first_sample_without_any_take);
	tcase_add_test(basic, test_fd_asked_for_late_is_readable_for_samples_already_there);
	tcase_add_test(basic, test_fd_stays_readable_while_samples_remain_and_not_after);
	tcase_add_test(basic, test_level_epoll_does_not_call_a_drained_subscriber_again);
	tcase_add_test(basic, test_wait_leaves_the_fd_readable_for_the_sample_it_reports);
	suite_add_tcase(s, basic);
	tcase_set_timeout(death, 30);
	tcase_add_test(death, test_publisher_death_with_one_sample_queued_reads_then_epipe);
	tcase_add_test(death,
		       test_publisher_death_with_many_samples_queued_reads_them_all_then_epipe);
	suite_add_tcase(s, death);
	tcase_set_timeout(stream, 120);
	tcase_add_test(stream, test_poll_one_sample_per_readiness_gets_every_sample_in_bursts);
	tcase_add_test(stream,
		       test_level_epoll_one_sample_per_readiness_gets_every_sample_in_bursts);
	tcase_add_test(stream, test_edge_epoll_draining_per_readiness_gets_every_sample_in_bursts);
	tcase_add_test(stream,
		       test_uring_poll_one_sample_per_readiness_gets_every_sample_in_bursts);
	suite_add_tcase(s, stream);
	return s;
}

int main(void)
{
	return tu_run_suite(levelfd_suite());
}
