/* test_errors.c — the error vocabulary: vdds_strerror() names every errno (its
 * own words for its own codes, the C library's for the rest), and the detail
 * a failing call leaves says what was at fault (the argument, the limit). */
#include <check.h>
#include <limits.h>

#include "errors.h"
#include "rundir.h"
#include "testutil.h"

/* The highest errno Linux has (EHWPOISON, 133). */
#define LAST_ERRNO EHWPOISON

START_TEST(test_strerror_names_every_errno_apart)
{
	for (int e = 1; e <= LAST_ERRNO; e++) {
		const char *words = vdds_strerror(-e);

		ck_assert_ptr_nonnull(words);
		ck_assert_str_eq(vdds_strerror(e), words);
		if (!strerrordesc_np(e)) /* a hole in the numbering (41, 58) */
			continue;
		ck_assert_msg(strcmp(words, "unknown error") != 0, "errno %d unnamed", e);
		/* apart: no two codes read the same, so no catch-all text */
		for (int other = 1; other < e; other++)
			if (strerrordesc_np(other))
				ck_assert_msg(strcmp(vdds_strerror(other), words) != 0,
					      "errno %d and %d both read \"%s\"", other, e, words);
	}
}
END_TEST

START_TEST(test_strerror_speaks_for_its_own_codes)
{
	ck_assert_str_eq(vdds_strerror(0), "success");
	ck_assert_str_eq(vdds_strerror(-EINVAL), "invalid argument or topic name");
	ck_assert_str_eq(vdds_strerror(-EPIPE), "publisher gone");
	ck_assert_str_eq(vdds_strerror(-ENOBUFS),
			 "no slot can be had: every one is held (or max_held reached)");
}
END_TEST

START_TEST(test_strerror_gives_the_c_librarys_words_for_the_rest)
{
	ck_assert_str_eq(vdds_strerror(-EBADF), "Bad file descriptor");
	/* whose limit it was is the detail's to say (vdds_last_error_detail) */
	ck_assert_str_eq(vdds_strerror(-EMFILE), "Too many open files");
	ck_assert_str_eq(vdds_strerror(-EPERM), "Operation not permitted");
	ck_assert_str_eq(vdds_strerror(-ENOSYS), "Function not implemented");
	ck_assert_str_eq(vdds_strerror(-EOPNOTSUPP), "Operation not supported");
}
END_TEST

START_TEST(test_strerror_of_a_number_that_is_no_errno_is_unknown)
{
	ck_assert_str_eq(vdds_strerror(-4095), "unknown error");
	ck_assert_str_eq(vdds_strerror(INT_MAX), "unknown error");
	ck_assert_str_eq(vdds_strerror(INT_MIN), "unknown error");
	ck_assert_str_eq(vdds_strerror(-41), "unknown error"); /* a hole */
}
END_TEST

START_TEST(test_detail_setf_formats_and_returns_the_code)
{
	char longer[300];

	ck_assert_int_eq(vdds__detail_setf(-EINVAL, "slot_count %u: must be >= 2", 1u), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "slot_count 1: must be >= 2");
	/* what it cannot hold is cut short, as a peer's reason is */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_int_eq(vdds__detail_setf(-EMFILE, "%s", longer), -EMFILE);
	ck_assert_uint_eq(strlen(vdds_last_error_detail()), VDDS_ERROR_DETAIL_MAX - 1);
	/* and a control character in an argument cannot reach a terminal */
	ck_assert_int_eq(vdds__detail_setf(-EINVAL, "type_name '%s'", "a\033[2Jb"), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "type_name 'a?[2Jb'");
	vdds__detail_clear();
	ck_assert_str_eq(vdds_last_error_detail(), "");
}
END_TEST

/* vdds__topic_name_check(topic) is -EINVAL and its detail is want. */
static void assert_topic_fault(const char *topic, const char *want)
{
	vdds__detail_clear();
	ck_assert_int_eq(vdds__topic_name_check(topic), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), want);
}

