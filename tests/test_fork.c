/* test_fork.c — fork() without exec, on both sides (issue #26, point 5): a
 * child keeps nothing of its parent's publishers and subscriptions, so the
 * parent's death is seen as if there were no child (a killed publisher is
 * gone for its subscribers and replaced without -EEXIST; a killed
 * subscriber's lane and slots come back), and a handle used or closed in the
 * child answers -ECHILD and does nothing to the parent's topic. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "testutil.h"

/* The grandchildren below outlive their parent: we reap them. */
static void become_subreaper(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* fork() a child that only lives, doing nothing with what it inherited,
 * until the read end `hold` reaches EOF (the test closes the other end),
 * then exits. No PDEATHSIG: it must outlive the process that forks it. */
static pid_t idle_child(int hold)
{
	pid_t pid = fork();

	if (pid == 0) {
		char c;

		alarm(120); /* a backstop, should the test die without closing */
		while (read(hold, &c, 1) > 0) {
		}
		_exit(TU_CHILD_OK);
	}
	return pid;
}

/* Reap the idle grandchild (reparented to us, the subreaper) once it is
 * told to go. */
static void reap_idle(pid_t pid, int hold_w)
{
	close(hold_w);
	tu_assert_exit(pid, TU_CHILD_OK);
}

static void write_pid(int fd, pid_t pid)
{
	if (write(fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		_exit(TU_CHILD_PIPE_FAILED);
}

static pid_t read_pid(int fd)
{
	pid_t pid = 0;

	ck_assert_int_eq(read(fd, &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	return pid;
}

START_TEST(test_a_killed_publisher_is_gone_while_its_forked_child_lives)
{
	int hold[2], report[2];

	tu_private_rundir();
	become_subreaper();
	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_eq(pipe(report), 0);
	pid_t pub_pid = tu_fork_child();

	if (pub_pid == 0) {
		vdds_pub *pub;

		close(hold[1]);
		close(report[0]);
		if (vdds_pub_open(&pub, "forked", NULL) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		/* a worker forked after the publisher is up, as a server does */
		write_pid(report[1], idle_child(hold[0]));
		if (tu_await_subscribers(pub, 1) < 0)
			_exit(TU_CHILD_TIMEOUT);
		if (vdds_pub_write(pub, "one", 4, 1000) < 0)
			_exit(TU_CHILD_WRITE_FAILED);
		for (;;)
			pause(); /* until killed */
	}
	close(hold[0]);
	close(report[1]);
	pid_t worker = read_pid(report[0]);
	vdds_sub *sub;
	struct vdds_sample s;

	ck_assert_int_eq(tu_sub_open_retry(&sub, "forked", NULL), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 10000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(kill(pub_pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pub_pid, NULL, 0), pub_pid);
	/* the worker lives on, and holds nothing of the publisher: its death
	 * is seen (the backstop of 10 s is not a timing check) */
	ck_assert_int_eq(kill(worker, 0), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 10000), -EPIPE);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EPIPE);
	vdds_sub_close(sub);
	/* and a new publisher of the topic opens, its lock free */
	vdds_pub *again;

	ck_assert_int_eq(vdds_pub_open(&again, "forked", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "forked", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(again, 1), 0);
	vdds_sub_close(sub);
	vdds_pub_close(again);
	reap_idle(worker, hold[1]);
}
END_TEST

START_TEST(test_a_killed_subscriber_releases_its_lane_while_its_forked_child_lives)
{
	int hold[2], report[2];
	struct vdds_pub_opts o = { .slot_count = 4, .overflow = VDDS_OVERFLOW_BLOCK };
	vdds_pub *pub;

	tu_private_rundir();
	become_subreaper();
	ck_assert_int_eq(vdds_pub_open(&pub, "forked", &o), 0);
	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_eq(pipe(report), 0);
	pid_t sub_pid = tu_fork_child();

	if (sub_pid == 0) {
		vdds_sub *sub;
		struct vdds_sample s[4];

		close(hold[1]);
		close(report[0]);
		if (vdds_sub_open(&sub, "forked", NULL) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		write_pid(report[1], idle_child(hold[0]));
		/* hold every slot: under BLOCK, the publisher waits for us */
		for (int i = 0; i < 4; i++) {
			if (vdds_sub_wait(sub, 10000) < 0)
				_exit(TU_CHILD_WAIT_FAILED);
			if (vdds_sub_take(sub, &s[i]) < 0)
				_exit(TU_CHILD_TAKE_FAILED);
		}
		write_pid(report[1], getpid());
		for (;;)
			pause(); /* until killed, holding them */
	}
	close(hold[0]);
	close(report[1]);
	pid_t worker = read_pid(report[0]);

	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vdds_pub_write(pub, &i, sizeof(i), 1000), 0);
	ck_assert_int_eq(read_pid(report[0]), sub_pid); /* it holds all four */
	void *buf;

	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), -EAGAIN);
	ck_assert_int_eq(kill(sub_pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(sub_pid, NULL, 0), sub_pid);
	ck_assert_int_eq(kill(worker, 0), 0);
	/* its lane is released though the worker lives: the slots come back
	 * and the blocked loan gets one */
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 10000), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 0), 0);
	vdds_pub_close(pub);
	reap_idle(worker, hold[1]);
}
END_TEST

/* The child's side of an inherited publisher: every call -ECHILD, and a
 * close (as a destructor at exit() would) that does nothing to the parent. */
static int use_and_close_inherited_publisher(vdds_pub *pub)
{
	void *buf;
	struct vdds_pub_stats st;

	if (vdds_pub_loan(pub, &buf, 0) != -ECHILD || vdds_pub_write(pub, "x", 2, 0) != -ECHILD ||
	    vdds_pub_stats(pub, &st) != -ECHILD || vdds_pub_dispatch(pub) != -EINVAL ||
	    vdds_pub_fd(pub) != -ECHILD || vdds_pub_set_note(pub, "child") != -ECHILD)
		return TU_CHILD_WRONG_RESULT;
	vdds_pub_close(pub);
	return TU_CHILD_OK;
}

START_TEST(test_a_child_closing_an_inherited_publisher_leaves_the_parents_topic_working)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s;
	void *loaned;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "inherit", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "inherit", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	/* a loan made before the fork is the parent's too */
	ck_assert_int_eq(vdds_pub_loan(pub, &loaned, 0), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		if (vdds_pub_publish(pub, loaned, 1) != -ECHILD)
			_exit(TU_CHILD_WRONG_RESULT);
		/* exit(), not _exit(): atexit handlers and all */
		exit(use_and_close_inherited_publisher(pub));
	}
	tu_assert_exit(pid, TU_CHILD_OK);
	/* nothing was published by the child, nothing unlinked, nobody cut */
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	strcpy(loaned, "mine");
	ck_assert_int_eq(vdds_pub_publish(pub, loaned, 5), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_str_eq(s.data, "mine");
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	/* a new subscriber finds the socket where it was */
	vdds_sub *late;

	ck_assert_int_eq(vdds_sub_open(&late, "inherit", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	vdds_sub_close(late);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* The child's side of an inherited subscription. */
static int use_and_close_inherited_subscriber(vdds_sub *sub, const struct vdds_sample *held)
{
	struct vdds_sample s;
	struct vdds_sub_stats st;

	if (vdds_sub_take(sub, &s) != -ECHILD || vdds_sub_release(sub, held) != -ECHILD ||
	    vdds_sub_wait(sub, 0) != -ECHILD || vdds_sub_wait(sub, 100) != -ECHILD ||
	    vdds_sub_fd(sub) != -ECHILD || vdds_sub_stats(sub, &st) != -ECHILD ||
	    strcmp(vdds_sub_type_name(sub), "") != 0)
		return TU_CHILD_WRONG_RESULT;
	vdds_sub_close(sub);
	return TU_CHILD_OK;
}

START_TEST(test_a_child_using_an_inherited_subscriber_gets_echild_and_the_parent_keeps_it)
{
	struct vdds_pub_opts o = { .type_name = "Text" };
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample held, s;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "inherit", &o), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "inherit", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "a", 2, 1000), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "b", 2, 1000), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &held), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0)
		exit(use_and_close_inherited_subscriber(sub, &held));
	tu_assert_exit(pid, TU_CHILD_OK);
	/* the child neither took "b" nor released "a", nor hung up on us */
	ck_assert_str_eq(vdds_sub_type_name(sub), "Text");
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_str_eq(s.data, "b");
	ck_assert_int_eq(vdds_sub_release(sub, &held), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "c", 2, 1000), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_str_eq(s.data, "c");
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* How many of our fds are an io_uring ring or an epoll set: a waitset's, a
 * subscriber's or the service thread's; a child of fork() must have none. */
static int kernel_queues_open(void)
{
	char path[64], target[64];
	int n = 0;

	for (int fd = 3; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, target, sizeof(target) - 1);

		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strstr(target, "[io_uring]") || strstr(target, "[eventpoll]"))
			n++;
	}
	return n;
}

