/* test_stuck.c — a reconnecting subscriber meeting a publisher that cannot
 * answer (issue #26, point 4): one stopped with SIGSTOP after it went live,
 * and a listener whose backlog is full and that never accepts. take() must
 * keep saying "nothing yet" at once, however often it is called, and the
 * subscriber must follow the next honest publisher. Promptness is asserted by
 * counting (thousands of calls, each returning) under a watchdog alarm that
 * turns a blocked call into a failure, never by the clock. And a failed
 * malloc while reconnecting (point 7) loses nothing: no descriptor, no
 * mapping, no held sample. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "testutil.h"

#define CALLS 5000    /* takes while the publisher is stuck */
#define WATCHDOG_S 60 /* a blocked take (the old code: forever) fails the test */

/* A publisher process: opens topic, says so on `up`, then publishes a
 * numbered sample every 2 ms until killed. */
static pid_t publisher(const char *topic)
{
	int up[2];

	ck_assert_int_eq(pipe(up), 0);
	int keep = up[1];
	pid_t pid = tu_fork_child_keeping(&keep);

	if (pid == 0) {
		struct vdds_pub_opts o = { .slot_count = 8, .overflow = VDDS_OVERFLOW_DROP_OLDEST };
		vdds_pub *pub;
		char c = 1;

		if (vdds_pub_open(&pub, topic, &o) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		if (write(keep, &c, 1) != 1)
			_exit(TU_CHILD_PIPE_FAILED);
		for (uint64_t n = 1;; n++) {
			vdds_pub_write(pub, &n, sizeof(n), 0);
			tu_sleep_us(2000);
		}
	}
	close(up[1]);
	char c;

	ck_assert_int_eq(read(up[0], &c, 1), 1);
	close(up[0]);
	return pid;
}

/* SIGSTOP pid and wait until every thread of it has stopped (a signal is
 * acted on as each thread next runs): from then on it answers nothing. */
static void stop_process(pid_t pid)
{
	char path[64];

	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	for (int round = 0; round < 10000; round++) {
		DIR *d = opendir(path);
		struct dirent *e;
		int running = 0;

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d))) {
			char stat[512], buf[256];

			if (e->d_name[0] == '.')
				continue;
			snprintf(stat, sizeof(stat), "%s/%s/stat", path, e->d_name);
			FILE *f = fopen(stat, "r");
			char *paren = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;

			running |= !paren || paren[1] != ' ' || paren[2] != 'T';
			if (f)
				fclose(f);
		}
		closedir(d);
		if (!running)
			return;
		tu_sleep_us(1000);
	}
	ck_abort_msg("process %d did not stop", (int)pid);
}

static void kill_and_reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* A reconnecting subscriber of a publisher that is then killed: returned
 * once it has taken a sample and seen the publisher go (take -EAGAIN after
 * the hang-up: it is reconnecting). */
