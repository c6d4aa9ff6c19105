/* test_overflow.c — what a publisher does when no slot is free (BLOCK,
 * DROP_OLDEST, FAIL), max_held, history for late joiners, and 256
 * subscribers on one topic; real subscriber processes where it matters. */
#include <check.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "vdds.h"

#define TOPIC "overflow"
#define WAIT_MS 10000 /* a lost wakeup shows as this timeout */

/* What each subscriber child saw, in shared memory. */
struct tally {
	_Atomic uint64_t taken, gaps, lost, last_seq;
	_Atomic uint32_t joined;
};

static struct tally *tallies(int n)
{
	struct tally *t = mmap(NULL, sizeof(*t) * (size_t)n, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(t, MAP_FAILED);
	return t;
}

static vdds_pub *open_pub(uint32_t slots, uint32_t overflow, uint32_t history)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload),
				   .slot_count = slots,
				   .max_subscribers = VDDS_MAX_SUBSCRIBERS,
				   .overflow = overflow,
				   .history = history };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	return pub;
}

static void publish(vdds_pub *pub, uint64_t seq, int end)
{
	void *buf;

	ck_assert_int_eq(vdds_pub_loan(pub, &buf, WAIT_MS), 0);
	tu_payload_fill(buf, seq, end);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, sizeof(struct tu_payload)), 0);
}

static struct vdds_pub_stats stats(vdds_pub *pub)
{
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	return st;
}

/* A subscriber child: take everything up to the end mark, checking each
 * payload, that seq only rises, and that it jumps by exactly what
 * vdds_sub_stats() counts as lost. pause_us: sleep after each sample
 * (a slow subscriber); random_pause: sleep a random 0..pause_us instead. */
static pid_t spawn_sub(struct tally *t, uint32_t pause_us, int random_pause)
{
	pid_t pid = tu_fork_child();

	if (pid != 0)
		return pid;
	vdds_sub *sub;
	struct vdds_sample s;
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), last = 0;

	if (tu_sub_open_retry(&sub, TOPIC, NULL) != 0)
		_exit(TU_CHILD_OPEN_FAILED);
	atomic_fetch_add(&t->joined, 1);
	for (;;) {
		int err = vdds_sub_wait(sub, WAIT_MS);

		if (err != 0)
			_exit(err == -ETIMEDOUT ? TU_CHILD_TIMEOUT : TU_CHILD_WAIT_FAILED);
		while ((err = vdds_sub_take(sub, &s)) == 0) {
			struct vdds_sub_stats st;

			if (!tu_payload_ok(&s))
				_exit(TU_CHILD_BAD_PAYLOAD);
			if (last && s.seq <= last)
				_exit(TU_CHILD_GAP); /* delivered twice, or out of order */
			if (vdds_sub_stats(sub, &st) != 0)
				_exit(TU_CHILD_WRONG_RESULT);
			/* before the first sample, what was lost has no seq to
			 * show it; from then on every jump is counted */
			if (last)
				atomic_fetch_add(&t->gaps, s.seq - last - 1);
			else
				atomic_store(&t->gaps, st.lost);
			last = s.seq;
			atomic_store(&t->last_seq, s.seq);
			atomic_fetch_add(&t->taken, 1);
			if (st.lost != atomic_load(&t->gaps))
				_exit(TU_CHILD_WRONG_RESULT);
			atomic_store(&t->lost, st.lost);
			int end = ((const struct tu_payload *)s.data)->end != 0;

			if (pause_us)
				tu_sleep_us(random_pause ? (long)(tu_xorshift(&rnd) % pause_us)
							 : (long)pause_us);
			if (vdds_sub_release(sub, &s) != 0)
				_exit(TU_CHILD_RELEASE_FAILED);
			if (end) {
				vdds_sub_close(sub);
				_exit(TU_CHILD_OK);
			}
		}
		if (err != -EAGAIN)
			_exit(TU_CHILD_TAKE_FAILED);
	}
}

/* Every child has opened its subscriber (it says so once open returned, so
 * the publisher has it): give many children, slow to start under a sanitizer
 * on a loaded machine, a minute; then the publisher must count them at once. */
#define JOIN_WAIT_NS (60ull * 1000000000ull)

static void await_joined(struct tally *t, int n, vdds_pub *pub)
{
	uint64_t t0 = tu_now_ns();

	for (int i = 0; i < n; i++)
		while (atomic_load(&t[i].joined) == 0 && tu_now_ns() - t0 < JOIN_WAIT_NS)
			tu_sleep_us(1000);
	for (int i = 0; i < n; i++)
		ck_assert_msg(atomic_load(&t[i].joined), "subscriber %d not in after 60 s", i);
	ck_assert_int_eq(tu_await_subscribers(pub, (uint32_t)n), 0);
}

/* -------------------------------------------------------------- policies */

