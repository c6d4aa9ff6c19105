/* test_admission.c — who may wait for a handshake (issue #26, point 3): a
 * flood of silent connections renewed as the publisher closes them does not
 * keep an honest subscriber out; a process or a user past its share of
 * pending handshakes is told "publisher busy" and whose they are; a user the
 * publisher refuses is closed at accept, before it says anything. */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "proto.h"
#include "testutil.h"

#define NOBODY 65534
#define FLOOD 200 /* silent connections a flooder keeps open */

static vdds_pub *pub_up(const char *topic)
{
	struct vdds_pub_opts o = { .slot_count = 4 };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, topic, &o), 0);
	return pub;
}

/* The publisher serves an honest subscriber end to end: 0, or which step
 * failed (as a negative errno from it). */
static int honest_subscriber(vdds_pub *pub, const char *topic)
{
	vdds_sub *sub;
	struct vdds_sample s;
	int err = vdds_sub_open(&sub, topic, NULL);

	if (err < 0)
		return err;
	if ((err = tu_await_subscribers(pub, 1)) == 0 &&
	    (err = vdds_pub_write(pub, "ok", 3, 1000)) == 0 &&
	    (err = vdds_sub_wait(sub, 5000)) == 0 && (err = vdds_sub_take(sub, &s)) == 0) {
		err = strcmp(s.data, "ok") == 0 ? 0 : -EBADMSG;
		vdds_sub_release(sub, &s);
	}
	vdds_sub_close(sub);
	/* gone before the next one counts subscribers */
	if (err == 0)
		err = tu_await_subscribers(pub, 0);
	return err;
}

/* ------------------------------------------------------------ the flood */

/* A flooder: keep FLOOD silent connections to topic, each renewed as soon as
 * the publisher closes or answers it, until stop (a pipe) is closed. Counts
 * its connections in *made. */
static void flood(const char *topic, int stop, tu_atomic_uint *made)
{
	struct pollfd pfd[FLOOD + 1];

	for (int i = 0; i < FLOOD; i++)
		pfd[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	pfd[FLOOD] = (struct pollfd){ .fd = stop, .events = POLLIN };
	for (;;) {
		for (int i = 0; i < FLOOD; i++) {
			if (pfd[i].fd >= 0)
				continue;
			pfd[i].fd = tu_raw_connect(topic);
			if (pfd[i].fd >= 0)
				atomic_fetch_add(made, 1);
		}
		if (poll(pfd, FLOOD + 1, 10) < 0)
			_exit(TU_CHILD_SETUP_FAILED);
		if (pfd[FLOOD].revents)
			_exit(TU_CHILD_OK); /* the test is done */
		for (int i = 0; i < FLOOD; i++) {
			if (pfd[i].fd >= 0 && pfd[i].revents) {
				close(pfd[i].fd); /* answered or hung up: renew it */
				pfd[i].fd = -1;
			}
		}
	}
}

static tu_atomic_uint *shared_counter(void)
{
	void *m = mmap(NULL, sizeof(tu_atomic_uint), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	return (tu_atomic_uint *)m;
}

/* Start a flooder (of our uid, or of uid if not 0, which needs root);
 * returns its pid, *stop the pipe end that stops it when closed. */
static pid_t start_flooder(const char *topic, tu_atomic_uint *made, uid_t uid, int *stop)
{
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	int keep = pfd[0];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0) {
		if (uid && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(TU_CHILD_SETUP_FAILED);
		flood(topic, keep, made);
	}
	close(pfd[0]);
	*stop = pfd[1];
	/* every connection it keeps has been made at least once, and renewed */
	for (int i = 0; i < 20000 && atomic_load(made) < 2 * FLOOD; i++)
		tu_sleep_us(1000);
	ck_assert_uint_ge(atomic_load(made), 2 * FLOOD);
	return pid;
}

/* The flooder is at it right now: it renews 50 more connections. */
static void flood_goes_on(tu_atomic_uint *made)
{
	unsigned before = atomic_load(made);
	uint64_t t0 = tu_now_ns();

	while (atomic_load(made) < before + 50 && tu_now_ns() - t0 < TU_AWAIT_NS)
		tu_sleep_us(1000);
	ck_assert_uint_ge(atomic_load(made), before + 50);
}

static void stop_flooder(pid_t pid, int stop)
{
	close(stop);
	tu_assert_exit(pid, TU_CHILD_OK);
}

START_TEST(test_honest_subscribers_are_admitted_while_200_silent_connections_are_renewed)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("flood");
	tu_atomic_uint *made = shared_counter();
	int stop;
	pid_t flooder = start_flooder("flood", made, 0, &stop);

	/* each one, while the flooder renews its connections as fast as the
	 * publisher closes them; before admission was bounded per peer, 64 of
	 * them kept everyone out ("no publisher for this topic") */
	for (int i = 0; i < 10; i++) {
		flood_goes_on(made);
		ck_assert_int_eq(honest_subscriber(pub, "flood"), 0);
	}
	stop_flooder(flooder, stop);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_a_user_flooding_from_another_uid_does_not_keep_us_out)
{
	if (geteuid() != 0) {
		tu_skip("needs root to flood as uid nobody");
		return;
	}
	tu_private_rundir();
	ck_assert_int_eq(chmod(getenv("VDDS_DIR"), 0711), 0);
	/* nobody may subscribe (its group is ours to admit): its silent
	 * connections are pending handshakes, not refused at accept */
	struct vdds_pub_opts o = { .slot_count = 4, .group_access = true, .group = NOBODY };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, "flood", &o), 0);
	tu_atomic_uint *made[5];
	int stop[5];
	pid_t flooder[5];

	/* five processes of one user: 5 x 8 pending would be 40, the user's share 32 */
	for (int i = 0; i < 5; i++) {
		made[i] = shared_counter();
		flooder[i] = start_flooder("flood", made[i], NOBODY, &stop[i]);
	}
	for (int i = 0; i < 10; i++) {
		flood_goes_on(made[i % 5]);
		ck_assert_int_eq(honest_subscriber(pub, "flood"), 0);
	}
	for (int i = 0; i < 5; i++)
		stop_flooder(flooder[i], stop[i]);
	vdds_pub_close(pub);
}
END_TEST