START_TEST(test_a_bad_topic_name_says_what_is_wrong)
{
	char longest[VDDS_TOPIC_MAX + 2];

	assert_topic_fault(NULL, "topic: NULL");
	assert_topic_fault("", "topic: empty");
	assert_topic_fault(".hidden", "topic '.hidden': starts with '.'");
	assert_topic_fault("a/b", "topic 'a/b': '/' at byte 1: only [A-Za-z0-9_.-]");
	assert_topic_fault("two words", "topic 'two words': byte 0x20 at 3: only [A-Za-z0-9_.-]");
	assert_topic_fault("tab\there", "topic 'tab?here': byte 0x09 at 3: only [A-Za-z0-9_.-]");
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_topic_fault(longest,
			   "topic 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			   "...': longer than 64 bytes");
	/* the longest name that is one is fine */
	longest[VDDS_TOPIC_MAX] = '\0';
	vdds__detail_clear();
	ck_assert_int_eq(vdds__topic_name_check(longest), 0);
	ck_assert_int_eq(vdds__topic_name_check("pose_2.left-cam"), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "");
}
END_TEST

START_TEST(test_asking_whether_a_name_is_a_topic_leaves_the_detail_alone)
{
	vdds__detail_set("an earlier refusal");
	ck_assert_int_eq(vdds__topic_valid("a/b"), -EINVAL);
	ck_assert_int_eq(vdds__topic_valid(""), -EINVAL);
	ck_assert_int_eq(vdds__topic_valid("pose"), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "an earlier refusal");
}
END_TEST

/* vdds_pub_open with opts o is -EINVAL and its detail is want; no topic is
 * made (the check comes first). */
static void assert_pub_refuses(const char *topic, const struct vdds_pub_opts *o, const char *want)
{
	vdds_pub *pub = (vdds_pub *)&pub; /* must become NULL */

	vdds__detail_set("an earlier refusal");
	ck_assert_int_eq(vdds_pub_open(&pub, topic, o), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), want);
}

START_TEST(test_a_bad_publisher_option_is_named_in_the_detail)
{
	char long_type[VDDS_TYPE_NAME_MAX + 2];

	tu_private_rundir();
	memset(long_type, 'T', sizeof(long_type) - 1);
	long_type[sizeof(long_type) - 1] = '\0';
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .slot_size = (1ull << 32) + 1 },
			   "slot_size 4294967297: at most 4294967296");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .slot_count = 1 },
			   "slot_count 1: 2..1048576 (0: default 64)");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .slot_count = (1u << 20) + 1 },
			   "slot_count 1048577: 2..1048576 (0: default 64)");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .max_subscribers = 257 },
			   "max_subscribers 257: at most 256");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .overflow = 3 },
			   "overflow 3: not an enum vdds_overflow");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .history = 33 },
			   "history 33: at most slot_count / 2 = 32");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .slot_count = 4, .history = 3 },
			   "history 3: at most slot_count / 2 = 2");
	assert_pub_refuses("t", &(struct vdds_pub_opts){ .type_name = long_type },
			   "type_name: longer than 63 bytes");
	assert_pub_refuses("a/b", NULL, "topic 'a/b': '/' at byte 1: only [A-Za-z0-9_.-]");
	assert_pub_refuses(NULL, NULL, "topic: NULL");
	vdds__detail_set("an earlier refusal");
	ck_assert_int_eq(vdds_pub_open(NULL, "t", NULL), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "pub: NULL");
}
END_TEST

START_TEST(test_a_bad_subscriber_argument_is_named_in_the_detail)
{
	char long_type[VDDS_TYPE_NAME_MAX + 2];
	vdds_sub *sub;

	tu_private_rundir();
	memset(long_type, 'T', sizeof(long_type) - 1);
	long_type[sizeof(long_type) - 1] = '\0';
	vdds__detail_set("an earlier refusal");
	ck_assert_int_eq(
		vdds_sub_open(&sub, "t", &(struct vdds_sub_opts){ .type_name = long_type }),
		-EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "type_name: longer than 63 bytes");
	ck_assert_int_eq(vdds_sub_open(&sub, "", NULL), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "topic: empty");
	ck_assert_int_eq(vdds_sub_open(NULL, "t", NULL), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(), "sub: NULL");
	/* and a good open with no publisher leaves no stale reason */
	vdds__detail_set("an earlier refusal");
	ck_assert_int_eq(vdds_sub_open(&sub, "t", NULL), -ENOENT);
	ck_assert_str_eq(vdds_last_error_detail(), "");
}
END_TEST