START_TEST(test_block_loses_nothing_and_throttles_the_publisher_to_the_slow_subscriber)
{
	struct tally *t = tallies(2);

	tu_private_rundir();
	vdds_pub *pub = open_pub(8, VDDS_OVERFLOW_BLOCK, 0);
	pid_t fast = spawn_sub(&t[0], 0, 0), slow = spawn_sub(&t[1], 200, 0);

	await_joined(t, 2, pub);
	for (uint64_t seq = 1; seq <= 2000; seq++)
		publish(pub, seq, seq == 2000);
	tu_assert_exit(fast, TU_CHILD_OK);
	tu_assert_exit(slow, TU_CHILD_OK);
	struct vdds_pub_stats st = stats(pub);

	printf("BLOCK: %llu loans waited, %.1f ms in all; dropped %llu\n",
	       (unsigned long long)st.blocked, st.blocked_ns / 1e6, (unsigned long long)st.dropped);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(atomic_load(&t[i].taken), 2000);
		ck_assert_uint_eq(atomic_load(&t[i].lost), 0);
	}
	ck_assert_uint_gt(st.blocked, 0); /* throttled: it had to wait */
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.delivered, 4000);
	vdds_pub_close(pub);
}
END_TEST

#define KEEP_UP 128 /* of 256 slots */

START_TEST(test_drop_oldest_never_blocks_and_the_slow_subscriber_is_told_what_it_lost)
{
	struct tally *t = tallies(2);
	const uint64_t n = 20000;

	tu_private_rundir();
	vdds_pub *pub = open_pub(256, VDDS_OVERFLOW_DROP_OLDEST, 0);
	pid_t fast = spawn_sub(&t[0], 0, 0), slow = spawn_sub(&t[1], 1000, 0);

	await_joined(t, 2, pub);
	for (uint64_t seq = 1; seq <= n; seq++) {
		/* The fast one keeps up: never more than half the slots behind
		 * (a loaded machine may stall it longer than a sensor's period,
		 * and then it would rightly be the one robbed). */
		for (uint64_t t0 = tu_now_ns(); atomic_load(&t[0].taken) + KEEP_UP < seq;) {
			ck_assert_msg(tu_now_ns() - t0 < TU_AWAIT_NS,
				      "fast subscriber stuck at %llu",
				      (unsigned long long)atomic_load(&t[0].taken));
			tu_sleep_us(20);
		}
		publish(pub, seq, seq == n);
		tu_sleep_us(20); /* about what a sensor does */
	}
	tu_assert_exit(fast, TU_CHILD_OK);
	tu_assert_exit(slow, TU_CHILD_OK);
	struct vdds_pub_stats st = stats(pub);

	printf("DROP_OLDEST: %llu published; fast took %llu, lost %llu; slow took %llu, "
	       "lost %llu; %llu taken back, %llu loans waited\n",
	       (unsigned long long)n, (unsigned long long)atomic_load(&t[0].taken),
	       (unsigned long long)atomic_load(&t[0].lost),
	       (unsigned long long)atomic_load(&t[1].taken),
	       (unsigned long long)atomic_load(&t[1].lost), (unsigned long long)st.dropped,
	       (unsigned long long)st.blocked);
	ck_assert_uint_eq(st.blocked, 0); /* never slept for a slot */
	ck_assert_uint_eq(atomic_load(&t[0].taken), n);
	ck_assert_uint_eq(atomic_load(&t[0].lost), 0);
	ck_assert_uint_gt(atomic_load(&t[1].lost), 0);
	ck_assert_uint_eq(atomic_load(&t[1].taken) + atomic_load(&t[1].lost), n);
	ck_assert_uint_eq(st.dropped, atomic_load(&t[0].lost) + atomic_load(&t[1].lost));
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_fail_returns_eagain_at_once_whatever_the_timeout)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub(4, VDDS_OVERFLOW_FAIL, 0);
	vdds_sub *sub;
	void *buf;

	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
	for (uint64_t seq = 1; seq <= 4; seq++)
		publish(pub, seq, 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, -1), -EAGAIN);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 1000), -EAGAIN);
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0); /* one came back */
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	ck_assert_uint_eq(stats(pub).blocked, 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_drop_oldest_says_enobufs_when_only_taken_samples_are_left)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub(4, VDDS_OVERFLOW_DROP_OLDEST, 0);
	vdds_sub *sub;
	struct vdds_sample s[4];
	void *buf;

	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
	for (uint64_t seq = 1; seq <= 4; seq++)
		publish(pub, seq, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vdds_sub_take(sub, &s[i]), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, -1), -ENOBUFS);
	ck_assert_int_eq(vdds_sub_release(sub, &s[0]), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(vdds_sub_release(sub, &s[i]), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_an_unknown_policy_or_too_much_history_is_einval)
{
	struct vdds_pub_opts o = { .slot_count = 16, .overflow = 3 };
	vdds_pub *pub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), -EINVAL);
	o.overflow = VDDS_OVERFLOW_BLOCK;
	o.history = 9;
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), -EINVAL);
	o.slot_count = 0; /* the default, 64 */
	o.history = 33;
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), -EINVAL);
	o.history = 32;
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	vdds_pub_close(pub);
}
END_TEST