/* --------------------------------------------------------------- shares */

/* n silent connections to topic from this process; asserted open. */
static void hold_silent(const char *topic, int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = tu_raw_connect(topic);
		ck_assert_int_ge(fds[i], 0);
	}
}

/* 1 if every one is still waiting (the publisher has not hung up on it:
 * the silent-client sweep gives them 2 s, which a loaded machine may use). */
static int all_still_pending(const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };

		if (poll(&pfd, 1, 0) != 0)
			return 0;
	}
	return 1;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

START_TEST(test_a_process_past_its_share_is_told_publisher_busy_and_whose)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("share");
	int fds[8];
	char want[VDDS_ERROR_DETAIL_MAX];
	vdds_sub *sub;
	int err = 0;

	snprintf(want, sizeof(want), "publisher busy: 8 pending handshakes from pid %d",
		 (int)getpid());
	/* again if the sweep hung up on them before our open was refused */
	for (int round = 0; round < 5; round++) {
		hold_silent("share", fds, 8);
		err = vdds_sub_open(&sub, "share", NULL);
		int pending = all_still_pending(fds, 8);

		close_all(fds, 8);
		if (err == 0)
			vdds_sub_close(sub);
		if (pending)
			break;
	}
	ck_assert_int_eq(err, -EBUSY);
	ck_assert_str_eq(vdds_last_error_detail(), want);
	ck_assert_str_eq(vdds_strerror(err), "publisher busy: too many handshakes pending");
	/* once they are gone, we are welcome */
	ck_assert_int_eq(tu_sub_open_retry(&sub, "share", NULL), 0);
	vdds_sub_close(sub);
	ck_assert_int_eq(honest_subscriber(pub, "share"), 0);
	vdds_pub_close(pub);
}
END_TEST

