/* test_typed_cpp.cpp — vdds.hpp, the C++17 wrapper: samples that publish,
 * discard and release themselves (RAII, move-only), errors as
 * std::system_error with the vdds code and reason, and the C macros of
 * vdds.h compiled as C++ speaking with it. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "testutil.h"
#include "vdds.hpp"

struct Pose {
	double x, y, theta;
};

struct Twist {
	double linear[3], angular[3];
};

VDDS_TYPE_NAME(Pose);
VDDS_TYPE_NAME(Twist);
VDDS_TYPED(Pose); /* the C layer, compiled as C++ */

static_assert(sizeof(Pose) == 24 && sizeof(Twist) == 48, "the sizes the reason texts name");

#define SAMPLES 100

static const char *const MISMATCH = "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)";

static vdds_pub_opts slots(uint32_t n)
{
	vdds_pub_opts o = {};

	o.slot_count = n;
	return o;
}

static uint32_t free_slots(vdds::Publisher<Pose> &pub)
{
	return pub.stats().free_slots;
}

/* Run fn, which must throw std::system_error: its code, or -1 if it did not
 * throw; its what() in *what. */
template <class F> static int code_thrown(F fn, std::string *what = nullptr)
{
	try {
		fn();
	} catch (const std::system_error &e) {
		ck_assert(e.code().category() == std::generic_category());
		if (what)
			*what = e.what();
		return e.code().value();
	}
	return -1;
}

/* A subscriber in its own process: SAMPLES poses, in order, intact. */
static int take_poses()
{
	try {
		vdds::Subscriber<Pose> sub("pose");
		uint64_t next = 1;

		while (next <= SAMPLES) {
			if (!sub.wait(5000))
				return TU_CHILD_TIMEOUT;
			while (auto s = sub.try_take()) {
				if (s->seq() != next)
					return TU_CHILD_GAP;
				if ((*s)->x != double(next) || (*s)->y != -double(next) ||
				    (**s).theta != 0.5 * double(next))
					return TU_CHILD_BAD_PAYLOAD;
				next++;
			}
		}
	} catch (const std::system_error &) {
		return TU_CHILD_WRONG_RESULT;
	}
	return TU_CHILD_OK;
}

START_TEST(test_samples_cross_processes_and_publish_themselves)
{
	tu_private_rundir();
	vdds::Publisher<Pose> pub("pose", slots(8));
	pid_t pid = tu_fork_child_keeping(nullptr);

	if (pid == 0)
		_exit(take_poses());
	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	for (uint64_t seq = 1; seq <= SAMPLES; seq++) {
		auto s = pub.loan();

		s->x = double(seq);
		s->y = -double(seq);
		(*s).theta = 0.5 * double(seq);
		s.publish();
		ck_assert(!s);
	}
	tu_assert_exit(pid, TU_CHILD_OK);
	ck_assert_uint_eq(pub.stats().published, SAMPLES);
}
END_TEST

START_TEST(test_a_taken_sample_is_released_by_its_destructor)
{
	tu_private_rundir();
	vdds::Publisher<Pose> pub("pose", slots(4));
	vdds::Subscriber<Pose> sub("pose");

	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	pub.write(Pose{ 1, 2, 3 });
	ck_assert_uint_eq(free_slots(pub), 3);
	{
		vdds::Sample<Pose> s = sub.take();

		ck_assert(s->x == 1 && s->y == 2 && s->theta == 3);
		ck_assert_uint_eq(s.seq(), 1);
		ck_assert_uint_eq(free_slots(pub), 3); /* held */
		ck_assert_uint_eq(sub.stats().held, 1);
	}
	ck_assert_uint_eq(free_slots(pub), 4);
	ck_assert_uint_eq(sub.stats().held, 0);
	ck_assert_uint_eq(sub.stats().taken, 1);
	/* and by an optional going out of scope */
	pub.write(Pose{ 4, 5, 6 });
	{
		std::optional<vdds::Sample<Pose>> s = sub.try_take();

		ck_assert(s.has_value());
		ck_assert_uint_eq(free_slots(pub), 3);
	}
	ck_assert_uint_eq(free_slots(pub), 4);
	ck_assert(!sub.try_take().has_value());
}
END_TEST

