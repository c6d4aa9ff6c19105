/* test_wakeup.c — no lost wakeups: two processes ping-pong over two topics with
 * random short delays, so that every wait/arm/publish interleaving comes up. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "testutil.h"

#define PING "ping"
#define PONG "pong"
#define WAIT_MS 5000         /* a wait longer than this is a lost wakeup */
#define DEADLINE_SLACK_MS 20 /* a wait this close to WAIT_MS ended by its deadline */
#define ROUNDS_WAIT 200000ull
#define ROUNDS_EPOLL 100000ull

struct ball {
	uint64_t round;
	uint64_t check; /* ~round: a torn or stale slot shows */
};

/* One side of the ping-pong: it publishes on its topic and subscribes to the
 * other side's. */
struct side {
	const char *name;
	vdds_pub *pub;
	vdds_sub *sub;
	int epfd; /* >= 0: wait with epoll on vdds_sub_fd, not vdds_sub_wait */
	uint64_t rng;
	uint64_t spurious; /* epoll wakeups with nothing to take */
	uint64_t rounds;   /* the last round: the peer may close right after it */
	char why[384];
};

static int side_error(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int side_error(struct side *s, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(s->why, sizeof(s->why), "%s: ", s->name);

	va_start(ap, fmt);
	vsnprintf(s->why + n, sizeof(s->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t next_random(struct side *s)
{
	/* xorshift64*: cheap, and different on each side */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

/* Half the time nothing; else a spin of 100-900 ns, or a sleep of 1-10 us. */
static void random_delay(struct side *s)
{
	uint64_t r = next_random(s);

	switch (r & 7) {
	case 4:
	case 5: {
		uint64_t until = tu_now_ns() + 100 + (r >> 8) % 800;

		while (tu_now_ns() < until)
			;
		break;
	}
	case 6:
	case 7: tu_sleep_us(1 + (long)((r >> 8) % 10)); break;
	default: break;
	}
}

/* Open our topic, subscribe to the peer's, and wait until the peer has
 * subscribed to ours: from then on nothing either side sends is missed. */
static int side_open(struct side *s, const char *mine, const char *theirs, int use_epoll,
		     uint32_t spin_ns)
{
	struct vdds_pub_opts opts = { .slot_size = sizeof(struct ball), .slot_count = 4 };
	struct vdds_sub_opts sopts = { .spin_ns = spin_ns };
	struct vdds_pub_stats st;
	int err;

	s->epfd = -1;
	s->rng = tu_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	/* sleeps of a few microseconds, not the default 50 us of timer slack */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if ((err = vdds_pub_open(&s->pub, mine, &opts)) != 0)
		return side_error(s, "vdds_pub_open returned %d (%s)", err, vdds_strerror(err));
	if ((err = tu_sub_open_retry(&s->sub, theirs, &sopts)) != 0)
		return side_error(s, "vdds_sub_open returned %d (%s)", err, vdds_strerror(err));
	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN };

		s->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, vdds_sub_fd(s->sub), &ev) < 0)
			return side_error(s, "epoll: %s", strerror(errno));
	}
	uint64_t deadline = tu_now_ns() + WAIT_MS * 1000000ull;

	for (;;) {
		if ((err = vdds_pub_stats(s->pub, &st)) != 0)
			return side_error(s, "vdds_pub_stats returned %d", err);
		if (st.subscribers == 1)
			return 0;
		if (tu_now_ns() > deadline)
			return side_error(s, "the peer did not subscribe");
		tu_sleep_us(1000);
	}
}

static void side_close(struct side *s)
{
	if (s->epfd >= 0)
		close(s->epfd);
	vdds_sub_close(s->sub);
	vdds_pub_close(s->pub);
	s->sub = NULL;
	s->pub = NULL;
	s->epfd = -1;
}

static int side_send(struct side *s, uint64_t round)
{
	struct ball b = { round, ~round };

	random_delay(s);
	int err = vdds_pub_write(s->pub, &b, sizeof(b), WAIT_MS);

	if (err != 0)
		return side_error(s, "vdds_pub_write returned %d (%s) at round %" PRIu64, err,
				  vdds_strerror(err), round);
	return 0;
}

/* The wait timed out: was the sample there all along (a lost wakeup), or did
 * it never come (the peer is stuck)? */
static int timed_out(struct side *s, uint64_t round, const char *how)
{
	struct vdds_sample smp;
	int err = vdds_sub_take(s->sub, &smp);

	return side_error(s,
			  "wakeup lost at round %" PRIu64 ": %s timed out after %d ms; "
			  "take then returned %d (%s)",
			  round, how, WAIT_MS, err,
			  err == 0 ? "the sample had arrived: nobody woke us"
				   : "nothing had arrived either");
}

/* Take the round's sample, blocking with vdds_sub_wait. */
static int recv_wait(struct side *s, uint64_t round, struct vdds_sample *smp)
{
	uint64_t t0 = tu_now_ns();
	int err = vdds_sub_wait(s->sub, WAIT_MS);
	uint64_t waited_ms = (tu_now_ns() - t0) / 1000000;

	if (err == -ETIMEDOUT)
		return timed_out(s, round, "vdds_sub_wait");
	/* vdds_sub_wait looks at the ring once more when its time is up, so a
	 * lost wakeup can also come back as 0, but only at the deadline */
	if (err == 0 && waited_ms >= WAIT_MS - DEADLINE_SLACK_MS)
		return side_error(s,
				  "wakeup lost at round %" PRIu64 ": vdds_sub_wait returned 0 "
				  "only at its %d ms deadline (after %" PRIu64 " ms): the sample "
				  "was there, nobody woke us",
				  round, WAIT_MS, waited_ms);
	if (err != 0)
		return side_error(s, "vdds_sub_wait returned %d (%s) at round %" PRIu64, err,
				  vdds_strerror(err), round);
	err = vdds_sub_take(s->sub, smp);
	if (err != 0)
		return side_error(s,
				  "take after a successful wait returned %d (%s) at round %" PRIu64,
				  err, vdds_strerror(err), round);
	return 0;
}

/* Take the round's sample: take until -EAGAIN, then epoll_wait on the fd. */
static int recv_epoll(struct side *s, uint64_t round, struct vdds_sample *smp)
{
	struct epoll_event ev;
	int err, n, woke = 0;

	while ((err = vdds_sub_take(s->sub, smp)) == -EAGAIN) {
		if (woke)
			s->spurious++;
		do
			n = epoll_wait(s->epfd, &ev, 1, WAIT_MS);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return timed_out(s, round, "epoll_wait on vdds_sub_fd");
		if (n < 0)
			return side_error(s, "epoll_wait: %s", strerror(errno));
		woke = 1;
	}
	if (err != 0)
		return side_error(s, "take returned %d (%s) at round %" PRIu64, err,
				  vdds_strerror(err), round);
	return 0;
}

static int side_recv(struct side *s, uint64_t round)
{
	struct vdds_sample smp;
	struct ball b;
	int err;

	random_delay(s);
	if ((s->epfd >= 0 ? recv_epoll(s, round, &smp) : recv_wait(s, round, &smp)) < 0)
		return -1;
	if (smp.len != sizeof(b))
		return side_error(s, "round %" PRIu64 ": length %zu", round, smp.len);
	memcpy(&b, smp.data, sizeof(b));
	if (b.round != round || b.check != ~round || smp.seq != round)
		return side_error(
			s, "round %" PRIu64 ": got round %" PRIu64 " (check %s), seq %" PRIu64,
			round, b.round, b.check == ~b.round ? "ok" : "bad", smp.seq);
	if ((err = vdds_sub_release(s->sub, &smp)) != 0)
		return side_error(s, "release returned %d at round %" PRIu64, err, round);
	/* after the last round the pong side closes at once: its publisher
	 * may be gone before our second take, which then says -EPIPE */
	if (s->epfd >= 0 && (err = vdds_sub_take(s->sub, &smp)) != -EAGAIN &&
	    !(err == -EPIPE && round == s->rounds))
		return side_error(s, "round %" PRIu64 ": a second take returned %d, seq %" PRIu64,
				  round, err, err ? 0 : smp.seq);
	return 0;
}

/* --------------------------------------------------------- the pong process */

struct pong_args {
	uint64_t rounds;
	int use_epoll;
	uint32_t spin_ns;
	int report; /* write end: why we failed */
};

static int run_pong(const struct pong_args *a)
{
	struct side s = { .name = "pong side", .rounds = a->rounds };
	int err = side_open(&s, PONG, PING, a->use_epoll, a->spin_ns);

	for (uint64_t r = 1; err == 0 && r <= a->rounds; r++)
		err = side_recv(&s, r) < 0 || side_send(&s, r) < 0 ? -1 : 0;
	if (err != 0) {
		if (write(a->report, s.why, strlen(s.why)) < 0) {
			/* the exit status still says we failed */
		}
		return TU_CHILD_REPORTED;
	}
	side_close(&s);
	return TU_CHILD_OK;
}

/* Fork the pong process; returns its pid, and the read end of its report. */
static pid_t start_pong(uint64_t rounds, int use_epoll, uint32_t spin_ns, int *report)
{
	int fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		struct pong_args a = { rounds, use_epoll, spin_ns, fds[1] };

		close(fds[0]);
		_exit(run_pong(&a));
	}
	close(fds[1]);
	*report = fds[0];
	return pid;
}