/* A child holding 8 silent connections until its pipe closes. */
static pid_t silent_child(const char *topic, int *stop)
{
	int ready[2], hold[2];

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(hold), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		int fds[8];
		char c = 1;

		int lo = ready[1] < hold[0] ? ready[1] : hold[0];
		int hi = ready[1] < hold[0] ? hold[0] : ready[1];

		/* none of the others' pipe ends (they would keep them open) */
		close_range(3, (unsigned)lo - 1, 0);
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
		close_range((unsigned)hi + 1, ~0u, 0);
		for (int i = 0; i < 8; i++)
			if ((fds[i] = tu_raw_connect(topic)) < 0)
				_exit(TU_CHILD_SETUP_FAILED);
		if (write(ready[1], &c, 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		/* EOF when the test closes its end: then report if the
		 * publisher still waited for them all (not swept meanwhile) */
		if (read(hold[0], &c, 1) != 0)
			_exit(TU_CHILD_PIPE_FAILED);
		_exit(all_still_pending(fds, 8) ? TU_CHILD_OK : TU_CHILD_TIMEOUT);
	}
	close(ready[1]);
	close(hold[0]);
	char c;

	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*stop = hold[1];
	return pid;
}

START_TEST(test_a_user_past_its_share_is_told_publisher_busy_and_whose)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("share");
	char want[VDDS_ERROR_DETAIL_MAX];
	vdds_sub *sub;
	int err = 0, swept = 1;

	snprintf(want, sizeof(want), "publisher busy: 32 pending handshakes from uid %u",
		 (unsigned)geteuid());
	for (int round = 0; round < 5 && swept; round++) {
		pid_t pid[4];
		int stop[4];

		/* four processes of our uid, 8 each: the uid's share */
		for (int i = 0; i < 4; i++)
			pid[i] = silent_child("share", &stop[i]);
		err = vdds_sub_open(&sub, "share", NULL);
		if (err == 0)
			vdds_sub_close(sub);
		swept = 0;
		for (int i = 0; i < 4; i++) {
			int status;

			close(stop[i]);
			ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
			ck_assert(WIFEXITED(status));
			swept |= WEXITSTATUS(status) == TU_CHILD_TIMEOUT;
		}
	}
	ck_assert_int_eq(err, -EBUSY);
	ck_assert_str_eq(vdds_last_error_detail(), want);
	ck_assert_int_eq(tu_sub_open_retry(&sub, "share", NULL), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* ----------------------------------------------------- refused at accept */

/* As nobody: connect and say nothing. The publisher must answer at once,
 * with a REJECT that says why, and hang up: 0, or what went wrong. */
static int connect_silently_and_expect_refusal(void)
{
	int fd = tu_raw_connect("secure");
	union vdds__msg m;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int nfds;

	if (fd < 0)
		return TU_CHILD_SETUP_FAILED;
	/* a silent client of an admitted user waits 2 s to be swept, then
	 * gets no REJECT: only the refusal at accept answers before that */
	if (poll(&pfd, 1, 10000) != 1)
		return TU_CHILD_TIMEOUT;
	int len = vdds__msg_recv(fd, &m, NULL, 0, &nfds, MSG_DONTWAIT);

	if (len <= 0 || vdds__msg_parse(&m, (size_t)len) != VDDS__MSG_REJECT)
		return TU_CHILD_WRONG_RESULT;
	if (m.reject.err != EACCES || strcmp(m.reject.reason, "user not allowed") != 0)
		return TU_CHILD_REPORTED;
	/* and it hung up */
	if (poll(&pfd, 1, 10000) != 1 || vdds__msg_recv(fd, &m, NULL, 0, &nfds, MSG_DONTWAIT) != 0)
		return TU_CHILD_TIMEOUT + 1;
	close(fd);
	return TU_CHILD_OK;
}

START_TEST(test_a_refused_user_is_closed_at_accept_before_it_says_anything)
{
	if (geteuid() != 0) {
		tu_skip("needs root to connect as uid nobody");
		return;
	}
	tu_private_rundir();
	ck_assert_int_eq(chmod(getenv("VDDS_DIR"), 0711), 0);
	vdds_pub *pub = pub_up("secure");
	char path[128];

	/* the socket file lets it connect: SO_PEERCRED must refuse it */
	snprintf(path, sizeof(path), "%s/secure.sock", getenv("VDDS_DIR"));
	ck_assert_int_eq(chmod(path, 0666), 0);
	for (int i = 0; i < 3; i++) {
		pid_t pid = tu_fork_child();

		if (pid == 0) {
			if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
				_exit(TU_CHILD_SETUP_FAILED);
			_exit(connect_silently_and_expect_refusal());
		}
		tu_assert_exit(pid, TU_CHILD_OK);
	}
	ck_assert_int_eq(honest_subscriber(pub, "secure"), 0);
	vdds_pub_close(pub);
}
END_TEST

static Suite *admission_suite(void)
{
	Suite *s = suite_create("admission");
	TCase *flood_tc = tcase_create("flood");
	TCase *share = tcase_create("shares");
	TCase *who = tcase_create("refused");

	tcase_set_timeout(flood_tc, 120);
	tcase_add_test(
		flood_tc,
		test_honest_subscribers_are_admitted_while_200_silent_connections_are_renewed);
	tcase_add_test(flood_tc, test_a_user_flooding_from_another_uid_does_not_keep_us_out);
	suite_add_tcase(s, flood_tc);

	tcase_set_timeout(share, 60);
	tcase_add_test(share, test_a_process_past_its_share_is_told_publisher_busy_and_whose);
	tcase_add_test(share, test_a_user_past_its_share_is_told_publisher_busy_and_whose);
	suite_add_tcase(s, share);

	tcase_set_timeout(who, 60);
	tcase_add_test(who, test_a_refused_user_is_closed_at_accept_before_it_says_anything);
	suite_add_tcase(s, who);
	return s;
}

int main(void)
{
	return tu_run_suite(admission_suite());
}
