/* test_fds.c — what a topic costs in file descriptors (issue #14): three per
 * published topic (five serving itself), two per subscription, plus two for
 * the process's service thread; all of them given back on close; and running
 * out says which limit was met and what each topic needs. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"
#include "vdds.h"

#define TOPICS 20
#define SERVICE_FDS 2 /* the service thread's epoll set and eventfd */

static void topic_name(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "fds_%d", i);
}

static void open_pubs(vdds_pub **pubs, int n, bool self_served)
{
	struct vdds_pub_opts o = { .slot_count = 4, .no_service_thread = self_served };
	char name[32];

	for (int i = 0; i < n; i++) {
		topic_name(name, sizeof(name), i);
		ck_assert_int_eq(vdds_pub_open(&pubs[i], name, &o), 0);
	}
}

static void close_pubs(vdds_pub **pubs, int n)
{
	for (int i = 0; i < n; i++)
		vdds_pub_close(pubs[i]);
}

START_TEST(test_a_published_topic_costs_three_fds_and_gives_them_back)
{
	vdds_pub *pubs[TOPICS];

	tu_private_rundir();
	int before = tu_count_fds();

	open_pubs(pubs, TOPICS, false);
	ck_assert_int_eq(tu_count_fds() - before, (intmax_t)3 * TOPICS + SERVICE_FDS);
	close_pubs(pubs, TOPICS);
	ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

START_TEST(test_a_self_served_topic_costs_five_fds)
{
	vdds_pub *pubs[TOPICS];

	tu_private_rundir();
	int before = tu_count_fds();

	open_pubs(pubs, TOPICS, true);
	ck_assert_int_eq(tu_count_fds() - before, (intmax_t)5 * TOPICS);
	close_pubs(pubs, TOPICS);
	ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* A child publishes TOPICS topics until the parent closes `go`; it says it
 * is ready on `ready`. */
static pid_t spawn_publishers(int *go_w)
{
	int ready[2], go[2];
	char byte = 1;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_pub *pubs[TOPICS];

		close(ready[0]);
		close(go[1]);
		open_pubs(pubs, TOPICS, false);
		if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) < 0)
			_exit(TU_CHILD_PIPE_FAILED);
		close_pubs(pubs, TOPICS);
		_exit(TU_CHILD_OK);
	}
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	*go_w = go[1];
	return pid;
}

START_TEST(test_a_subscription_costs_two_fds_and_gives_them_back)
{
	vdds_sub *subs[TOPICS];
	char name[32];
	int go;

	tu_private_rundir();
	pid_t pid = spawn_publishers(&go);
	int before = tu_count_fds();

	for (int i = 0; i < TOPICS; i++) {
		topic_name(name, sizeof(name), i);
		ck_assert_int_eq(vdds_sub_open(&subs[i], name, NULL), 0);
		ck_assert_int_ge(vdds_sub_fd(subs[i]), 0);
	}
	ck_assert_int_eq(tu_count_fds() - before, (intmax_t)2 * TOPICS);
	for (int i = 0; i < TOPICS; i++)
		vdds_sub_close(subs[i]);
	ck_assert_int_eq(tu_count_fds(), before);
	close(go);
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

/* Lower RLIMIT_NOFILE so that `room` more fds can be opened (the limit is
 * on fd numbers: those open below it do not count as room, those above it
 * do not matter); returns the new limit. */
static rlim_t leave_room(int room)
{
	struct rlimit rl;
	int limit = 0, free_below = 0;

	while (free_below < room)
		if (fcntl(limit++, F_GETFD) < 0)
			free_below++;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)limit;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return rl.rlim_cur;
}

