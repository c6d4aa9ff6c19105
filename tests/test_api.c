/* test_api.c — the public API's contract, one behaviour per test: exact error
 * codes, loan timeouts, reference counting, joining and leaving, read-only
 * samples, and that closing anything leaks neither slots nor descriptors. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"

static vdds_pub *open_pub(const char *topic, uint32_t slots, uint32_t max_subs)
{
	struct vdds_pub_opts o = { .slot_size = 256,
				   .slot_count = slots,
				   .max_subscribers = max_subs };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, topic, &o), 0);
	return pub;
}

static struct vdds_pub_stats stats_of(vdds_pub *pub)
{
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	return st;
}

static void publish_u32(vdds_pub *pub, uint32_t v)
{
	ck_assert_int_eq(vdds_pub_write(pub, &v, sizeof(v), 1000), 0);
}

/* ------------------------------------------------------------ bad input */

START_TEST(test_null_handles_are_einval)
{
	struct vdds_sample s;
	void *buf;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(NULL, "t", NULL), -EINVAL);
	ck_assert_int_eq(vdds_sub_open(NULL, "t", NULL), -EINVAL);
	ck_assert_int_eq(vdds_pub_loan(NULL, &buf, 0), -EINVAL);
	ck_assert_int_eq(vdds_pub_publish(NULL, &buf, 1), -EINVAL);
	ck_assert_int_eq(vdds_pub_discard(NULL, &buf), -EINVAL);
	ck_assert_int_eq(vdds_pub_write(NULL, "x", 1, 0), -EINVAL);
	ck_assert_int_eq(vdds_pub_fd(NULL), -EINVAL);
	ck_assert_int_eq(vdds_pub_dispatch(NULL), -EINVAL);
	ck_assert_int_eq(vdds_pub_stats(NULL, NULL), -EINVAL);
	ck_assert_int_eq(vdds_sub_take(NULL, &s), -EINVAL);
	ck_assert_int_eq(vdds_sub_release(NULL, &s), -EINVAL);
	ck_assert_int_eq(vdds_sub_wait(NULL, 0), -EINVAL);
	ck_assert_int_eq(vdds_sub_fd(NULL), -EINVAL);
	vdds_pub_close(NULL);
	vdds_sub_close(NULL);

	vdds_pub *pub = open_pub("nulls", 4, 2);
	vdds_sub *sub;

	ck_assert_int_eq(vdds_sub_open(&sub, "nulls", NULL), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, NULL, 0), -EINVAL);
	ck_assert_int_eq(vdds_pub_publish(pub, NULL, 1), -EINVAL);
	ck_assert_int_eq(vdds_pub_stats(pub, NULL), -EINVAL);
	ck_assert_int_eq(vdds_sub_take(sub, NULL), -EINVAL);
	ck_assert_int_eq(vdds_sub_release(sub, NULL), -EINVAL);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_bad_topic_names_are_einval)
{
	char longname[301];
	const char *bad[] = { "",          "a/../b",  "/abs", "with space", "tab\there", "ctl\x01",
			      "new\nline", ".hidden", "..",   longname,     NULL };
	vdds_pub *pub;
	vdds_sub *sub;

	tu_private_rundir();
	memset(longname, 'a', 300);
	longname[300] = '\0';
	ck_assert_int_eq(vdds_pub_open(&pub, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vdds_sub_open(&sub, NULL, NULL), -EINVAL);
	for (int i = 0; bad[i]; i++) {
		ck_assert_msg(vdds_pub_open(&pub, bad[i], NULL) == -EINVAL, "pub %d", i);
		ck_assert_msg(vdds_sub_open(&sub, bad[i], NULL) == -EINVAL, "sub %d", i);
	}
	/* the longest allowed name works */
	longname[VDDS_TOPIC_MAX] = '\0';
	ck_assert_int_eq(vdds_pub_open(&pub, longname, NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, longname, NULL), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_bad_options_are_einval)
{
	vdds_pub *pub;
	struct vdds_pub_opts one_slot = { .slot_count = 1 };
	struct vdds_pub_opts too_many = { .max_subscribers = VDDS_MAX_SUBSCRIBERS + 1 };
	char name[VDDS_TYPE_NAME_MAX + 2];

	tu_private_rundir();
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct vdds_pub_opts long_type = { .type_name = name };

	ck_assert_int_eq(vdds_pub_open(&pub, "opts", &one_slot), -EINVAL);
	ck_assert_int_eq(vdds_pub_open(&pub, "opts", &too_many), -EINVAL);
	ck_assert_int_eq(vdds_pub_open(&pub, "opts", &long_type), -EINVAL);
}
END_TEST

START_TEST(test_subscribing_without_publisher_is_enoent)
{
	vdds_sub *sub;
	vdds_pub *pub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_sub_open(&sub, "nobody", NULL), -ENOENT);
	/* also after a publisher came and went */
	ck_assert_int_eq(vdds_pub_open(&pub, "nobody", NULL), 0);
	vdds_pub_close(pub);
	ck_assert_int_eq(vdds_sub_open(&sub, "nobody", NULL), -ENOENT);
}
END_TEST

START_TEST(test_second_publisher_is_eexist)
{
	vdds_pub *a, *b;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&a, "twice", NULL), 0);
	ck_assert_int_eq(vdds_pub_open(&b, "twice", NULL), -EEXIST);
	/* a second publisher in another process is refused too */
	pid_t pid = tu_fork_child();

	if (pid == 0)
		_exit(vdds_pub_open(&b, "twice", NULL) == -EEXIST ? TU_CHILD_OK
								  : TU_CHILD_WRONG_RESULT);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_pub_close(a);
	ck_assert_int_eq(vdds_pub_open(&b, "twice", NULL), 0);
	vdds_pub_close(b);
}
END_TEST