/* ---------------------------------------------------------------- max_held */

START_TEST(test_max_held_refuses_with_enobufs_and_keeps_the_fd_quiet_until_a_release)
{
	struct vdds_sub_opts so = { .max_held = 2 };
	vdds_sub *sub;
	struct vdds_sample s[3];

	tu_private_rundir();
	vdds_pub *pub = open_pub(8, VDDS_OVERFLOW_BLOCK, 0);

	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, &so), 0);
	struct pollfd pfd = { .fd = vdds_sub_fd(sub), .events = POLLIN };

	for (uint64_t seq = 1; seq <= 3; seq++)
		publish(pub, seq, 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s[0]), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s[1]), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s[2]), -ENOBUFS);
	ck_assert_int_eq(vdds_sub_wait(sub, 0), -ENOBUFS);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0); /* a sample waits, but cannot be taken */
	ck_assert_int_eq(vdds_sub_release(sub, &s[0]), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_int_eq(vdds_sub_take(sub, &s[2]), 0);
	ck_assert_uint_eq(s[2].seq, 3);
	struct vdds_sub_stats st;

	ck_assert_int_eq(vdds_sub_stats(sub, &st), 0);
	ck_assert_uint_eq(st.taken, 3);
	ck_assert_uint_eq(st.held, 2);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.lost, 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* ----------------------------------------------------------------- history */

static void late_joiner(uint32_t history, int decline)
{
	struct vdds_sub_opts so = { .no_history = decline };
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	vdds_pub *pub = open_pub(16, VDDS_OVERFLOW_BLOCK, history);

	for (uint64_t seq = 1; seq <= 20; seq++)
		publish(pub, seq, 0);
	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, &so), 0);
	struct pollfd pfd = { .fd = vdds_sub_fd(sub), .events = POLLIN };

	stats(pub); /* the publisher's next call attaches the joiner */
	uint32_t want = decline ? 0 : history;

	ck_assert_int_eq(poll(&pfd, 1, want ? WAIT_MS : 0), (want ? 1 : 0));
	for (uint64_t seq = 21 - want; seq <= 20; seq++) {
		ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
		ck_assert_uint_eq(s.seq, seq);
		ck_assert(tu_payload_ok(&s));
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	}
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	publish(pub, 21, 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(s.seq, 21);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	struct vdds_pub_stats st = stats(pub);

	/* the history holds its slots; everything else is free */
	ck_assert_uint_eq(st.free_slots, 16 - history);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}

START_TEST(test_history_0_gives_a_late_joiner_only_what_comes_next)
{
	late_joiner(0, 0);
}
END_TEST

START_TEST(test_history_1_gives_a_late_joiner_the_last_sample_first)
{
	late_joiner(1, 0);
}
END_TEST

START_TEST(test_history_8_gives_a_late_joiner_the_last_8_in_order)
{
	late_joiner(8, 0);
}
END_TEST

START_TEST(test_a_subscriber_may_decline_the_history)
{
	late_joiner(8, 1);
}
END_TEST

/* ------------------------------------------------------- DROP_OLDEST stress */

START_TEST(test_drop_oldest_under_stress_delivers_no_slot_twice_and_leaks_none)
{
	const uint64_t n = 1000000;
	struct tally *t = tallies(3);
	pid_t subs[3];
	uint64_t restarts = 0, taken = 0;

	tu_private_rundir();
	vdds_pub *pub = open_pub(32, VDDS_OVERFLOW_DROP_OLDEST, 0);

	for (int i = 0; i < 3; i++)
		subs[i] = spawn_sub(&t[i], i == 0 ? 0 : 20u * (uint32_t)i, 1);
	await_joined(t, 3, pub);
	for (uint64_t seq = 1; seq <= n; seq++) {
		publish(pub, seq, seq == n);
		if (seq % 50000 == 0 && seq < n) {
			/* the third one dies at a random point and comes back */
			ck_assert_int_eq(kill(subs[2], SIGKILL), 0);
			ck_assert_int_eq(waitpid(subs[2], NULL, 0), subs[2]);
			taken += atomic_load(&t[2].taken);
			memset(&t[2], 0, sizeof(t[2]));
			subs[2] = spawn_sub(&t[2], 40, 1);
			restarts++;
		}
	}
	for (int i = 0; i < 3; i++)
		tu_assert_exit(subs[i], TU_CHILD_OK);
	struct vdds_pub_stats st = stats(pub);

	for (uint64_t t0 = tu_now_ns(); st.subscribers || st.free_slots != st.slot_count;) {
		ck_assert_msg(tu_now_ns() - t0 < TU_AWAIT_NS, "slots not back: %u of %u free",
			      st.free_slots, st.slot_count);
		tu_sleep_us(1000);
		st = stats(pub);
	}
	printf("DROP_OLDEST stress: %llu published, %llu delivered, %llu taken back; takes "
	       "%llu, %llu, %llu (+%llu before %llu kills); free %u of %u at the end\n",
	       (unsigned long long)n, (unsigned long long)st.delivered,
	       (unsigned long long)st.dropped, (unsigned long long)atomic_load(&t[0].taken),
	       (unsigned long long)atomic_load(&t[1].taken),
	       (unsigned long long)atomic_load(&t[2].taken), (unsigned long long)taken,
	       (unsigned long long)restarts, st.free_slots, st.slot_count);
	ck_assert_uint_eq(st.blocked, 0);
	ck_assert_uint_eq(st.kicked, 0);
	ck_assert_uint_eq(st.published, n);
	ck_assert_uint_eq(st.loaned_slots, 0);
	vdds_pub_close(pub);
}
END_TEST