START_TEST(test_an_unpublished_loan_is_discarded_by_its_destructor)
{
	tu_private_rundir();
	vdds::Publisher<Pose> pub("pose", slots(4));
	vdds::Subscriber<Pose> sub("pose");

	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	{
		auto s = pub.loan();

		s->x = 7;
		ck_assert_uint_eq(free_slots(pub), 3);
	}
	ck_assert_uint_eq(free_slots(pub), 4);
	/* also when an exception unwinds past it */
	try {
		auto s = pub.loan();

		ck_assert_uint_eq(free_slots(pub), 3);
		throw std::runtime_error("while writing");
	} catch (const std::runtime_error &) {
	}
	ck_assert_uint_eq(free_slots(pub), 4);
	ck_assert_uint_eq(pub.stats().published, 0);
	ck_assert(!sub.try_take().has_value()); /* nothing was sent */
}
END_TEST

START_TEST(test_a_moved_from_sample_does_nothing)
{
	tu_private_rundir();
	vdds::Publisher<Pose> pub("pose", slots(4));
	vdds::Subscriber<Pose> sub("pose");

	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	/* a loan moved on: the new owner publishes, the old one is empty */
	auto a = pub.loan();
	auto b = std::move(a);

	ck_assert(!a && b);
	a.discard(); /* nothing to give back */
	ck_assert_uint_eq(free_slots(pub), 3);
	b->x = 8;
	b.publish();
	ck_assert_int_eq(code_thrown([&] { a.publish(); }), EINVAL);
	/* move assignment gives back what the target held */
	auto c = pub.loan();
	auto d = pub.loan();

	ck_assert_uint_eq(free_slots(pub), 1);
	c = std::move(d);
	ck_assert_uint_eq(free_slots(pub), 2);
	c.discard();
	ck_assert_uint_eq(free_slots(pub), 3);
	/* a taken sample moved on: released once, by its last owner */
	auto s = sub.take();
	vdds::Sample<Pose> t(std::move(s));

	ck_assert(!s && t);
	ck_assert(t->x == 8);
	s.release(); /* nothing */
	ck_assert_uint_eq(free_slots(pub), 3);
	pub.write(Pose{ 9, 0, 0 });
	auto u = sub.take();

	ck_assert_uint_eq(free_slots(pub), 2);
	t = std::move(u); /* releases the first */
	ck_assert_uint_eq(free_slots(pub), 3);
	ck_assert(t->x == 9 && !u);
	t.release();
	ck_assert_uint_eq(free_slots(pub), 4);
	/* publishers and subscribers move too */
	vdds::Publisher<Pose> pub2(std::move(pub));
	vdds::Subscriber<Pose> sub2(std::move(sub));

	ck_assert_ptr_null(pub.get());
	ck_assert_ptr_null(sub.get());
	pub2.write(Pose{ 10, 0, 0 });
	ck_assert(sub2.take()->x == 10);
	ck_assert_int_eq(code_thrown([&] { pub.loan(); }), EINVAL);
	ck_assert_int_eq(code_thrown([&] { sub.try_take(); }), EINVAL);
}
END_TEST