START_TEST(test_publisher_killed_is_replaced)
{
	vdds_pub *pub;
	int status;

	tu_private_rundir();
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		ck_assert_int_eq(vdds_pub_open(&pub, "phoenix", NULL), 0);
		for (;;)
			pause(); /* until SIGKILL */
	}
	vdds_sub *sub;

	ck_assert_int_eq(tu_sub_open_retry(&sub, "phoenix", NULL), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* its socket file is still there; the lock died with it */
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), -EPIPE);
	vdds_sub_close(sub);
	ck_assert_int_eq(vdds_pub_open(&pub, "phoenix", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "phoenix", NULL), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_oversized_sample_is_emsgsize)
{
	vdds_pub *pub = NULL;
	void *buf;
	char big[300] = { 0 };

	tu_private_rundir();
	pub = open_pub("big", 4, 2);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, 257), -EMSGSIZE);
	/* the loan is still ours after the failure */
	ck_assert_int_eq(vdds_pub_publish(pub, buf, 256), 0);
	ck_assert_int_eq(vdds_pub_write(pub, big, sizeof(big), 0), -EMSGSIZE);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_publishing_what_was_not_loaned_is_einval)
{
	vdds_pub *pub;
	void *buf;
	char local[8];

	tu_private_rundir();
	pub = open_pub("loans", 4, 2);
	ck_assert_int_eq(vdds_pub_publish(pub, local, 1), -EINVAL);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_publish(pub, (char *)buf + 1, 1), -EINVAL);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, 1), 0);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, 1), -EINVAL); /* twice */
	ck_assert_int_eq(vdds_pub_discard(pub, buf), -EINVAL);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), -EINVAL);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_subscriber_past_the_limit_is_enospc)
{
	vdds_pub *pub;
	vdds_sub *a, *b, *c;

	tu_private_rundir();
	pub = open_pub("full", 4, 2);
	ck_assert_int_eq(vdds_sub_open(&a, "full", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&b, "full", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&c, "full", NULL), -ENOSPC);
	/* a place frees up when one leaves */
	vdds_sub_close(a);
	int err = -ENOSPC;

	for (int i = 0; i < 1000 && err == -ENOSPC; i++) {
		err = vdds_sub_open(&c, "full", NULL);
		if (err == -ENOSPC) {
			vdds_pub_stats(pub, &(struct vdds_pub_stats){ 0 });
			tu_sleep_us(1000);
		}
	}
	ck_assert_int_eq(err, 0);
	vdds_sub_close(b);
	vdds_sub_close(c);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_type_mismatch_is_eproto)
{
	struct vdds_pub_opts po = { .type_name = "pose", .type_size = 48 };
	struct vdds_sub_opts right = { .type_name = "pose", .type_size = 48 };
	struct vdds_sub_opts wrong_name = { .type_name = "twist" };
	struct vdds_sub_opts wrong_size = { .type_size = 49 };
	vdds_pub *pub;
	vdds_sub *sub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "typed", &po), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &wrong_name), -EPROTO);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &wrong_size), -EPROTO);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &right), 0);
	vdds_sub_close(sub);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", NULL), 0); /* any type */
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_subscriber_reads_the_publishers_type_name)
{
	struct vdds_pub_opts typed = { .type_name = "pose" };
	vdds_pub *pub, *plain;
	vdds_sub *sub, *any;

	tu_private_rundir();
	ck_assert_ptr_null(vdds_sub_type_name(NULL));
	ck_assert_int_eq(vdds_pub_open(&pub, "typed", &typed), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", NULL), 0);
	ck_assert_str_eq(vdds_sub_type_name(sub), "pose");
	ck_assert_int_eq(vdds_pub_open(&plain, "untyped", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&any, "untyped", NULL), 0);
	ck_assert_str_eq(vdds_sub_type_name(any), "");
	vdds_sub_close(any);
	vdds_sub_close(sub);
	vdds_pub_close(plain);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_empty_subscriber_take_is_eagain_and_wait_times_out)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	pub = open_pub("quiet", 4, 2);
	ck_assert_int_eq(vdds_sub_open(&sub, "quiet", NULL), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	ck_assert_int_eq(vdds_sub_wait(sub, 0), -ETIMEDOUT);
	ck_assert_int_eq(vdds_sub_wait(sub, 20), -ETIMEDOUT);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_strerror_names_every_error)
{
	int codes[] = { EINVAL,    ENOENT, EEXIST, EACCES, EPROTO, EMSGSIZE,
			ETIMEDOUT, EAGAIN, EPIPE,  ENOSPC, EBADMSG };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		ck_assert_str_ne(vdds_strerror(-codes[i]), "system error");
		ck_assert_str_eq(vdds_strerror(-codes[i]), vdds_strerror(codes[i]));
	}
	ck_assert_str_eq(vdds_strerror(0), "success");
	ck_assert_str_eq(vdds_version(), "0.1.0");
}
END_TEST

