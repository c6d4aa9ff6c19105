/* test_chaos.c — chaos: one publisher streams under the blocking policy while
 * a driver SIGKILLs and respawns its four subscriber processes at random,
 * thousands of times. Afterwards no slot or descriptor is leaked, no
 * subscriber ever saw a gap, and no loan came near its timeout. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"

#define TOPIC "chaos"
#define N_SUBS 4
#define SLOT_COUNT 16
#define HOLD_MAX 3          /* per subscriber: 4 * 3 < 16, so never a deadlock */
#define KILLS 2000          /* of subscribers that had joined */
#define HANDSHAKE_KILLS 100 /* extra, aimed at children still connecting */
#define RUN_NS (30ull * 1000000000ull)
#define LOAN_TIMEOUT_MS 2000
#define JOIN_TIMEOUT_NS (10ull * 1000000000ull)

/* ------------------------------------------------------ shared with children */

enum phase { PH_OPENING, PH_WAITING, PH_TAKING };

/* One anonymous shared page: each child writes only its own slot's line. */
struct slot_state {
	_Alignas(64) _Atomic uint32_t joined_gen; /* the generation that is subscribed */
	_Atomic uint32_t phase;                   /* enum phase */
	_Atomic uint32_t held;                    /* samples held right now */
	_Atomic uint64_t checked;                 /* samples verified, all generations */
	_Atomic uint64_t max_wait_ns;             /* longest vdds_sub_wait, all generations */
};

struct shared {
	struct slot_state slot[N_SUBS];
	_Alignas(64) _Atomic uint64_t violations;
	_Atomic int first_recorded;
	uint64_t first_expected, first_got; /* the first gap seen */
	int first_slot;
};

static void record_violation(struct shared *sh, int idx, uint64_t expected, uint64_t got)
{
	int no = 0;

	atomic_fetch_add(&sh->violations, 1);
	if (atomic_compare_exchange_strong(&sh->first_recorded, &no, 1)) {
		sh->first_expected = expected;
		sh->first_got = got;
		sh->first_slot = idx;
	}
}

/* A subscriber child: its own handle; checks that seq runs on by one from its
 * first sample and that every payload is intact; holds a few samples at
 * random and dawdles at random, so that a kill finds it in any state; exits
 * TU_CHILD_OK when it sees the end mark (else it is only ever SIGKILLed). */
static void child_main(struct shared *sh, int idx, uint32_t gen)
{
	struct slot_state *me = &sh->slot[idx];
	struct vdds_sample held[HOLD_MAX], s;
	uint32_t n_held = 0;
	uint64_t rnd = ((uint64_t)getpid() << 20) ^ gen ^ tu_now_ns();
	uint64_t next = 0;
	vdds_sub *sub;
	int err;

	atomic_store(&me->phase, PH_OPENING);
	atomic_store(&me->held, 0);
	if (vdds_sub_open(&sub, TOPIC, NULL) != 0)
		_exit(TU_CHILD_OPEN_FAILED);
	atomic_store(&me->joined_gen, gen);
	for (;;) {
		atomic_store_explicit(&me->phase, PH_WAITING, memory_order_relaxed);
		uint64_t w0 = tu_now_ns();

		err = vdds_sub_wait(sub, 1000);
		uint64_t waited = tu_now_ns() - w0;

		if (waited > atomic_load_explicit(&me->max_wait_ns, memory_order_relaxed))
			atomic_store_explicit(&me->max_wait_ns, waited, memory_order_relaxed);
		if (err == -ETIMEDOUT)
			continue;
		if (err != 0)
			_exit(TU_CHILD_WAIT_FAILED);
		atomic_store_explicit(&me->phase, PH_TAKING, memory_order_relaxed);
		while ((err = vdds_sub_take(sub, &s)) == 0) {
			if (next != 0 && s.seq != next) {
				record_violation(sh, idx, next, s.seq);
				_exit(TU_CHILD_GAP);
			}
			if (!tu_payload_ok(&s)) {
				record_violation(sh, idx, s.seq,
						 ((const struct tu_payload *)s.data)->seq);
				_exit(TU_CHILD_BAD_PAYLOAD);
			}
			next = s.seq + 1;
			atomic_fetch_add_explicit(&me->checked, 1, memory_order_relaxed);
			if (((const struct tu_payload *)s.data)->end) {
				vdds_sub_close(sub); /* releases what it holds */
				_exit(TU_CHILD_OK);
			}
			uint64_t r = tu_xorshift(&rnd);

			if (n_held < HOLD_MAX && r % 3 == 0) {
				held[n_held++] = s;
			} else if (vdds_sub_release(sub, &s) != 0) {
				_exit(TU_CHILD_RELEASE_FAILED);
			}
			if (n_held > 0 && (r >> 8) % 8 == 0) {
				uint32_t k = (uint32_t)((r >> 16) % n_held);

				if (vdds_sub_release(sub, &held[k]) != 0)
					_exit(TU_CHILD_RELEASE_FAILED);
				held[k] = held[--n_held];
			}
			atomic_store_explicit(&me->held, n_held, memory_order_relaxed);
			if ((r >> 24) % 256 == 0)
				tu_sleep_us((long)((r >> 32) % 1000));
			else if ((r >> 24) % 4096 == 1)
				tu_sleep_us((long)((r >> 32) % 5000));
		}
		if (err != -EAGAIN)
			_exit(TU_CHILD_TAKE_FAILED);
	}
}