START_TEST(test_errors_are_system_errors_with_the_vdds_code)
{
	tu_private_rundir();
	std::string what;

	ck_assert_int_eq(code_thrown([] { vdds::Subscriber<Pose> sub("nobody"); }, &what), ENOENT);
	ck_assert(what.find(vdds_strerror(-ENOENT)) != std::string::npos);
	ck_assert(what.find("vdds_sub_open") != std::string::npos);
	auto pub = std::make_optional<vdds::Publisher<Pose>>("pose", slots(2));

	ck_assert_int_eq(code_thrown([] { vdds::Publisher<Pose> again("pose"); }), EEXIST);
	ck_assert_int_eq(code_thrown([] { vdds::Publisher<Pose> bad("no/slash"); }, &what), EINVAL);
	/* which argument is bad, as the library's detail says */
	ck_assert_msg(what.rfind(std::string("vdds_pub_open: ") + vdds_strerror(-EINVAL) +
					 ": topic 'no/slash': '/' at byte 2: only [A-Za-z0-9_.-]",
				 0) == 0,
		      "what(): %s", what.c_str());
	vdds_pub_opts wrong = {};

	wrong.type_size = sizeof(Pose) + 1;
	ck_assert_int_eq(code_thrown([&] { vdds::Publisher<Pose> p("other", wrong); }, &what),
			 EINVAL);
	ck_assert_msg(what.rfind(std::string("vdds_pub_open: ") + vdds_strerror(-EINVAL) +
					 ": type_size or slot_size contradicts sizeof(T)",
				 0) == 0,
		      "what(): %s", what.c_str());
	wrong = {};
	wrong.history = 2; /* at most slot_count / 2 = 1 of slots(2) */
	wrong.slot_count = 2;
	ck_assert_int_eq(code_thrown([&] { vdds::Publisher<Pose> p("other", wrong); }, &what),
			 EINVAL);
	ck_assert_msg(what.rfind(std::string("vdds_pub_open: ") + vdds_strerror(-EINVAL) +
					 ": history 2: at most slot_count / 2 = 1",
				 0) == 0,
		      "what(): %s", what.c_str());
	/* a moved-from handle is a NULL one: said so, not an earlier reason */
	{
		vdds::Publisher<Pose> other("other");
		vdds::Publisher<Pose> taker(std::move(other));

		ck_assert_int_eq(code_thrown([&] { other.loan(); }, &what), EINVAL);
		ck_assert_msg(
			what.rfind(std::string("vdds_pub_loan: ") + vdds_strerror(-EINVAL), 0) == 0,
			"what(): %s", what.c_str());
		ck_assert_msg(what.rfind(std::string("vdds_pub_loan: ") + vdds_strerror(-EINVAL) +
						 ": pub: NULL",
					 0) == 0,
			      "what(): %s", what.c_str());
	}
	/* no free slot is not an error for try_loan */
	auto a = pub->loan();
	auto b = pub->loan();

	ck_assert(!pub->try_loan().has_value());
	ck_assert(!pub->try_loan(10).has_value());
	/* the code compares with std::errc */
	try {
		vdds::Subscriber<Pose> sub("nobody");
		ck_abort_msg("no exception");
	} catch (const std::system_error &e) {
		ck_assert(e.code() == std::errc::no_such_file_or_directory);
	}
	/* the publisher gone is the end, not an error: false and empty, but
	 * take(), which has no empty answer, throws EPIPE */
	vdds::Subscriber<Pose> sub("pose");

	ck_assert(!sub.wait(0));
	ck_assert(!sub.ended()); /* that false was a timeout */
	a.discard();
	b.discard();
	pub.reset();
	ck_assert(!sub.wait());
	ck_assert(sub.ended());
	ck_assert(!sub.try_take().has_value());
	ck_assert(!sub.wait(0));
	ck_assert_int_eq(code_thrown([&] { sub.take(); }, &what), EPIPE);
	ck_assert_msg(what.find("vdds_sub_take") != std::string::npos, "what(): %s", what.c_str());
	/* the end moves with the subscriber */
	vdds::Subscriber<Pose> moved(std::move(sub));

	ck_assert(moved.ended() && !sub.ended());
}
END_TEST

/* A publisher in its own process for the README's loop: waits for one
 * subscriber, publishes n poses with random pauses, then goes, by its
 * destructor (close) or by _exit without one (as a crash: the subscriber
 * learns it from the socket's hang-up). */
static int publish_then_go(uint32_t n, uint64_t seed, bool crash)
{
	try {
		vdds::Publisher<Pose> pub("pose", slots(4));

		if (tu_await_subscribers(pub.get(), 1) != 0)
			return TU_CHILD_TIMEOUT;
		for (uint32_t i = 1; i <= n; i++) {
			if (tu_xorshift(&seed) % 4 == 0)
				tu_sleep_us(long(tu_xorshift(&seed) % 2000));
			pub.write(Pose{ double(i), 0, 0 });
		}
		if (crash)
			_exit(TU_CHILD_OK);
	} catch (const std::system_error &) {
		return TU_CHILD_WRITE_FAILED;
	}
	return TU_CHILD_OK;
}