START_TEST(test_runtime_dir_writable_by_others_is_eacces)
{
	vdds_pub *pub;
	vdds_sub *sub;
	char tmpl[] = "/tmp/vdds-test-XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	setenv("VDDS_DIR", dir, 1);
	ck_assert_int_eq(vdds_pub_open(&pub, "t", NULL), -EACCES);
	ck_assert_int_eq(vdds_sub_open(&sub, "t", NULL), -EACCES);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(vdds_pub_open(&pub, "t", NULL), 0);
	vdds_pub_close(pub);
	/* a missing directory is created 0700 */
	char sub_dir[64];
	struct stat st;

	snprintf(sub_dir, sizeof(sub_dir), "%s/inner", dir);
	setenv("VDDS_DIR", sub_dir, 1);
	ck_assert_int_eq(vdds_pub_open(&pub, "t", NULL), 0);
	ck_assert_int_eq(stat(sub_dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	vdds_pub_close(pub);
}
END_TEST

/* ------------------------------------------------------------ behaviour */

START_TEST(test_loan_times_out_then_succeeds_when_a_slot_returns)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s[4];
	void *buf;

	tu_private_rundir();
	pub = open_pub("block", 4, 2);
	ck_assert_int_eq(vdds_sub_open(&sub, "block", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	for (uint32_t i = 0; i < 4; i++)
		publish_u32(pub, i);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), -EAGAIN);
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 50), -ETIMEDOUT);
	ck_assert_uint_ge(tu_now_ns() - t0, 50 * 1000000ull);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vdds_sub_take(sub, &s[i]), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &s[2]), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_blocked_loan_wakes_when_another_process_releases)
{
	vdds_pub *pub;
	void *buf;

	tu_private_rundir();
	pub = open_pub("wake", 2, 2);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_sub *sub;
		struct vdds_sample s;

		if (vdds_sub_open(&sub, "wake", NULL) < 0)
			_exit(TU_CHILD_OPEN_FAILED);
		for (int n = 0; n < 2; n++)
			if (vdds_sub_wait(sub, 5000) < 0 || vdds_sub_take(sub, &s) < 0)
				_exit(TU_CHILD_TAKE_FAILED);
		tu_sleep_us(100000); /* let the publisher block */
		_exit(vdds_sub_release(sub, &s) == 0 ? TU_CHILD_OK : TU_CHILD_RELEASE_FAILED);
	}
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	publish_u32(pub, 1);
	publish_u32(pub, 2);
	/* the child holds both: the loan sleeps until it releases one */
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 5000), 0);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_slot_is_free_only_when_every_subscriber_released_it)
{
	vdds_pub *pub;
	vdds_sub *a, *b;
	struct vdds_sample sa, sb;

	tu_private_rundir();
	pub = open_pub("refs", 4, 4);
	ck_assert_int_eq(vdds_sub_open(&a, "refs", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&b, "refs", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	publish_u32(pub, 42);
	ck_assert_uint_eq(stats_of(pub).free_slots, 3);
	ck_assert_int_eq(vdds_sub_take(a, &sa), 0);
	ck_assert_int_eq(vdds_sub_take(b, &sb), 0);
	ck_assert_uint_eq(sa.slot, sb.slot); /* zero copy: the same slot */
	ck_assert_uint_eq(*(const uint32_t *)sa.data, 42);
	ck_assert_int_eq(vdds_sub_release(a, &sa), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 3);
	ck_assert_int_eq(vdds_sub_release(a, &sa), -EINVAL); /* double release */
	ck_assert_uint_eq(stats_of(pub).free_slots, 3);
	ck_assert_int_eq(vdds_sub_release(b, &sb), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	/* with nobody subscribed a published slot is free at once */
	vdds_sub_close(a);
	vdds_sub_close(b);
	ck_assert_int_eq(tu_await_subscribers(pub, 0), 0);
	publish_u32(pub, 43);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_samples_carry_sequence_timestamp_and_length)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	pub = open_pub("meta", 4, 2);
	ck_assert_int_eq(vdds_sub_open(&sub, "meta", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_pub_write(pub, "hello", 6, 0), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "", 0, 0), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 1000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_str_eq(s.data, "hello");
	uint64_t seq = s.seq;

	ck_assert_uint_ge(s.timestamp_ns, t0);
	ck_assert_uint_le(s.timestamp_ns, tu_now_ns());
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_uint_eq(s.seq, seq + 1);
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_late_joiner_sees_a_contiguous_stream_from_its_join)
{
	vdds_pub *pub;
	vdds_sub *early, *late;
	struct vdds_sample s;

	tu_private_rundir();
	pub = open_pub("join", 8, 4);
	ck_assert_int_eq(vdds_sub_open(&early, "join", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	for (uint32_t i = 0; i < 100; i++) {
		if (i == 40) {
			ck_assert_int_eq(vdds_sub_open(&late, "join", NULL), 0);
			ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
		}
		if (i == 70)
			vdds_sub_close(early);
		publish_u32(pub, i);
		if (i < 70) {
			ck_assert_int_eq(vdds_sub_take(early, &s), 0);
			ck_assert_uint_eq(*(const uint32_t *)s.data, i);
			ck_assert_int_eq(vdds_sub_release(early, &s), 0);
		}
		if (i >= 40) {
			ck_assert_int_eq(vdds_sub_take(late, &s), 0);
			ck_assert_uint_eq(*(const uint32_t *)s.data, i);
			ck_assert_int_eq(vdds_sub_release(late, &s), 0);
		}
	}
	ck_assert_int_eq(vdds_sub_take(late, &s), -EAGAIN);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 8);
	vdds_sub_close(late);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_writing_into_a_sample_faults_and_others_carry_on)
{
	vdds_pub *pub;
	vdds_sub *other;
	struct vdds_sample s;
	int status;

	tu_private_rundir();
	pub = open_pub("ro", 4, 4);
	ck_assert_int_eq(vdds_sub_open(&other, "ro", NULL), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_sub *sub;

		signal(SIGSEGV, SIG_DFL);
		if (vdds_sub_open(&sub, "ro", NULL) < 0 || vdds_sub_wait(sub, 5000) < 0 ||
		    vdds_sub_take(sub, &s) < 0)
			_exit(TU_CHILD_TAKE_FAILED);
		/* the mapping is read-only and the memfd sealed against write */
		if (mprotect((void *)((uintptr_t)s.data & ~4095ul), 4096, PROT_READ | PROT_WRITE) ==
		    0)
			_exit(TU_CHILD_WRONG_RESULT);
		((volatile char *)s.data)[0] = 'X';
		_exit(TU_CHILD_WRONG_RESULT); /* the write did not fault */
	}
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	publish_u32(pub, 7);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "child status %x",
		      status);
	/* the publisher reclaims the dead child's hold; the other carries on */
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_int_eq(vdds_sub_take(other, &s), 0);
	ck_assert_uint_eq(*(const uint32_t *)s.data, 7);
	ck_assert_int_eq(vdds_sub_release(other, &s), 0);
	publish_u32(pub, 8);
	ck_assert_int_eq(vdds_sub_take(other, &s), 0);
	ck_assert_uint_eq(*(const uint32_t *)s.data, 8);
	ck_assert_int_eq(vdds_sub_release(other, &s), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	vdds_sub_close(other);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_closing_a_subscriber_holding_samples_frees_its_slots)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s;

	tu_private_rundir();
	pub = open_pub("hold", 8, 4);
	int fds_before = tu_count_fds();

	for (int round = 0; round < 20; round++) {
		ck_assert_int_eq(vdds_sub_open(&sub, "hold", NULL), 0);
		ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
		for (uint32_t i = 0; i < 6; i++)
			publish_u32(pub, i);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(vdds_sub_take(sub, &s), 0); /* held, never released */
		ck_assert_uint_eq(stats_of(pub).free_slots, 2);
		vdds_sub_close(sub);
		ck_assert_int_eq(tu_await_subscribers(pub, 0), 0);
		ck_assert_uint_eq(stats_of(pub).free_slots, 8);
	}
	ck_assert_int_eq(tu_count_fds(), fds_before);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_closing_a_publisher_with_subscribers_leaks_nothing)
{
	vdds_pub *pub;
	vdds_sub *subs[3];
	struct vdds_sample s;
	int fds_before = tu_count_fds();

	tu_private_rundir();
	for (int round = 0; round < 10; round++) {
		pub = open_pub("bye", 8, 4);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(vdds_sub_open(&subs[i], "bye", NULL), 0);
		ck_assert_int_eq(tu_await_subscribers(pub, 3), 0);
		publish_u32(pub, 1);
		publish_u32(pub, 2);
		ck_assert_int_eq(vdds_sub_take(subs[0], &s), 0);
		vdds_pub_close(pub);
		/* what was delivered stays readable; then -EPIPE */
		ck_assert_uint_eq(*(const uint32_t *)s.data, 1);
		ck_assert_int_eq(vdds_sub_release(subs[0], &s), 0);
		ck_assert_int_eq(vdds_sub_take(subs[0], &s), 0);
		ck_assert_uint_eq(*(const uint32_t *)s.data, 2);
		ck_assert_int_eq(vdds_sub_release(subs[0], &s), 0);
		int err = vdds_sub_take(subs[0], &s);

		if (err == -EAGAIN) /* death learned during that call */
			err = vdds_sub_take(subs[0], &s);
		ck_assert_int_eq(err, -EPIPE);
		ck_assert_int_eq(vdds_sub_wait(subs[1], 1000), 0); /* data still there */
		ck_assert_int_eq(vdds_sub_take(subs[1], &s), 0);
		ck_assert_int_eq(vdds_sub_take(subs[1], &s), 0);
		ck_assert_int_eq(vdds_sub_wait(subs[1], 1000), -EPIPE);
		ck_assert_int_eq(vdds_sub_wait(subs[2], -1), 0);
		for (int i = 0; i < 3; i++)
			vdds_sub_close(subs[i]);
	}
	/* the service thread is gone too: nothing of vdds is left open */
	ck_assert_int_eq(tu_count_fds(), fds_before);
}
END_TEST

START_TEST(test_publisher_without_service_thread_serves_from_dispatch)
{
	struct vdds_pub_opts o = { .slot_count = 4, .no_service_thread = true };
	vdds_pub *pub;
	struct vdds_sample s;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "loop", &o), 0);
	ck_assert_int_ge(vdds_pub_fd(pub), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		vdds_sub *sub;

		if (vdds_sub_open(&sub, "loop", NULL) < 0 || vdds_sub_wait(sub, 5000) < 0 ||
		    vdds_sub_take(sub, &s) < 0)
			_exit(TU_CHILD_TAKE_FAILED);
		_exit(*(const uint32_t *)s.data == 5 ? TU_CHILD_OK : TU_CHILD_BAD_PAYLOAD);
	}
	/* nothing serves the socket but this loop */
	struct pollfd pfd = { .fd = vdds_pub_fd(pub), .events = POLLIN };
	struct vdds_pub_stats st = { 0 };

	for (int i = 0; i < 500 && st.subscribers == 0; i++) {
		if (poll(&pfd, 1, 10) > 0)
			ck_assert_int_eq(vdds_pub_dispatch(pub), 0);
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	}
	ck_assert_uint_eq(st.subscribers, 1);
	publish_u32(pub, 5);
	tu_assert_exit(pid, TU_CHILD_OK);
	for (int i = 0; i < 500 && st.subscribers == 1; i++) {
		if (poll(&pfd, 1, 10) > 0)
			ck_assert_int_eq(vdds_pub_dispatch(pub), 0);
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	}
	ck_assert_uint_eq(st.subscribers, 0);
	ck_assert_uint_eq(st.free_slots, 4);
	vdds_pub_close(pub);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *errors = tcase_create("errors");
	TCase *behaviour = tcase_create("behaviour");

	tcase_set_timeout(errors, 20);
	tcase_add_test(errors, test_null_handles_are_einval);
	tcase_add_test(errors, test_bad_topic_names_are_einval);
	tcase_add_test(errors, test_bad_options_are_einval);
	tcase_add_test(errors, test_subscribing_without_publisher_is_enoent);
	tcase_add_test(errors, test_second_publisher_is_eexist);
	tcase_add_test(errors, test_publisher_killed_is_replaced);
	tcase_add_test(errors, test_oversized_sample_is_emsgsize);
	tcase_add_test(errors, test_publishing_what_was_not_loaned_is_einval);
	tcase_add_test(errors, test_subscriber_past_the_limit_is_enospc);
	tcase_add_test(errors, test_type_mismatch_is_eproto);
	tcase_add_test(errors, test_subscriber_reads_the_publishers_type_name);
	tcase_add_test(errors, test_empty_subscriber_take_is_eagain_and_wait_times_out);
	tcase_add_test(errors, test_strerror_names_every_error);
	tcase_add_test(errors, test_runtime_dir_writable_by_others_is_eacces);
	suite_add_tcase(s, errors);

	tcase_set_timeout(behaviour, 30);
	tcase_add_test(behaviour, test_loan_times_out_then_succeeds_when_a_slot_returns);
	tcase_add_test(behaviour, test_blocked_loan_wakes_when_another_process_releases);
	tcase_add_test(behaviour, test_slot_is_free_only_when_every_subscriber_released_it);
	tcase_add_test(behaviour, test_samples_carry_sequence_timestamp_and_length);
	tcase_add_test(behaviour, test_late_joiner_sees_a_contiguous_stream_from_its_join);
	tcase_add_test(behaviour, test_writing_into_a_sample_faults_and_others_carry_on);
	tcase_add_test(behaviour, test_closing_a_subscriber_holding_samples_frees_its_slots);
	tcase_add_test(behaviour, test_closing_a_publisher_with_subscribers_leaks_nothing);
	tcase_add_test(behaviour, test_publisher_without_service_thread_serves_from_dispatch);
	suite_add_tcase(s, behaviour);
	return s;
}

int main(void)
{
	return tu_run_suite(api_suite());
}