static int use_and_free_inherited_waitset(vdds_waitset *ws, vdds_sub *sub, int key)
{
	struct vdds_event ev[4];
	int queues = kernel_queues_open();

	if (queues != 0) {
		fprintf(stderr, "child: %d io_uring or epoll fds inherited\n", queues);
		return TU_CHILD_WRONG_RESULT;
	}
	if (vdds_waitset_wait(ws, ev, 4, 0) != -ECHILD ||
	    vdds_waitset_wait(ws, ev, 4, 100) != -ECHILD ||
	    vdds_waitset_add_fd(ws, 0, POLLIN, NULL) != -ECHILD ||
	    vdds_waitset_remove(ws, key) != -ECHILD)
		return TU_CHILD_WRONG_RESULT;
	/* in either order: a child's close leaves waitsets alone, and a
	 * child's free touches no member */
	vdds_sub_close(sub);
	vdds_waitset_free(ws);
	return TU_CHILD_OK;
}

/* The backend is chosen by VDDS_BACKEND at vdds_waitset_new (waitset.c). */
static void child_keeps_nothing_of_a_waitset(const char *backend)
{
	vdds_pub *pub;
	vdds_sub *sub;
	vdds_waitset *ws;
	struct vdds_event ev[4];
	struct vdds_sample s;

	tu_private_rundir();
	ck_assert_int_eq(setenv("VDDS_BACKEND", backend, 1), 0);
	ck_assert_int_eq(vdds_pub_open(&pub, "wsfork", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "wsfork", NULL), 0);
	ck_assert_int_eq(vdds_waitset_new(&ws), 0);
	ck_assert_str_eq(vdds_waitset_backend(ws), backend);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 0), -ETIMEDOUT); /* armed */
	int key = vdds_sub_fd(sub); /* the child's vdds_sub_fd() is -ECHILD */
	pid_t pid = tu_fork_child();

	if (pid == 0)
		exit(use_and_free_inherited_waitset(ws, sub, key));
	tu_assert_exit(pid, TU_CHILD_OK);
	/* the parent's waitset still watches its subscriber */
	ck_assert_int_eq(vdds_pub_write(pub, "x", 2, 1000), 0);
	ck_assert_int_eq(vdds_waitset_wait(ws, ev, 4, 5000), 1);
	ck_assert_ptr_eq(ev[0].user, sub);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_str_eq(s.data, "x");
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(vdds_waitset_remove(ws, key), 0);
	vdds_waitset_free(ws);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
	unsetenv("VDDS_BACKEND");
}