static vdds_sub *subscriber_of_a_dead_publisher(const char *topic)
{
	struct vdds_sub_opts o = { .reconnect = true };
	vdds_sub *sub;
	struct vdds_sample s;
	pid_t first = publisher(topic);

	ck_assert_int_eq(tu_sub_open_retry(&sub, topic, &o), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 10000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	kill_and_reap(first);
	/* drain what it left, until the hang-up is learned */
	for (int i = 0; i < 100000; i++) {
		int err = vdds_sub_take(sub, &s);

		if (err == 0) {
			ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
			continue;
		}
		ck_assert_int_eq(err, -EAGAIN);
		if (vdds_sub_wait(sub, 10) == -ETIMEDOUT)
			break;
	}
	return sub;
}

/* Call take() CALLS times: each must return at once with -EAGAIN (nothing
 * from the stuck publisher), and wait(0) must only look. */
static void take_stays_prompt(vdds_sub *sub)
{
	struct vdds_sample s;
	int eagain = 0;

	alarm(WATCHDOG_S);
	for (int i = 0; i < CALLS; i++) {
		int err = vdds_sub_take(sub, &s);

		ck_assert_msg(err == -EAGAIN, "take %d of %d returned %d (%s)", i, CALLS, err,
			      vdds_strerror(err));
		eagain++;
		if (i % 500 == 0) {
			ck_assert_int_eq(vdds_sub_wait(sub, 0), -ETIMEDOUT);
			ck_assert_int_eq(vdds_sub_wait(sub, 1), -ETIMEDOUT);
		}
	}
	alarm(0);
	ck_assert_int_eq(eagain, CALLS);
}

/* The subscriber follows an honest publisher: samples of the next epoch. */
static void follows_the_next_publisher(vdds_sub *sub, uint32_t epoch)
{
	struct vdds_sample s;

	alarm(WATCHDOG_S);
	for (;;) {
		int err = vdds_sub_wait(sub, 100);

		ck_assert_msg(err == 0 || err == -ETIMEDOUT, "wait: %d", err);
		err = vdds_sub_take(sub, &s);
		if (err == 0)
			break;
		ck_assert_int_eq(err, -EAGAIN);
	}
	alarm(0);
	ck_assert_uint_eq(s.epoch, epoch);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
}

START_TEST(test_take_stays_prompt_while_the_new_publisher_is_stopped)
{
	tu_private_rundir();
	vdds_sub *sub = subscriber_of_a_dead_publisher("stuck");
	pid_t next = publisher("stuck");

	/* live (its socket renamed into place), and stopped before our take
	 * has seen it: the connect succeeds into its backlog, our HELLO is
	 * queued, and no WELCOME will come */
	stop_process(next);
	take_stays_prompt(sub);
	/* resumed, it answers: the handshake under way completes */
	ck_assert_int_eq(kill(next, SIGCONT), 0);
	follows_the_next_publisher(sub, 1);
	kill_and_reap(next);
	vdds_sub_close(sub);
}
END_TEST

/* A listener on the topic's socket whose backlog is full and that never
 * accepts: made under another name, filled, then renamed into place as a
 * publisher does, so that the subscriber's directory watch sees it. Returns
 * the listening socket; the filling connections are in fill[*n]. */
static int stuck_listener(const char *topic, int *fill, int cap, int *n)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char final[sizeof(addr.sun_path)];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.stuck", getenv("VDDS_DIR"), topic);
	snprintf(final, sizeof(final), "%s/%s.sock", getenv("VDDS_DIR"), topic);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	for (*n = 0; *n < cap; (*n)++) {
		fill[*n] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fill[*n], 0);
		if (connect(fill[*n], (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			ck_assert_int_eq(errno, EAGAIN); /* full */
			close(fill[*n]);
			break;
		}
	}
	ck_assert_int_lt(*n, cap);
	ck_assert_int_eq(rename(addr.sun_path, final), 0);
	return fd;
}

START_TEST(test_take_stays_prompt_against_a_full_backlog_that_never_accepts)
{
	tu_private_rundir();
	vdds_sub *sub = subscriber_of_a_dead_publisher("full");
	int fill[16], n;
	int fd = stuck_listener("full", fill, 16, &n);

	take_stays_prompt(sub);
	/* and with time passing (the retry timer firing, the fd woken by it):
	 * still nothing but -EAGAIN, and wait keeps to its timeout */
	alarm(WATCHDOG_S);
	for (int i = 0; i < 30; i++) {
		struct vdds_sample s;
		int err = vdds_sub_wait(sub, 50);

		ck_assert_msg(err == -ETIMEDOUT || err == 0, "wait: %d", err);
		ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	}
	alarm(0);
	/* the impostor goes; an honest publisher comes */
	close(fd);
	for (int i = 0; i < n; i++)
		close(fill[i]);
	pid_t next = publisher("full");

	follows_the_next_publisher(sub, 1);
	kill_and_reap(next);
	vdds_sub_close(sub);
}
END_TEST

START_TEST(test_the_fd_does_not_spin_while_the_new_publisher_is_stopped)
{
	tu_private_rundir();
	vdds_sub *sub = subscriber_of_a_dead_publisher("spin");
	int fd = vdds_sub_fd(sub);
	pid_t next = publisher("spin");
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int readable = 0;

	ck_assert_int_ge(fd, 0);
	stop_process(next);
	/* an event loop: take whenever the fd is readable. The handshake is
	 * under way and the publisher silent: the fd is readable a few times
	 * (the directory changed, a retry is due), not on every look */
	alarm(WATCHDOG_S);
	for (int i = 0; i < 200; i++) {
		struct vdds_sample s;

		if (poll(&pfd, 1, 1) == 1) {
			readable++;
			ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
		}
	}
	alarm(0);
	ck_assert_int_lt(readable, 50);
	ck_assert_int_eq(kill(next, SIGCONT), 0);
	follows_the_next_publisher(sub, 1);
	kill_and_reap(next);
	vdds_sub_close(sub);
}
END_TEST

START_TEST(test_a_waitset_stays_prompt_while_the_new_publisher_is_stopped)
{
	tu_private_rundir();
	vdds_sub *sub = subscriber_of_a_dead_publisher("ws");
	vdds_waitset *ws;
	struct vdds_event ev;

	ck_assert_int_eq(vdds_waitset_new(&ws), 0);
	ck_assert_int_eq(vdds_waitset_add_sub(ws, sub, sub), 0);
	pid_t next = publisher("ws");

	stop_process(next);
	/* each wait arms the subscriber, which advances its handshake without
	 * waiting for it: nothing to report, every time, within the timeout */
	alarm(WATCHDOG_S);
	for (int i = 0; i < 500; i++)
		ck_assert_int_eq(vdds_waitset_wait(ws, &ev, 1, i % 2), -ETIMEDOUT);
	alarm(0);
	ck_assert_int_eq(kill(next, SIGCONT), 0);
	/* resumed: the waitset reports the subscriber once a sample is there */
	alarm(WATCHDOG_S);
	int n;

	while ((n = vdds_waitset_wait(ws, &ev, 1, 100)) == -ETIMEDOUT) {
	}
	alarm(0);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(ev.user, sub);
	follows_the_next_publisher(sub, 1);
	vdds_waitset_free(ws);
	kill_and_reap(next);
	vdds_sub_close(sub);
}
END_TEST

/* ------------------------------------------------- out of memory (point 7)
 *
 * This suite is linked with -Wl,--wrap=malloc: the library's calls to
 * malloc come here, and fail while fail_mallocs says so. */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static tu_atomic_uint fail_mallocs;

void *__wrap_malloc(size_t size)
{
	unsigned n = atomic_load(&fail_mallocs);

	while (n > 0)
		if (atomic_compare_exchange_weak(&fail_mallocs, &n, n - 1))
			return NULL;
	return __real_malloc(size);
}

/* Mappings of vdds's memfds in this process. */
static int count_vdds_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:vdds-") != NULL;
	fclose(f);
	return n;
}