START_TEST(test_running_out_of_fds_publishing_names_the_limit)
{
	vdds_pub *pubs[64];
	char name[32], want[128];
	int n = 0, err = 0;

	tu_private_rundir();
	rlim_t limit = leave_room(3 * 5 + SERVICE_FDS + 1);

	while (n < 64) {
		topic_name(name, sizeof(name), n);
		if ((err = vdds_pub_open(&pubs[n], name, NULL)) < 0)
			break;
		n++;
	}
	ck_assert_msg(err == -EMFILE, "err %d after %d topics, limit %llu", err, n,
		      (unsigned long long)limit);
	ck_assert_int_ge(n, 5);
	snprintf(want, sizeof(want),
		 "out of file descriptors: this process's RLIMIT_NOFILE is %llu, each published "
		 "topic needs 3",
		 (unsigned long long)limit);
	ck_assert_str_eq(vdds_last_error_detail(), want);
	/* nothing of the failed open is left, and the next open clears it */
	close_pubs(pubs, n);
	ck_assert_int_eq(vdds_pub_open(&pubs[0], "fds_again", NULL), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	vdds_pub_close(pubs[0]);
}
END_TEST

START_TEST(test_running_out_of_fds_subscribing_names_the_limit)
{
	vdds_sub *subs[TOPICS];
	char name[32], want[128];
	int n = 0, err = 0, go;

	tu_private_rundir();
	pid_t pid = spawn_publishers(&go);
	rlim_t limit = leave_room(2 * 5 + 1);

	while (n < TOPICS) {
		topic_name(name, sizeof(name), n);
		if ((err = vdds_sub_open(&subs[n], name, NULL)) < 0)
			break;
		n++;
	}
	ck_assert_int_eq(err, -EMFILE);
	ck_assert_int_ge(n, 3);
	snprintf(want, sizeof(want),
		 "out of file descriptors: this process's RLIMIT_NOFILE is %llu, each subscription "
		 "needs 2",
		 (unsigned long long)limit);
	ck_assert_str_eq(vdds_last_error_detail(), want);
	for (int i = 0; i < n; i++)
		vdds_sub_close(subs[i]);
	close(go);
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru); /* the service thread's too */
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

START_TEST(test_a_publisher_out_of_fds_waits_without_spinning_and_accepts_again)
{
	struct rlimit saved;
	vdds_pub *pub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "starved", NULL), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	int go[2];
	char byte = 1;

	ck_assert_int_eq(pipe(go), 0);
	int keep = go[0];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0) {
		vdds_sub *sub; /* connects once we are out of fds; waits up to 5 s */

		if (read(keep, &byte, 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		_exit(vdds_sub_open(&sub, "starved", NULL) == 0 ? TU_CHILD_OK
								: TU_CHILD_OPEN_FAILED);
	}
	close(go[0]);
	leave_room(0);
	ck_assert_int_eq(write(go[1], &byte, 1), 1);
	double cpu = cpu_seconds();

	tu_sleep_us(1000000); /* accept4 says EMFILE meanwhile */
	cpu = cpu_seconds() - cpu;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_msg(cpu < 0.2, "%.3f s of CPU in 1 s out of fds: spinning", cpu);
	tu_assert_exit(pid, TU_CHILD_OK); /* welcomed once there were fds again */
	close(go[1]);
	vdds_pub_close(pub);
}
END_TEST

/* The publisher, not the subscriber, ran out: the subscriber's detail says
 * whose limit it was (the publisher's pid and its RLIMIT_NOFILE). */
START_TEST(test_a_publisher_out_of_fds_names_its_pid_and_limit)
{
	struct rlimit saved;
	vdds_pub *pub;
	char got[VDDS_ERROR_DETAIL_MAX + 16] = "", want[VDDS_ERROR_DETAIL_MAX];
	int report[2];

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "starved", NULL), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_int_eq(pipe(report), 0);
	rlim_t limit = leave_room(1); /* the accepted socket, then no lane */
	int keep = report[1];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0) {
		vdds_sub *sub;

		if (setrlimit(RLIMIT_NOFILE, &saved) < 0) /* ours is not the short one */
			_exit(TU_CHILD_SETUP_FAILED);
		int err = vdds_sub_open(&sub, "starved", NULL);
		int n = dprintf(keep, "%d %s", err, vdds_last_error_detail());

		_exit(n > 0 ? TU_CHILD_OK : TU_CHILD_PIPE_FAILED);
	}
	close(report[1]);
	tu_assert_exit(pid, TU_CHILD_OK);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_int_ge(read(report[0], got, sizeof(got) - 1), 1);
	close(report[0]);
	snprintf(want, sizeof(want),
		 "%d publisher out of file descriptors: pid %d's RLIMIT_NOFILE is %llu", -EMFILE,
		 (int)getpid(), (unsigned long long)limit);
	ck_assert_str_eq(got, want);
	vdds_pub_close(pub);
}
END_TEST

static Suite *fds_suite(void)
{
	Suite *s = suite_create("fds");
	TCase *budget = tcase_create("budget");
	TCase *limit = tcase_create("limit");

	tcase_set_timeout(budget, 30);
	tcase_add_test(budget, test_a_published_topic_costs_three_fds_and_gives_them_back);
	tcase_add_test(budget, test_a_self_served_topic_costs_five_fds);
	tcase_add_test(budget, test_a_subscription_costs_two_fds_and_gives_them_back);
	suite_add_tcase(s, budget);
	tcase_set_timeout(limit, 30);
	tcase_add_test(limit, test_running_out_of_fds_publishing_names_the_limit);
	tcase_add_test(limit, test_running_out_of_fds_subscribing_names_the_limit);
	tcase_add_test(limit, test_a_publisher_out_of_fds_waits_without_spinning_and_accepts_again);
	tcase_add_test(limit, test_a_publisher_out_of_fds_names_its_pid_and_limit);
	suite_add_tcase(s, limit);
	return s;
}

int main(void)
{
	return tu_run_suite(fds_suite());
}