START_TEST(test_a_child_keeps_no_fd_of_an_io_uring_waitset_and_the_parent_keeps_it)
{
	child_keeps_nothing_of_a_waitset("io_uring");
}
END_TEST

START_TEST(test_a_child_keeps_no_fd_of_an_epoll_waitset_and_the_parent_keeps_it)
{
	child_keeps_nothing_of_a_waitset("epoll");
}
END_TEST

static Suite *fork_suite(void)
{
	Suite *s = suite_create("fork");
	TCase *death = tcase_create("death");
	TCase *child = tcase_create("child");

	tcase_set_timeout(death, 60);
	tcase_add_test(death, test_a_killed_publisher_is_gone_while_its_forked_child_lives);
	tcase_add_test(death,
		       test_a_killed_subscriber_releases_its_lane_while_its_forked_child_lives);
	suite_add_tcase(s, death);

	tcase_set_timeout(child, 60);
	tcase_add_test(
		child,
		test_a_child_closing_an_inherited_publisher_leaves_the_parents_topic_working);
	tcase_add_test(
		child,
		test_a_child_using_an_inherited_subscriber_gets_echild_and_the_parent_keeps_it);
	tcase_add_test(child,
		       test_a_child_keeps_no_fd_of_an_io_uring_waitset_and_the_parent_keeps_it);
	tcase_add_test(child, test_a_child_keeps_no_fd_of_an_epoll_waitset_and_the_parent_keeps_it);
	suite_add_tcase(s, child);
	return s;
}

int main(void)
{
	return tu_run_suite(fork_suite());
}