/* The child dies with the test and holds nothing of the parent's but what
 * fork mapped. */
static pid_t spawn_child(struct shared *sh, int idx, uint32_t gen)
{
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid == 0)
		child_main(sh, idx, gen);
	return pid;
}

/* ---------------------------------------------------------------- publisher */

/* The publishing thread: the only one that calls vdds_pub_* while it runs. */
struct streamer {
	vdds_pub *pub;
	_Atomic int stop;
	uint64_t sent;
	uint64_t max_wait_ns;
	int err;
};

static void *stream_main(void *arg)
{
	struct streamer *st = arg;

	for (;;) {
		int last = atomic_load(&st->stop);
		uint64_t t0 = tu_now_ns();
		void *buf;
		int err = vdds_pub_loan(st->pub, &buf, LOAN_TIMEOUT_MS);
		uint64_t waited = tu_now_ns() - t0;

		if (waited > st->max_wait_ns)
			st->max_wait_ns = waited;
		if (err == 0) {
			tu_payload_fill(buf, st->sent + 1, last);
			err = vdds_pub_publish(st->pub, buf, sizeof(struct tu_payload));
		}
		if (err != 0) {
			st->err = err;
			return NULL;
		}
		st->sent++;
		if (last)
			return NULL;
	}
}

/* ------------------------------------------------------------------- driver */

struct driver {
	struct shared *sh;
	pid_t pid[N_SUBS];
	uint32_t gen[N_SUBS];
	uint64_t rnd;
	uint32_t joined_kills, handshake_kills;
	uint32_t killed_in[3];   /* by phase seen just before the kill */
	uint32_t killed_holding; /* of those, holding samples */
	uint32_t child_failures; /* children that exited by themselves or crashed */
};

static int joined(const struct driver *d, int idx)
{
	return atomic_load(&d->sh->slot[idx].joined_gen) == d->gen[idx];
}

/* Wait (bounded) until slot idx's child has subscribed. */
static void await_join(const struct driver *d, int idx)
{
	uint64_t t0 = tu_now_ns();

	while (!joined(d, idx)) {
		ck_assert_msg(waitpid(d->pid[idx], NULL, WNOHANG) == 0,
			      "subscriber %d exited before it joined", idx);
		ck_assert_msg(tu_now_ns() - t0 < JOIN_TIMEOUT_NS,
			      "subscriber %d did not join within 10 s", idx);
		tu_sleep_us(50);
	}
}

static void kill_and_respawn(struct driver *d, int idx)
{
	struct slot_state *ss = &d->sh->slot[idx];
	int was_joined = joined(d, idx);
	uint32_t phase = atomic_load(&ss->phase), held = atomic_load(&ss->held);
	int status;

	ck_assert_int_eq(kill(d->pid[idx], SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid[idx], &status, 0), d->pid[idx]);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		d->child_failures++;
		fprintf(stderr, "subscriber %d ended by itself: status 0x%x\n", idx, status);
	}
	if (was_joined) {
		d->joined_kills++;
		d->killed_in[phase < 3 ? phase : 0]++;
		d->killed_holding += held > 0;
	} else {
		d->handshake_kills++;
	}
	d->gen[idx]++;
	d->pid[idx] = spawn_child(d->sh, idx, d->gen[idx]);
}

static void run_kills(struct driver *d, uint64_t deadline)
{
	int last = 0;
	uint32_t early_done = 0;

	for (uint32_t k = 0; k < KILLS;) {
		uint64_t r = tu_xorshift(&d->rnd);

		if (early_done < HANDSHAKE_KILLS && r % 20 == 0) {
			/* the slot respawned last: its child is likely still
			 * starting or in the middle of its handshake */
			tu_sleep_us((long)((r >> 8) % 300));
			kill_and_respawn(d, last);
			early_done++;
			continue;
		}
		int idx = (int)((r >> 8) % N_SUBS);
		uint64_t now = tu_now_ns();
		uint64_t pace = now < deadline ? (deadline - now) / (KILLS - k) : 0;

		await_join(d, idx);
		/* random moment: idle, taking, holding, or sleeping */
		tu_sleep_us((long)((r >> 16) % (pace / 1000 + 1)));
		kill_and_respawn(d, idx);
		last = idx;
		k++;
	}
	while (early_done++ < HANDSHAKE_KILLS)
		kill_and_respawn(d, last);
}