START_TEST(test_out_of_memory_while_reconnecting_loses_nothing)
{
	tu_private_rundir();
	int fds = tu_count_fds(), maps = count_vdds_mappings();
	struct vdds_sub_opts o = { .reconnect = true };
	vdds_sub *sub;
	struct vdds_sample held, s;
	pid_t first = publisher("oom");

	ck_assert_int_eq(tu_sub_open_retry(&sub, "oom", &o), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 10000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &held), 0); /* kept across the reconnect */
	kill_and_reap(first);
	alarm(WATCHDOG_S);
	/* take what it left; then, the hang-up learned, keeping the held
	 * sample's link needs memory, which is not there: said so, and tried
	 * again by the next call */
	int err;

	atomic_store(&fail_mallocs, 1);
	while ((err = vdds_sub_take(sub, &s)) == 0)
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(err, -ENOMEM);
	ck_assert_uint_eq(atomic_load(&fail_mallocs), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN); /* reconnecting now */
	pid_t next = publisher("oom");

	follows_the_next_publisher(sub, 1);
	alarm(0);
	/* the dead publisher's link was kept for the held sample */
	ck_assert_int_eq(vdds_sub_release(sub, &held), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &held), -EINVAL);
	kill_and_reap(next);
	vdds_sub_close(sub);
	ck_assert_int_eq(tu_count_fds(), fds);
	ck_assert_int_eq(count_vdds_mappings(), maps);
}
END_TEST

static Suite *stuck_suite(void)
{
	Suite *s = suite_create("stuck");
	TCase *tc = tcase_create("reconnect");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_take_stays_prompt_while_the_new_publisher_is_stopped);
	tcase_add_test(tc, test_take_stays_prompt_against_a_full_backlog_that_never_accepts);
	tcase_add_test(tc, test_the_fd_does_not_spin_while_the_new_publisher_is_stopped);
	tcase_add_test(tc, test_a_waitset_stays_prompt_while_the_new_publisher_is_stopped);
	tcase_add_test(tc, test_out_of_memory_while_reconnecting_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(stuck_suite());
}