/* Room to grow (abi_layout.c): a byte set in the reserve is a field this
 * library does not know, refused with where it is; stats zero theirs. */
START_TEST(test_a_field_unknown_to_this_library_is_refused_with_its_offset)
{
	struct vdds_pub_opts po = { .slot_count = 4 };
	struct vdds_sub_opts so = { 0 };
	struct vdds_pub_stats pst;
	struct vdds_sub_stats sst;
	vdds_pub *pub;
	vdds_sub *sub;

	tu_private_rundir();
	po.vdds__reserved[0] = 1;
	ck_assert_int_eq(vdds_pub_open(&pub, "t", &po), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "vdds_pub_opts: unknown field set at offset 48: a newer header?");
	po.vdds__reserved[0] = 0;
	((unsigned char *)&po)[sizeof(po) - 1] = 0x80; /* the reserve's last byte */
	ck_assert_int_eq(vdds_pub_open(&pub, "t", &po), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "vdds_pub_opts: unknown field set at offset 111: a newer header?");
	memset(&po, 0, sizeof(po));
	ck_assert_int_eq(vdds_pub_open(&pub, "t", &po), 0);
	so.vdds__reserved[VDDS__RESERVED_WORDS - 1] = 1ull << 8;
	ck_assert_int_eq(vdds_sub_open(&sub, "t", &so), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "vdds_sub_opts: unknown field set at offset 89: a newer header?");
	memset(&so, 0, sizeof(so));
	ck_assert_int_eq(vdds_sub_open(&sub, "t", &so), 0);
	/* stats: the reserve comes back zero, whatever the caller left there */
	memset(&pst, 0xa5, sizeof(pst));
	memset(&sst, 0xa5, sizeof(sst));
	ck_assert_int_eq(vdds_pub_stats(pub, &pst), 0);
	ck_assert_int_eq(vdds_sub_stats(sub, &sst), 0);
	for (int i = 0; i < VDDS__RESERVED_WORDS; i++) {
		ck_assert_uint_eq(pst.vdds__reserved[i], 0);
		ck_assert_uint_eq(sst.vdds__reserved[i], 0);
	}
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* Every other call's -EINVAL says which argument too, as call(...) == -EINVAL
 * with detail want. */
#define ASSERT_EINVAL(call, want)                                                                  \
	do {                                                                                       \
		vdds__detail_set("an earlier refusal");                                            \
		ck_assert_int_eq((call), -EINVAL);                                                 \
		ck_assert_str_eq(vdds_last_error_detail(), (want));                                \
	} while (0)

START_TEST(test_every_einval_names_its_argument)
{
	struct vdds_pub_opts self = { .slot_count = 4, .no_service_thread = true };
	struct vdds_pub_stats pst;
	struct vdds_sub_stats sst;
	struct vdds_sample sample;
	struct vdds_event ev;
	vdds_pub *pub, *served;
	vdds_sub *sub;
	vdds_waitset *ws;
	void *buf;
	char other[8];

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "t", &(struct vdds_pub_opts){ .slot_count = 4 }), 0);
	ck_assert_int_eq(vdds_pub_open(&served, "self", &self), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "t", NULL), 0);
	ck_assert_int_eq(vdds_waitset_new(&ws), 0);
	/* publisher */
	ASSERT_EINVAL(vdds_pub_loan(NULL, &buf, 0), "pub: NULL");
	ASSERT_EINVAL(vdds_pub_loan(pub, NULL, 0), "buf: NULL");
	ASSERT_EINVAL(vdds_pub_publish(pub, NULL, 0), "buf: NULL");
	ASSERT_EINVAL(vdds_pub_publish(pub, other, 0),
		      "buf: not a slot loaned from this publisher");
	ASSERT_EINVAL(vdds_pub_discard(pub, other), "buf: not a slot loaned from this publisher");
	ASSERT_EINVAL(vdds_pub_write(pub, NULL, 3, 0), "data: NULL with len 3");
	ASSERT_EINVAL(vdds_pub_write(NULL, "x", 1, 0), "pub: NULL");
	ASSERT_EINVAL(vdds_pub_stats(pub, NULL), "stats: NULL");
	ASSERT_EINVAL(vdds_pub_stats(NULL, &pst), "pub: NULL");
	ASSERT_EINVAL(vdds_pub_set_note(NULL, "n"), "pub: NULL");
	ASSERT_EINVAL(vdds_pub_fd(pub),
		      "pub: served by the service thread (no fd or dispatch without "
		      "no_service_thread)");
	ASSERT_EINVAL(vdds_pub_dispatch(pub),
		      "pub: served by the service thread (no fd or dispatch without "
		      "no_service_thread)");
	ASSERT_EINVAL(vdds_pub_fd(NULL), "pub: NULL");
	/* subscriber */
	ASSERT_EINVAL(vdds_sub_take(NULL, &sample), "sub: NULL");
	ASSERT_EINVAL(vdds_sub_take(sub, NULL), "sample: NULL");
	ASSERT_EINVAL(vdds_sub_release(sub, NULL), "sample: NULL");
	ck_assert_int_eq(vdds_pub_write(pub, "x", 1, 0), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &sample), 0);
	ck_assert_int_eq(vdds_sub_release(sub, &sample), 0);
	ASSERT_EINVAL(vdds_sub_release(sub, &sample),
		      "sample: slot 0 of epoch 0 not held (released twice?)");
	ASSERT_EINVAL(vdds_sub_wait(NULL, 0), "sub: NULL");
	ASSERT_EINVAL(vdds_sub_stats(sub, NULL), "stats: NULL");
	ASSERT_EINVAL(vdds_sub_stats(NULL, &sst), "sub: NULL");
	ASSERT_EINVAL(vdds_sub_fd(NULL), "sub: NULL");
	/* waitset */
	ASSERT_EINVAL(vdds_waitset_new(NULL), "ws: NULL");
	ASSERT_EINVAL(vdds_waitset_add_sub(ws, NULL, NULL), "sub: NULL");
	ASSERT_EINVAL(vdds_waitset_add_sub(NULL, sub, NULL), "ws: NULL");
	ASSERT_EINVAL(vdds_waitset_add_pub(ws, pub, NULL),
		      "pub: served by the service thread (only a no_service_thread publisher "
		      "joins a waitset)");
	ASSERT_EINVAL(vdds_waitset_add_pub(ws, NULL, NULL), "pub: NULL");
	ASSERT_EINVAL(vdds_waitset_add_fd(ws, -1, 1, NULL), "fd -1: negative");
	ASSERT_EINVAL(vdds_waitset_add_fd(ws, 0, 0, NULL), "events: 0");
	ASSERT_EINVAL(vdds_waitset_remove(ws, -2), "key -2: negative");
	ASSERT_EINVAL(vdds_waitset_wait(ws, NULL, 1, 0), "events: NULL");
	ASSERT_EINVAL(vdds_waitset_wait(ws, &ev, 0, 0), "max 0: at least 1");
	ASSERT_EINVAL(vdds_waitset_wait(NULL, &ev, 1, 0), "ws: NULL");
	vdds_waitset_free(ws);
	vdds_sub_close(sub);
	vdds_pub_close(served);
	vdds_pub_close(pub);
}
END_TEST

static Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("errors");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_strerror_names_every_errno_apart);
	tcase_add_test(tc, test_strerror_speaks_for_its_own_codes);
	tcase_add_test(tc, test_strerror_gives_the_c_librarys_words_for_the_rest);
	tcase_add_test(tc, test_strerror_of_a_number_that_is_no_errno_is_unknown);
	tcase_add_test(tc, test_detail_setf_formats_and_returns_the_code);
	tcase_add_test(tc, test_a_bad_topic_name_says_what_is_wrong);
	tcase_add_test(tc, test_asking_whether_a_name_is_a_topic_leaves_the_detail_alone);
	tcase_add_test(tc, test_a_bad_publisher_option_is_named_in_the_detail);
	tcase_add_test(tc, test_a_bad_subscriber_argument_is_named_in_the_detail);
	tcase_add_test(tc, test_a_field_unknown_to_this_library_is_refused_with_its_offset);
	tcase_add_test(tc, test_every_einval_names_its_argument);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(errors_suite());
}