/* Ping `rounds` times against a forked pong process; fail with both sides'
 * reasons if either side saw anything wrong. */
static void ping_pong(uint64_t rounds, int use_epoll, uint32_t spin_ns)
{
	struct side s = { .name = "ping side", .rounds = rounds };
	int report, status = 0;
	char theirs[400] = "";
	uint64_t r = 0;

	tu_private_rundir();
	/* fork before any handle exists: nothing crosses fork */
	pid_t pid = start_pong(rounds, use_epoll, spin_ns, &report);
	uint64_t t0 = tu_now_ns();
	int err = side_open(&s, PING, PONG, use_epoll, spin_ns);

	for (r = 1; err == 0 && r <= rounds; r++)
		err = side_send(&s, r) < 0 || side_recv(&s, r) < 0 ? -1 : 0;
	uint64_t t1 = tu_now_ns();

	/* closing ours lets a pong process that is still waiting see EPIPE */
	side_close(&s);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ssize_t n = read(report, theirs, sizeof(theirs) - 1);

	theirs[n > 0 ? n : 0] = '\0';
	close(report);
	ck_assert_msg(err == 0, "%s [pong process: %s]", s.why, theirs[0] ? theirs : "no error");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_OK,
		      "pong process failed (status 0x%x): %s", status, theirs);
	printf("test_wakeup: %" PRIu64 " round trips with %s (spin_ns %u) in %.2f s (%.1f us each)",
	       rounds, use_epoll ? "epoll on vdds_sub_fd" : "vdds_sub_wait", spin_ns,
	       (double)(t1 - t0) / 1e9, (double)(t1 - t0) / 1e3 / (double)rounds);
	if (use_epoll)
		printf(", %" PRIu64 " spurious epoll wakeups on the ping side", s.spurious);
	printf("\n");
}

/* ------------------------------------------------------------------- tests */

START_TEST(test_blocking_round_trips_never_lose_a_wakeup)
{
	ping_pong(ROUNDS_WAIT, 0, 0);
}
END_TEST

/* the adaptive wait looks at the ring first: it must not lose a wakeup when
 * the sample comes just after it gives up */
START_TEST(test_blocking_round_trips_that_spin_first_never_lose_a_wakeup)
{
	ping_pong(ROUNDS_WAIT, 0, 10000);
}
END_TEST

START_TEST(test_epoll_round_trips_never_lose_a_wakeup)
{
	ping_pong(ROUNDS_EPOLL, 1, 0);
}
END_TEST

static Suite *wakeup_suite(void)
{
	Suite *s = suite_create("wakeup");
	TCase *tc = tcase_create("wakeup");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_blocking_round_trips_never_lose_a_wakeup);
	tcase_add_test(tc, test_blocking_round_trips_that_spin_first_never_lose_a_wakeup);
	tcase_add_test(tc, test_epoll_round_trips_never_lose_a_wakeup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(wakeup_suite());
}
