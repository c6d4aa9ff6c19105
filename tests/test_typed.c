/* test_typed.c — VDDS_TYPED(T) from C: samples as T across processes, the
 * type's name and size declared and checked for the caller, options copied
 * and filled, and a type mismatch refused with its reason. */
#include <check.h>
#include <fcntl.h>

#include "testutil.h"

typedef struct {
	double x, y, theta;
} Pose;

typedef struct {
	double linear[3], angular[3];
} Twist;

VDDS_TYPED(Pose);
VDDS_TYPED(Twist);

_Static_assert(sizeof(Pose) == 24 && sizeof(Twist) == 48, "the sizes the reason texts name");

#define SAMPLES 100

static struct vdds_pub_stats stats_of(vdds_pub *pub)
{
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	return st;
}

START_TEST(test_a_typed_publisher_declares_the_name_and_size_of_its_type)
{
	tu_private_rundir();
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sub_opts as_pose = { .type_name = "Pose", .type_size = sizeof(Pose) };
	struct vdds_sub_opts bigger = { .type_name = "Pose", .type_size = sizeof(Pose) + 1 };
	struct vdds_sub_opts other = { .type_name = "Twist" };

	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "pose", &as_pose), 0);
	vdds_sub_close(sub);
	ck_assert_int_eq(vdds_sub_open(&sub, "pose", &bigger), -EPROTO);
	ck_assert_int_eq(vdds_sub_open(&sub, "pose", &other), -EPROTO);
	/* an untyped subscriber still gets the bytes */
	ck_assert_int_eq(vdds_sub_open(&sub, "pose", NULL), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* A subscriber in its own process: takes SAMPLES poses, in order, intact. */
static int take_poses(void)
{
	vdds_sub *sub;
	vdds_Pose_sample s;

	if (vdds_Pose_sub_open(&sub, "pose", NULL) != 0)
		return TU_CHILD_OPEN_FAILED;
	for (uint64_t i = 1; i <= SAMPLES;) {
		int err = vdds_Pose_take(sub, &s);

		if (err == -EAGAIN) {
			if (vdds_sub_wait(sub, 5000) != 0)
				return TU_CHILD_WAIT_FAILED;
			continue;
		}
		if (err != 0 || s.data == NULL)
			return TU_CHILD_TAKE_FAILED;
		if (s.raw.len != sizeof(Pose))
			return TU_CHILD_BAD_PAYLOAD;
		if (s.data->x != (double)s.raw.seq || s.data->y != -(double)s.raw.seq ||
		    s.data->theta != 0.5 * (double)s.raw.seq)
			return TU_CHILD_BAD_PAYLOAD;
		if (s.raw.seq < i)
			return TU_CHILD_GAP;
		i = s.raw.seq + 1;
		if (vdds_Pose_release(sub, &s) != 0)
			return TU_CHILD_RELEASE_FAILED;
	}
	vdds_sub_close(sub);
	return TU_CHILD_OK;
}

START_TEST(test_typed_samples_cross_processes_intact)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 8 };
	vdds_pub *pub;
	Pose *p;

	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), 0);
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid == 0)
		_exit(take_poses());
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	for (uint64_t seq = 1; seq <= SAMPLES; seq++) {
		ck_assert_int_eq(vdds_Pose_loan(pub, &p, 5000), 0);
		p->x = (double)seq;
		p->y = -(double)seq;
		p->theta = 0.5 * (double)seq;
		ck_assert_int_eq(vdds_Pose_publish(pub, p), 0);
	}
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_the_callers_options_are_copied_and_filled)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 4 };
	struct vdds_sub_opts so = { .busy_poll = true };
	vdds_pub *pub;
	vdds_sub *sub;

	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), 0);
	ck_assert_uint_eq(stats_of(pub).slot_count, 4);
	/* the caller's struct is as it was */
	ck_assert_ptr_null(o.type_name);
	ck_assert_uint_eq(o.type_size, 0);
	ck_assert_uint_eq(o.slot_size, 0);
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", &so), 0);
	ck_assert_ptr_null(so.type_name);
	ck_assert_uint_eq(so.type_size, 0);
	vdds_sub_close(sub);
	/* options that contradict the type */
	so.type_size = sizeof(Pose) + 8;
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", &so), -EINVAL);
	vdds_pub_close(pub);
	o.type_size = sizeof(Pose) - 1;
	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), -EINVAL);
	o.type_size = 0;
	o.slot_size = sizeof(Pose) - 1;
	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), -EINVAL);
	/* a name given is the name on the wire */
	o.slot_size = 4096;
	o.type_name = "geometry/Pose";
	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), 0);
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", NULL), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (24 B) expected, publisher has 'geometry/Pose' (24 B)");
	so = (struct vdds_sub_opts){ .type_name = "geometry/Pose" };
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", &so), 0);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_a_discarded_or_written_sample_gives_its_slot_back)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 4 };
	vdds_pub *pub;
	vdds_sub *sub;
	vdds_Pose_sample s;
	Pose *p, value = { 1, 2, 3 };

	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", &o), 0);
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_int_eq(vdds_Pose_loan(pub, &p, 0), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 3);
	ck_assert_int_eq(vdds_Pose_discard(pub, p), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	ck_assert_int_eq(vdds_Pose_write(pub, &value, 0), 0);
	ck_assert_int_eq(vdds_Pose_take(sub, &s), 0);
	ck_assert(s.data->x == 1 && s.data->y == 2 && s.data->theta == 3);
	ck_assert_uint_eq(stats_of(pub).free_slots, 3);
	ck_assert_int_eq(vdds_Pose_release(sub, &s), 0);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	/* NULL pointers are refused without loaning anything */
	ck_assert_int_eq(vdds_Pose_loan(pub, NULL, 0), -EINVAL);
	ck_assert_int_eq(vdds_Pose_write(pub, NULL, 0), -EINVAL);
	ck_assert_int_eq(vdds_Pose_take(sub, NULL), -EINVAL);
	ck_assert_int_eq(vdds_Pose_release(sub, NULL), -EINVAL);
	ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_a_sample_of_another_length_is_released_and_refused)
{
	tu_private_rundir();
	/* an untyped publisher that declares Pose but publishes three bytes */
	struct vdds_pub_opts o = { .slot_count = 4,
				   .type_name = "Pose",
				   .type_size = sizeof(Pose) };
	Pose value = { 4, 5, 6 };
	vdds_pub *pub;
	vdds_sub *sub;
	vdds_Pose_sample s;

	ck_assert_int_eq(vdds_pub_open(&pub, "pose", &o), 0);
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	ck_assert_int_eq(vdds_pub_write(pub, "abc", 3, 0), 0);
	ck_assert_int_eq(vdds_pub_write(pub, &value, sizeof(value), 0), 0);
	ck_assert_int_eq(vdds_Pose_take(sub, &s), -EMSGSIZE);
	ck_assert_ptr_null(s.data);
	ck_assert_uint_eq(stats_of(pub).free_slots, 3); /* the short one is back */
	ck_assert_int_eq(vdds_Pose_take(sub, &s), 0);
	ck_assert(s.data->x == 4 && s.data->theta == 6);
	ck_assert_uint_eq(s.raw.seq, 2);
	ck_assert_int_eq(vdds_Pose_release(sub, &s), 0);
	ck_assert_int_eq(vdds_Pose_take(sub, &s), -EAGAIN);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* A Twist publisher in its own process, until its pipe closes. */
static int publish_twists(int wait_fd)
{
	vdds_pub *pub;
	char byte;

	if (vdds_Twist_pub_open(&pub, "pose", NULL) != 0)
		return TU_CHILD_OPEN_FAILED;
	if (read(wait_fd, &byte, 1) != 0)
		return TU_CHILD_PIPE_FAILED;
	vdds_pub_close(pub);
	return TU_CHILD_OK;
}

START_TEST(test_a_subscriber_of_another_type_is_refused_and_told_why)
{
	tu_private_rundir();
	int done[2], err = -ENOENT;
	vdds_sub *sub;
	vdds_Twist_sample t;

	ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child_keeping(&done[0]);

	if (pid == 0)
		_exit(publish_twists(done[0]));
	close(done[0]);
	for (int i = 0; i < 2000 && err == -ENOENT; i++) {
		tu_sleep_us(5000);
		err = vdds_Pose_sub_open(&sub, "pose", NULL);
	}
	ck_assert_int_eq(err, -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)");
	ck_assert_str_eq(vdds_strerror(err), "protocol version, type name or type size mismatch");
	/* the right type is served by the same publisher */
	ck_assert_int_eq(vdds_Twist_sub_open(&sub, "pose", NULL), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	ck_assert_int_eq(vdds_Twist_take(sub, &t), -EAGAIN);
	vdds_sub_close(sub);
	close(done[1]);
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

START_TEST(test_a_reconnecting_subscriber_meeting_another_type_is_told_why)
{
	tu_private_rundir();
	struct vdds_sub_opts o = { .reconnect = true };
	vdds_pub *pub;
	vdds_sub *sub;
	vdds_Pose_sample s;
	int err = -EAGAIN;

	ck_assert_int_eq(vdds_Pose_pub_open(&pub, "pose", NULL), 0);
	ck_assert_int_eq(vdds_Pose_sub_open(&sub, "pose", &o), 0);
	vdds_pub_close(pub);
	ck_assert_int_eq(vdds_Twist_pub_open(&pub, "pose", NULL), 0);
	/* the next publisher is of another type: take says so, and why */
	for (int i = 0; i < 1000 && err == -EAGAIN; i++)
		if ((err = vdds_Pose_take(sub, &s)) == -EAGAIN)
			vdds_sub_wait(sub, 10);
	ck_assert_int_eq(err, -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)");
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

static Suite *typed_suite(void)
{
	Suite *s = suite_create("typed");
	TCase *tc = tcase_create("c");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_a_typed_publisher_declares_the_name_and_size_of_its_type);
	tcase_add_test(tc, test_typed_samples_cross_processes_intact);
	tcase_add_test(tc, test_the_callers_options_are_copied_and_filled);
	tcase_add_test(tc, test_a_discarded_or_written_sample_gives_its_slot_back);
	tcase_add_test(tc, test_a_sample_of_another_length_is_released_and_refused);
	tcase_add_test(tc, test_a_subscriber_of_another_type_is_refused_and_told_why);
	tcase_add_test(tc, test_a_reconnecting_subscriber_meeting_another_type_is_told_why);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(typed_suite());
}