/* ----------------------------------------------------------- 256 subscribers */

START_TEST(test_256_subscriber_processes_each_get_1000_intact_and_the_257th_enospc)
{
	enum { N = VDDS_MAX_SUBSCRIBERS, MESSAGES = 1000 };
	struct tally *t = tallies(N);
	static pid_t pids[N];

	tu_private_rundir();
	vdds_pub *pub = open_pub(64, VDDS_OVERFLOW_BLOCK, 0);

	for (int i = 0; i < N; i++)
		pids[i] = spawn_sub(&t[i], 0, 0);
	await_joined(t, N, pub);
	vdds_sub *extra;

	ck_assert_int_eq(vdds_sub_open(&extra, TOPIC, NULL), -ENOSPC);
	for (uint64_t seq = 1; seq <= MESSAGES; seq++)
		publish(pub, seq, seq == MESSAGES);
	for (int i = 0; i < N; i++)
		tu_assert_exit(pids[i], TU_CHILD_OK);
	for (int i = 0; i < N; i++) {
		ck_assert_uint_eq(atomic_load(&t[i].taken), MESSAGES);
		ck_assert_uint_eq(atomic_load(&t[i].gaps), 0);
	}
	struct vdds_pub_stats st = stats(pub);

	printf("256 subscribers: %llu delivered, %llu wakeups, %llu loans waited\n",
	       (unsigned long long)st.delivered, (unsigned long long)st.wakeups,
	       (unsigned long long)st.blocked);
	ck_assert_uint_eq(st.delivered, (uint64_t)N * MESSAGES);
	vdds_pub_close(pub);
}
END_TEST

static Suite *overflow_suite(void)
{
	Suite *s = suite_create("overflow");
	TCase *policy = tcase_create("policy");
	TCase *held = tcase_create("held");
	TCase *history = tcase_create("history");
	TCase *stress = tcase_create("stress");

	tcase_set_timeout(policy, 120);
	tcase_add_test(policy,
		       test_block_loses_nothing_and_throttles_the_publisher_to_the_slow_subscriber);
	tcase_add_test(policy,
		       test_drop_oldest_never_blocks_and_the_slow_subscriber_is_told_what_it_lost);
	tcase_add_test(policy, test_fail_returns_eagain_at_once_whatever_the_timeout);
	tcase_add_test(policy, test_drop_oldest_says_enobufs_when_only_taken_samples_are_left);
	tcase_add_test(policy, test_an_unknown_policy_or_too_much_history_is_einval);
	suite_add_tcase(s, policy);
	tcase_set_timeout(held, 30);
	tcase_add_test(held,
		       test_max_held_refuses_with_enobufs_and_keeps_the_fd_quiet_until_a_release);
	suite_add_tcase(s, held);
	tcase_set_timeout(history, 30);
	tcase_add_test(history, test_history_0_gives_a_late_joiner_only_what_comes_next);
	tcase_add_test(history, test_history_1_gives_a_late_joiner_the_last_sample_first);
	tcase_add_test(history, test_history_8_gives_a_late_joiner_the_last_8_in_order);
	tcase_add_test(history, test_a_subscriber_may_decline_the_history);
	suite_add_tcase(s, history);
	tcase_set_timeout(stress, 300);
	tcase_add_test(stress, test_drop_oldest_under_stress_delivers_no_slot_twice_and_leaks_none);
	tcase_add_test(stress,
		       test_256_subscriber_processes_each_get_1000_intact_and_the_257th_enospc);
	suite_add_tcase(s, stress);
	return s;
}

int main(void)
{
	return tu_run_suite(overflow_suite());
}