START_TEST(test_killing_subscribers_at_random_leaks_nothing_and_loses_nothing)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload),
				   .slot_count = SLOT_COUNT };
	struct streamer st = { 0 };
	struct driver d = { 0 };
	struct vdds_pub_stats ps;
	pthread_t thread;

	tu_private_rundir();
	int fds_before = tu_count_fds();

	d.sh = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	ck_assert_ptr_ne(d.sh, MAP_FAILED);
	d.rnd = tu_now_ns() | 1;
	ck_assert_int_eq(vdds_pub_open(&st.pub, TOPIC, &o), 0);
	int fds_open = tu_count_fds();
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(pthread_create(&thread, NULL, stream_main, &st), 0);
	for (int i = 0; i < N_SUBS; i++) {
		d.gen[i] = 1;
		d.pid[i] = spawn_child(d.sh, i, 1);
	}
	run_kills(&d, t0 + RUN_NS);
	double kill_s = (tu_now_ns() - t0) / 1e9;

	/* the last generation: once all are in, the end mark reaches each */
	for (int i = 0; i < N_SUBS; i++)
		await_join(&d, i);
	atomic_store(&st.stop, 1);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	for (int i = 0; i < N_SUBS; i++) {
		int status = tu_reap_within(d.pid[i], 20ull * 1000000000ull);

		ck_assert_msg(status >= 0 && WIFEXITED(status) &&
				      WEXITSTATUS(status) == TU_CHILD_OK,
			      "last subscriber %d: status %d (exit %d)", i, status,
			      status > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	ck_assert_int_eq(tu_await_quiet(st.pub, &ps), 0);
	uint64_t checked = 0, sub_wait = 0;

	for (int i = 0; i < N_SUBS; i++) {
		checked += atomic_load(&d.sh->slot[i].checked);
		if (atomic_load(&d.sh->slot[i].max_wait_ns) > sub_wait)
			sub_wait = atomic_load(&d.sh->slot[i].max_wait_ns);
	}
	printf("chaos: %u kills of joined subscribers (%u idle, %u taking, %u holding "
	       "samples), %u during start-up or handshake, in %.1f s; %llu samples "
	       "published, %llu checked by subscribers; max loan wait %.3f ms "
	       "(timeout %d ms), longest subscriber wait %.3f ms; %llu disconnects\n",
	       d.joined_kills, d.killed_in[PH_WAITING], d.killed_in[PH_TAKING], d.killed_holding,
	       d.handshake_kills, kill_s, (unsigned long long)st.sent, (unsigned long long)checked,
	       st.max_wait_ns / 1e6, LOAN_TIMEOUT_MS, sub_wait / 1e6,
	       (unsigned long long)ps.disconnects);
	ck_assert_msg(atomic_load(&d.sh->violations) == 0,
		      "%llu violations; first: subscriber %d expected seq %llu, got %llu",
		      (unsigned long long)atomic_load(&d.sh->violations), d.sh->first_slot,
		      (unsigned long long)d.sh->first_expected,
		      (unsigned long long)d.sh->first_got);
	ck_assert_uint_eq(d.child_failures, 0);
	ck_assert_int_eq(st.err, 0);
	ck_assert_uint_lt(st.max_wait_ns, (uint64_t)LOAN_TIMEOUT_MS * 1000000u);
	ck_assert_uint_ge(d.joined_kills, KILLS);
	ck_assert_uint_eq(d.joined_kills + d.handshake_kills, KILLS + HANDSHAKE_KILLS);
	ck_assert_uint_eq(ps.free_slots, SLOT_COUNT);
	ck_assert_uint_eq(ps.loaned_slots, 0);
	ck_assert_uint_eq(ps.published, st.sent);
	ck_assert_uint_ge(ps.disconnects, (uint64_t)d.joined_kills + N_SUBS);
	ck_assert_uint_eq(ps.kicked, 0);
	ck_assert_uint_ge(checked, (uint64_t)N_SUBS);
	/* no descriptor of any of the thousands of subscribers stays open */
	ck_assert_int_eq(tu_count_fds(), fds_open);
	vdds_pub_close(st.pub);
	ck_assert_int_eq(tu_count_fds(), fds_before);
	munmap(d.sh, sizeof(struct shared));
}
END_TEST

static Suite *chaos_suite(void)
{
	Suite *s = suite_create("chaos");
	TCase *tc = tcase_create("random_kills");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_killing_subscribers_at_random_leaks_nothing_and_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(chaos_suite());
}