START_TEST(test_the_readme_loop_ends_when_the_publisher_process_goes)
{
	tu_private_rundir();
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	for (int iter = 0; iter < 40; iter++) {
		uint32_t n = uint32_t(tu_xorshift(&seed) % 50);
		bool crash = iter % 2;
		uint64_t child_seed = tu_xorshift(&seed) | 1;
		pid_t pid = tu_fork_child_keeping(nullptr);

		if (pid == 0)
			_exit(publish_then_go(n, child_seed, crash));
		uint64_t next = 1;

		try {
			std::optional<vdds::Subscriber<Pose>> opened;

			for (int i = 0; i < 2000 && !opened; i++) {
				try {
					opened.emplace("pose");
				} catch (const std::system_error &e) {
					ck_assert_msg(e.code().value() == ENOENT, "%s", e.what());
					tu_sleep_us(5000);
				}
			}
			ck_assert(opened.has_value());
			vdds::Subscriber<Pose> &sub = *opened;

			/* the README's loop, word for word but for what it uses */
			while (sub.wait())
				while (auto t = sub.try_take()) {
					ck_assert_uint_eq(t->seq(), next);
					ck_assert((*t)->x == double(next));
					next++;
					if (tu_xorshift(&seed) % 8 == 0)
						tu_sleep_us(long(tu_xorshift(&seed) % 1000));
				}
			ck_assert(sub.ended());
		} catch (const std::system_error &e) {
			ck_abort_msg("iteration %d (%s, %u samples): %s", iter,
				     crash ? "crash" : "close", n, e.what());
		}
		ck_assert_uint_eq(next - 1, n);
		tu_assert_exit(pid, TU_CHILD_OK);
	}
}
END_TEST

START_TEST(test_overflow_policies_and_max_held_speak_through_the_wrapper)
{
	tu_private_rundir();
	vdds_pub_opts fail = slots(2);
	vdds_sub_opts one = {};

	fail.overflow = VDDS_OVERFLOW_FAIL;
	one.max_held = 1;
	vdds::Publisher<Pose> pub("pose", fail);
	vdds::Subscriber<Pose> sub("pose", one);

	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	pub.write(Pose{ 1, 0, 0 });
	pub.write(Pose{ 2, 0, 0 });
	/* FAIL: no slot now is an empty optional, at once, whatever the timeout */
	uint64_t t0 = tu_now_ns();

	ck_assert(!pub.try_loan(2000).has_value());
	ck_assert_uint_lt(tu_now_ns() - t0, 1000000000ull);
	/* max_held: a second sample is not given while the first is held */
	auto s = sub.take();

	ck_assert_int_eq(code_thrown([&] { sub.try_take(); }), ENOBUFS);
	s.release();
	ck_assert(sub.take()->x == 2);
}
END_TEST

/* A Twist publisher in its own process, until its pipe closes. */
static int publish_twists(int wait_fd)
{
	char byte;

	try {
		vdds::Publisher<Twist> pub("pose");

		if (read(wait_fd, &byte, 1) != 0)
			return TU_CHILD_PIPE_FAILED;
	} catch (const std::system_error &) {
		return TU_CHILD_OPEN_FAILED;
	}
	return TU_CHILD_OK;
}

