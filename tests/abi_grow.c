/* abi_grow.c — room to grow, shown (issue #20 point 6; how: abi_layout.c).
 * The build makes a "grown" vdds.h that takes one field (`grown`) from the
 * front of each options and stats struct's reserve, as a later version
 * would, and compiles this file twice:
 *  - abi_grow_old: against today's header, linked with a library built from
 *    the grown header: an old program on a newer library. Every option it
 *    sets is read as it meant it, and the stats it asks for fill exactly
 *    the struct it knows.
 *  - abi_grow_new: against the grown header, linked with today's library: a
 *    newer program on an older library. Leaving the new field zero works;
 *    setting it is refused at open with -EINVAL and where, not ignored.
 * The grown library's code is today's: it never names `grown`, so all that
 * differs is where its reserve starts, which is what a real new field
 * changes for the fields it does not touch. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "testutil.h"
#include "vdds.h"

struct probe {
	unsigned char before[16];
	struct vdds_pub_stats pub;
	struct vdds_sub_stats sub;
	unsigned char after[16];
};

#ifndef VDDS__GROWN_HEADER

/* Today's consumer on the grown library: every option it sets is read as
 * meant, the new field it cannot know of stays zero (the default). */
START_TEST(test_an_old_program_on_a_newer_library_keeps_its_options)
{
	struct vdds_pub_opts po = { .slot_size = 256,
				    .slot_count = 8,
				    .max_subscribers = 1,
				    .type_name = "Pose",
				    .type_size = 24,
				    .overflow = VDDS_OVERFLOW_FAIL,
				    .history = 2 };
	struct vdds_sub_opts so = { .type_name = "Pose", .type_size = 24, .max_held = 1 };
	struct vdds_sub_opts wrong = { .type_name = "Twist" };
	struct vdds_sample s1, s2;
	struct probe pr;
	vdds_pub *pub;
	vdds_sub *sub, *second;
	void *buf;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "grow", &po), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "a", 1, 0), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "b", 1, 0), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "c", 1, 0), 0);
	/* type_name */
	ck_assert_int_eq(vdds_sub_open(&sub, "grow", &wrong), -EPROTO);
	ck_assert_int_eq(vdds_sub_open(&sub, "grow", &so), 0);
	/* max_subscribers 1 */
	ck_assert_int_eq(vdds_sub_open(&second, "grow", NULL), -ENOSPC);
	/* history 2: the last two, then max_held 1 */
	ck_assert_int_eq(vdds_pub_stats(pub, &pr.pub), 0); /* adopts the join */
	ck_assert_int_eq(vdds_sub_wait(sub, 5000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s1), 0);
	ck_assert_uint_eq(s1.len, 1);
	ck_assert_int_eq(*(const char *)s1.data, 'b');
	ck_assert_int_eq(vdds_sub_take(sub, &s2), -ENOBUFS);
	ck_assert_int_eq(vdds_sub_release(sub, &s1), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s2), 0);
	ck_assert_int_eq(*(const char *)s2.data, 'c');
	ck_assert_int_eq(vdds_sub_release(sub, &s2), 0);
	/* slot_size 256, slot_count 8, overflow FAIL */
	ck_assert_int_eq(vdds_pub_write(pub, NULL, 0, 0), 0);
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, 257), -EMSGSIZE);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	/* the stats fill the struct this program knows, no byte past it */
	memset(&pr, 0x5a, sizeof(pr));
	ck_assert_int_eq(vdds_pub_stats(pub, &pr.pub), 0);
	ck_assert_int_eq(vdds_sub_stats(sub, &pr.sub), 0);
	ck_assert_uint_eq(pr.pub.slot_count, 8);
	ck_assert_uint_eq(pr.pub.subscribers, 1);
	ck_assert_uint_eq(pr.pub.published, 4);
	ck_assert_uint_eq(pr.sub.taken, 2);
	for (int i = 0; i < VDDS__RESERVED_WORDS; i++) {
		ck_assert_uint_eq(pr.pub.vdds__reserved[i], 0);
		ck_assert_uint_eq(pr.sub.vdds__reserved[i], 0);
	}
	for (size_t i = 0; i < sizeof(pr.before); i++) {
		ck_assert_uint_eq(pr.before[i], 0x5a);
		ck_assert_uint_eq(pr.after[i], 0x5a);
	}
	for (int i = 0; i < 8; i++) /* every slot: then FAIL says so at once */
		if (vdds_pub_loan(pub, &buf, 0) < 0)
			break;
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 1000), -EAGAIN);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

#else

/* The grown consumer on today's library: the field it sets is unknown there
 * and refused; left zero, all is as before. */
START_TEST(test_a_newer_program_setting_a_new_field_is_refused_by_an_older_library)
{
	struct vdds_pub_opts po = { .slot_count = 4, .grown = 1 };
	struct vdds_sub_opts so = { .grown = 7 };
	struct probe pr;
	vdds_pub *pub;
	vdds_sub *sub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "grow", &po), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "vdds_pub_opts: unknown field set at offset 48: a newer header?");
	po.grown = 0;
	ck_assert_int_eq(vdds_pub_open(&pub, "grow", &po), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "grow", &so), -EINVAL);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "vdds_sub_opts: unknown field set at offset 32: a newer header?");
	so.grown = 0;
	ck_assert_int_eq(vdds_sub_open(&sub, "grow", &so), 0);
	/* the older library zeroes what it does not know of the stats: the
	 * newer program reads its new counter as 0, "none", not garbage */
	memset(&pr, 0x5a, sizeof(pr));
	ck_assert_int_eq(vdds_pub_stats(pub, &pr.pub), 0);
	ck_assert_int_eq(vdds_sub_stats(sub, &pr.sub), 0);
	ck_assert_uint_eq(pr.pub.grown, 0);
	ck_assert_uint_eq(pr.sub.grown, 0);
	ck_assert_uint_eq(pr.pub.slot_count, 4);
	ck_assert_uint_eq(pr.after[0], 0x5a);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

#endif

static Suite *grow_suite(void)
{
	Suite *s = suite_create("abi_grow");
	TCase *tc = tcase_create("grow");

	tcase_set_timeout(tc, 30);
#ifndef VDDS__GROWN_HEADER
	tcase_add_test(tc, test_an_old_program_on_a_newer_library_keeps_its_options);
#else
	tcase_add_test(tc, test_a_newer_program_setting_a_new_field_is_refused_by_an_older_library);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(grow_suite());
}