START_TEST(test_a_type_mismatch_throws_eproto_with_the_reason)
{
	tu_private_rundir();
	int done[2];

	ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
	pid_t pid = tu_fork_child_keeping(&done[0]);

	if (pid == 0)
		_exit(publish_twists(done[0]));
	close(done[0]);
	int code = ENOENT;
	std::string what;

	for (int i = 0; i < 2000 && code == ENOENT; i++) {
		tu_sleep_us(5000);
		code = code_thrown([] { vdds::Subscriber<Pose> sub("pose"); }, &what);
	}
	ck_assert_int_eq(code, EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(), MISMATCH);
	std::string want = std::string("vdds_sub_open: ") + vdds_strerror(-EPROTO) + ": " +
			   MISMATCH;

	ck_assert_msg(what.compare(0, want.size(), want) == 0, "what(): %s", what.c_str());
	/* the right type is served */
	vdds::Subscriber<Twist> twists("pose");

	ck_assert(!twists.try_take().has_value());
	close(done[1]);
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

/* Puts RLIMIT_NOFILE back as it goes, when an exception leaves, before the
 * exception is looked at: UBSan's check of its type needs an fd. */
struct nofile_restore {
	struct rlimit was;
	~nofile_restore()
	{
		setrlimit(RLIMIT_NOFILE, &was);
	}
};

START_TEST(test_an_open_out_of_fds_says_whose_limit)
{
	tu_private_rundir();
	struct rlimit was, low;
	int lowest_free = 0;
	std::string what;

	/* one fd left below the limit: a topic needs 3 */
	while (fcntl(lowest_free, F_GETFD) >= 0)
		lowest_free++;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = rlim_t(lowest_free + 1);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int code = code_thrown(
		[&] {
			nofile_restore r{ was };
			vdds::Publisher<Pose> pub("pose");
		},
		&what);

	ck_assert_int_eq(code, EMFILE);
	std::string want = std::string("vdds_pub_open: ") + vdds_strerror(-EMFILE) +
			   ": out of file descriptors: this process's RLIMIT_NOFILE is " +
			   std::to_string(lowest_free + 1) + ", each published topic needs 3";

	ck_assert_msg(what.compare(0, want.size(), want) == 0, "what(): %s", what.c_str());
}
END_TEST

START_TEST(test_c_and_cpp_speak_the_same_types)
{
	tu_private_rundir();
	vdds_pub *cpub;
	Pose *p;

	/* a publisher of the C layer, a subscriber of the C++ one */
	ck_assert_int_eq(vdds_Pose_pub_open(&cpub, "pose", nullptr), 0);
	vdds::Subscriber<Pose> sub("pose");

	ck_assert_int_eq(tu_await_subscribers(cpub, 1), 0);
	ck_assert_int_eq(vdds_Pose_loan(cpub, &p, 0), 0);
	p->x = 11;
	ck_assert_int_eq(vdds_Pose_publish(cpub, p), 0);
	ck_assert(sub.take()->x == 11);
	vdds_pub_close(cpub);
	/* and the other way round */
	vdds::Publisher<Pose> pub("pose", slots(4));
	vdds_sub *csub;
	vdds_Pose_sample s;

	ck_assert_int_eq(vdds_Pose_sub_open(&csub, "pose", nullptr), 0);
	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	pub.write(Pose{ 12, 0, 0 });
	ck_assert_int_eq(vdds_Pose_take(csub, &s), 0);
	ck_assert(s.data->x == 12);
	ck_assert_int_eq(vdds_Pose_release(csub, &s), 0);
	vdds_sub_close(csub);
}
END_TEST

START_TEST(test_fd_is_readable_while_a_sample_waits)
{
	tu_private_rundir();
	vdds::Publisher<Pose> pub("pose", slots(4));
	vdds::Subscriber<Pose> sub("pose");
	struct pollfd pfd = { sub.fd(), POLLIN, 0 };

	ck_assert_int_eq(tu_await_subscribers(pub.get(), 1), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	pub.write(Pose{ 13, 0, 0 });
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert(sub.try_take().has_value());
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* it has the service thread: no control fd of its own, no dispatch */
	ck_assert_int_eq(code_thrown([&] { (void)pub.fd(); }), EINVAL);
	ck_assert_int_eq(code_thrown([&] { pub.dispatch(); }), EINVAL);
}
END_TEST

static Suite *typed_cpp_suite(void)
{
	Suite *s = suite_create("typed_cpp");
	TCase *tc = tcase_create("cpp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_samples_cross_processes_and_publish_themselves);
	tcase_add_test(tc, test_a_taken_sample_is_released_by_its_destructor);
	tcase_add_test(tc, test_an_unpublished_loan_is_discarded_by_its_destructor);
	tcase_add_test(tc, test_a_moved_from_sample_does_nothing);
	tcase_add_test(tc, test_errors_are_system_errors_with_the_vdds_code);
	tcase_add_test(tc, test_the_readme_loop_ends_when_the_publisher_process_goes);
	tcase_add_test(tc, test_overflow_policies_and_max_held_speak_through_the_wrapper);
	tcase_add_test(tc, test_a_type_mismatch_throws_eproto_with_the_reason);
	tcase_add_test(tc, test_an_open_out_of_fds_says_whose_limit);
	tcase_add_test(tc, test_c_and_cpp_speak_the_same_types);
	tcase_add_test(tc, test_fd_is_readable_while_a_sample_waits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(typed_cpp_suite());
}
