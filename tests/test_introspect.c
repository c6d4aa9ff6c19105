/* test_introspect.c — the public introspection API (issue #20 point 1): the
 * runtime directory and a topic's files (vdds_rundir, vdds_topic_check,
 * vdds_topic_path, vdds_topic_lock, vdds_topic_list), and asking publishers
 * about themselves (vdds_topic_info, vdds_topic_info_many): a real
 * publisher with subscribers in other processes, many topics at once among
 * listeners that never answer, a publisher of another protocol version, and
 * the growable structs' reserves. */
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/file.h>

#include "proto.h"
#include "testutil.h"

/* --------------------------------------------------------------- helpers */

/* <VDDS_DIR>/<topic><suffix> */
static void path_of(char *buf, size_t cap, const char *topic, const char *suffix)
{
	snprintf(buf, cap, "%s/%s%s", getenv("VDDS_DIR"), topic, suffix);
}

/* A Unix socket bound at <topic>.sock; listening (it connects, and then
 * nobody reads: a mute publisher) or not (refused: a dead one's socket). */
static int bind_topic(const char *topic, int listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	path_of(a.sun_path, sizeof(a.sun_path), topic, ".sock");
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 64), 0);
	return fd;
}

static vdds_pub *open_pub(const char *topic)
{
	vdds_pub *pub = NULL;

	ck_assert_int_eq(vdds_pub_open(&pub, topic, NULL), 0);
	return pub;
}

struct names {
	int n;
	char name[16][VDDS_TOPIC_MAX + 1];
};

static int collect(const char *topic, void *arg)
{
	struct names *v = arg;

	ck_assert_int_lt(v->n, 16);
	snprintf(v->name[v->n++], sizeof(v->name[0]), "%s", topic);
	return 0;
}

static int has(const struct names *v, const char *topic)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->name[i], topic))
			return 1;
	return 0;
}

static int stop_at_first(const char *topic, void *arg)
{
	(void)topic;
	(void)arg;
	return 42;
}

/* ------------------------------------------------- directory and files */

START_TEST(test_rundir_is_vdds_dir_and_refused_when_others_may_write)
{
	char buf[256], sub[256];

	tu_private_rundir();
	ck_assert_int_eq(vdds_rundir(buf, sizeof(buf), 0), 0);
	ck_assert_str_eq(buf, getenv("VDDS_DIR"));
	snprintf(sub, sizeof(sub), "%s/inner", getenv("VDDS_DIR"));
	setenv("VDDS_DIR", sub, 1);
	ck_assert_int_eq(vdds_rundir(buf, sizeof(buf), 0), -ENOENT);
	ck_assert_str_eq(buf, sub); /* the path, for a message */
	ck_assert_int_eq(vdds_rundir(buf, sizeof(buf), 1), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	ck_assert_int_eq(vdds_rundir(buf, sizeof(buf), 0), -EACCES);
	ck_assert_int_eq(vdds_rundir(buf, 4, 0), -ENAMETOOLONG);
	ck_assert_int_eq(vdds_rundir(NULL, 4, 0), -EINVAL);
}
END_TEST

START_TEST(test_topic_check_names_the_fault)
{
	ck_assert_int_eq(vdds_topic_check("ok.name-1_x"), 0);
	ck_assert_int_eq(vdds_topic_check("a/b"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vdds_last_error_detail(), "'/' at byte 1"));
	ck_assert_int_eq(vdds_topic_check(".hidden"), -EINVAL);
	ck_assert_int_eq(vdds_topic_check(""), -EINVAL);
	ck_assert_int_eq(vdds_topic_check(NULL), -EINVAL);
}
END_TEST

START_TEST(test_topic_path_joins_dir_topic_and_suffix)
{
	char buf[256], want[256];

	tu_private_rundir();
	path_of(want, sizeof(want), "t", ".sock");
	ck_assert_int_eq(vdds_topic_path(NULL, "t", ".sock", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(vdds_topic_path("/x", "t", ".bridge", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/x/t.bridge");
	ck_assert_int_eq(vdds_topic_path("/x", "t", ".sock", buf, 8), -ENAMETOOLONG);
	ck_assert_int_eq(vdds_topic_path("/x", "t", "/../y", buf, sizeof(buf)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vdds_last_error_detail(), "suffix"));
	ck_assert_int_eq(vdds_topic_path("/x", "../t", ".sock", buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_topic_lock_is_the_publishers_lock)
{
	tu_private_rundir();
	vdds_pub *pub = open_pub("locked");

	/* a live publisher holds <topic>.lock */
	ck_assert_int_eq(vdds_topic_lock(NULL, "locked", ".lock", O_RDWR), -EEXIST);
	vdds_pub_close(pub);
	int fd = vdds_topic_lock(NULL, "locked", ".lock", O_RDWR);

	ck_assert_int_ge(fd, 0);
	/* and holding it keeps a publisher from starting */
	ck_assert_int_eq(vdds_pub_open(&pub, "locked", NULL), -EEXIST);
	close(fd);
	pub = open_pub("locked");
	vdds_pub_close(pub);
	/* a tool's own lock, read-only */
	fd = vdds_topic_lock(NULL, "locked", ".bridge", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vdds_topic_lock(NULL, "locked", ".bridge", O_RDONLY), -EEXIST);
	close(fd);
	ck_assert_int_eq(vdds_topic_lock(NULL, "locked", ".lock", O_WRONLY | O_TRUNC), -EINVAL);
}
END_TEST

START_TEST(test_topic_list_finds_topics_by_suffix)
{
	char p[256];
	struct names v = { 0 };

	tu_private_rundir();
	vdds_pub *a = open_pub("alpha"), *b = open_pub("beta");

	path_of(p, sizeof(p), "no way", ".sock"); /* not a topic name */
	ck_assert_int_ge(creat(p, 0600), 0);
	path_of(p, sizeof(p), "gamma", ".other");
	ck_assert_int_ge(creat(p, 0600), 0);
	ck_assert_int_eq(vdds_topic_list(NULL, NULL, collect, &v), 0);
	ck_assert_int_eq(v.n, 2);
	ck_assert(has(&v, "alpha") && has(&v, "beta"));
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(vdds_topic_list(getenv("VDDS_DIR"), ".lock", collect, &v), 0);
	ck_assert_int_eq(v.n, 2);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(vdds_topic_list(NULL, ".other", collect, &v), 0);
	ck_assert_int_eq(v.n, 1);
	ck_assert(has(&v, "gamma"));
	ck_assert_int_eq(vdds_topic_list(NULL, NULL, stop_at_first, NULL), 42);
	ck_assert_int_eq(vdds_topic_list("/nonexistent/vdds", NULL, collect, &v), -ENOENT);
	ck_assert_int_eq(vdds_topic_list(NULL, "a/b", collect, &v), -EINVAL);
	ck_assert_int_eq(vdds_topic_list(NULL, NULL, NULL, NULL), -EINVAL);
	vdds_pub_close(a);
	vdds_pub_close(b);
}
END_TEST

/* ------------------------------------------------------------ one topic */

/* A subscriber in a child process: it takes one sample and holds it, says
 * so on ready, and waits on done before it exits. */
static pid_t holding_subscriber(const char *topic, int ready, int done)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		vdds_sub *sub;
		struct vdds_sample s;
		char c = 1;

		if (tu_sub_open_retry(&sub, topic, NULL) < 0 || vdds_sub_wait(sub, 10000) < 0 ||
		    vdds_sub_take(sub, &s) < 0)
			_exit(1);
		if (write(ready, &c, 1) != 1 || read(done, &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	return pid;
}

START_TEST(test_info_tells_publisher_layout_counters_and_subscribers)
{
	struct vdds_pub_opts o = { .slot_size = 256,
				   .slot_count = 8,
				   .type_name = "Pose",
				   .type_size = 24,
				   .overflow = VDDS_OVERFLOW_DROP_OLDEST,
				   .history = 2 };
	int ready[2], done[2];
	vdds_pub *pub;
	char c;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, "pose", &o), 0);
	ck_assert_int_eq(vdds_pub_set_note(pub, "hello"), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid_t kid = holding_subscriber("pose", ready[1], done[0]);

	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
	char sample[24] = { 0 };

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(vdds_pub_write(pub, sample, sizeof(sample), 1000), 0);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0); /* the snapshot INFO reports */
	struct vdds_topic_info *info = calloc(1, sizeof(*info));

	ck_assert_int_eq(vdds_topic_info(NULL, "pose", info, 5000), 0);
	ck_assert_int_eq(info->pid, getpid());
	ck_assert_uint_eq(info->uid, geteuid());
	ck_assert_uint_ne(info->start_ns, 0);
	ck_assert_uint_eq(info->slot_size, 256);
	ck_assert_uint_eq(info->slot_count, 8);
	ck_assert_uint_eq(info->type_size, 24);
	ck_assert_str_eq(info->type_name, "Pose");
	ck_assert_uint_eq(info->overflow, VDDS_OVERFLOW_DROP_OLDEST);
	ck_assert_uint_eq(info->history, 2);
	ck_assert_uint_eq(info->published, 3);
	ck_assert_str_eq(info->note, "hello");
	ck_assert_uint_eq(info->n_subs, 1);
	ck_assert_int_eq(info->subs[0].pid, kid);
	ck_assert_uint_eq(info->subs[0].uid, geteuid());
	ck_assert_uint_eq(info->subs[0].held, 1);
	ck_assert_uint_eq(info->subs[0].held + info->subs[0].queued, 3);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	c = 0;
	ck_assert_int_eq(write(done[1], &c, 1), 1);
	int status;

	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(info);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_info_says_what_is_at_the_socket_when_no_publisher)
{
	struct vdds_topic_info *info = calloc(1, sizeof(*info));
	char p[256];

	tu_private_rundir();
	ck_assert_int_eq(vdds_topic_info(NULL, "none", info, 1000), -ENOENT);
	int dead = bind_topic("dead", 0);

	ck_assert_int_eq(vdds_topic_info(NULL, "dead", info, 1000), -ECONNREFUSED);
	path_of(p, sizeof(p), "file", ".sock");
	ck_assert_int_ge(creat(p, 0600), 0);
	ck_assert_int_eq(vdds_topic_info(NULL, "file", info, 1000), -ENOTSOCK);
	/* a symlink to a live publisher's socket is not followed */
	vdds_pub *pub = open_pub("real");
	char target[256];

	path_of(target, sizeof(target), "real", ".sock");
	path_of(p, sizeof(p), "link", ".sock");
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_eq(vdds_topic_info(NULL, "link", info, 1000), -ENOTSOCK);
	ck_assert_int_eq(vdds_topic_info(NULL, "real", info, 5000), 0);
	ck_assert_int_eq(vdds_topic_info(NULL, "a/b", info, 1000), -EINVAL);
	ck_assert_ptr_nonnull(strstr(vdds_last_error_detail(), "topic 'a/b'"));
	ck_assert_int_eq(vdds_topic_info(NULL, "real", NULL, 1000), -EINVAL);
	vdds_pub_close(pub);
	close(dead);
	free(info);
}
END_TEST

/* A publisher of another protocol version, as a process: it answers every
 * INFO_REQ with a REJECT whose header carries version+1. */
static pid_t foreign_publisher(const char *topic)
{
	int lfd = bind_topic(topic, 1);
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		union vdds__msg m;

		if (c < 0)
			_exit(1);
		if (recv(c, &m, sizeof(m), 0) > 0) {
			vdds__msg_reject(&m.reject, VDDS__MSG_REJECT, EPROTO, "version");
			m.hdr.version = VDDS__PROTO_VERSION + 1;
			(void)send(c, &m.reject, sizeof(m.reject), MSG_NOSIGNAL);
		}
		close(c);
	}
}

START_TEST(test_a_publisher_of_another_version_is_refused)
{
	struct vdds_topic_info *info = calloc(2, sizeof(*info));
	char want[64];

	tu_private_rundir();
	pid_t kid = foreign_publisher("future");

	ck_assert_int_eq(vdds_topic_info(NULL, "future", info, 5000), -EPROTO);
	snprintf(want, sizeof(want), "publisher speaks %u", VDDS__PROTO_VERSION + 1);
	ck_assert_ptr_nonnull(strstr(vdds_last_error_detail(), want));
	vdds_pub *pub = open_pub("now");
	const char *topics[2] = { "future", "now" };
	int errs[2];

	ck_assert_int_eq(vdds_topic_info_many(NULL, topics, 2, info, errs, 5000), 0);
	ck_assert_int_eq(errs[0], -EPROTO);
	ck_assert_int_eq(errs[1], 0);
	ck_assert_int_eq(info[1].pid, getpid());
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	vdds_pub_close(pub);
	free(info);
}
END_TEST

/* ---------------------------------------------------------- many topics */

#define MUTE 24
#define LIVE 3

START_TEST(test_many_topics_at_once_mute_ones_cost_one_deadline)
{
	const char *topics[MUTE + LIVE + 2];
	char names[MUTE + LIVE + 2][16];
	int mute[MUTE], errs[MUTE + LIVE + 2];
	vdds_pub *pub[LIVE];
	size_t n = 0;

	tu_private_rundir();
	for (int i = 0; i < LIVE; i++) {
		snprintf(names[n], sizeof(names[n]), "live%d", i);
		pub[i] = open_pub(names[n]);
		topics[n] = names[n];
		n++;
	}
	for (int i = 0; i < MUTE; i++) {
		snprintf(names[n], sizeof(names[n]), "mute%d", i);
		mute[i] = bind_topic(names[n], 1); /* connects, never answers */
		topics[n] = names[n];
		n++;
	}
	int dead = bind_topic("dead", 0);

	topics[n++] = "dead";
	topics[n++] = "absent";
	struct vdds_topic_info *info = calloc(n, sizeof(*info));
	/* asked one after another, the mute ones would take MUTE deadlines */
	const int timeout_ms = 400;
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_topic_info_many(NULL, topics, n, info, errs, timeout_ms), 0);
	uint64_t took = tu_now_ns() - t0;

	for (int i = 0; i < LIVE; i++) {
		ck_assert_int_eq(errs[i], 0);
		ck_assert_int_eq(info[i].pid, getpid());
	}
	for (int i = LIVE; i < LIVE + MUTE; i++) {
		ck_assert_int_eq(errs[i], -ETIMEDOUT);
		ck_assert_int_eq(info[i].pid, 0);
	}
	ck_assert_int_eq(errs[LIVE + MUTE], -ECONNREFUSED);
	ck_assert_int_eq(errs[LIVE + MUTE + 1], -ENOENT);
	/* not before the deadline (the mute ones were waited for), and far
	 * from MUTE deadlines after it: a bound of half that, generous for a
	 * loaded machine, that asking them one by one cannot meet */
	ck_assert_uint_ge(took, (uint64_t)timeout_ms * 1000000u);
	ck_assert_uint_lt(took, (uint64_t)timeout_ms * 1000000u * MUTE / 2);
	for (int i = 0; i < MUTE; i++)
		close(mute[i]);
	for (int i = 0; i < LIVE; i++)
		vdds_pub_close(pub[i]);
	close(dead);
	free(info);
}
END_TEST

START_TEST(test_many_with_no_runtime_directory_finds_no_publisher)
{
	char sub[256];
	const char *topics[1] = { "t" };
	int errs[1] = { 0 };
	struct vdds_topic_info *info = calloc(1, sizeof(*info));

	tu_private_rundir();
	snprintf(sub, sizeof(sub), "%s/absent", getenv("VDDS_DIR"));
	setenv("VDDS_DIR", sub, 1);
	ck_assert_int_eq(vdds_topic_info_many(NULL, topics, 1, info, errs, 100), 0);
	ck_assert_int_eq(errs[0], -ENOENT);
	ck_assert_int_eq(vdds_topic_info_many(NULL, NULL, 0, NULL, NULL, 100), 0);
	ck_assert_int_eq(vdds_topic_info_many(NULL, topics, 1, NULL, errs, 100), -EINVAL);
	free(info);
}
END_TEST

/* ------------------------------------------------------ growable structs */

START_TEST(test_the_library_zeroes_the_reserves_it_does_not_fill)
{
	struct vdds_topic_info *info = malloc(sizeof(*info));
	static const uint64_t zero[8];

	tu_private_rundir();
	vdds_pub *pub = open_pub("grow");

	memset(info, 0xa5, sizeof(*info));
	ck_assert_int_eq(vdds_topic_info(NULL, "grow", info, 5000), 0);
	ck_assert_int_eq(memcmp(info->vdds__reserved, zero, sizeof(info->vdds__reserved)), 0);
	ck_assert_uint_eq(info->vdds__pad, 0);
	ck_assert_uint_eq(info->n_subs, 0);
	/* rows past n_subs, and every row's reserve, are zero too */
	for (size_t i = 0; i < VDDS_MAX_SUBSCRIBERS; i++) {
		const struct vdds_topic_sub *s = &info->subs[i];

		ck_assert_int_eq(memcmp(s->vdds__reserved, zero, sizeof(s->vdds__reserved)), 0);
		ck_assert_int_eq(s->pid, 0);
	}
	/* the layout a consumer compiled today relies on (tests/abi_layout.c
	 * freezes every offset; here the sizes the reserves keep) */
	ck_assert_uint_eq(sizeof(struct vdds_topic_sub), 64);
	ck_assert_uint_eq(offsetof(struct vdds_topic_info, subs), 352);
	ck_assert_uint_eq(sizeof(struct vdds_topic_info), 352 + 64 * VDDS_MAX_SUBSCRIBERS);
	vdds_pub_close(pub);
	free(info);
}
END_TEST

static Suite *introspect_suite(void)
{
	Suite *s = suite_create("introspect");
	TCase *files = tcase_create("files");
	TCase *ask = tcase_create("ask");

	tcase_set_timeout(files, 30);
	tcase_add_test(files, test_rundir_is_vdds_dir_and_refused_when_others_may_write);
	tcase_add_test(files, test_topic_check_names_the_fault);
	tcase_add_test(files, test_topic_path_joins_dir_topic_and_suffix);
	tcase_add_test(files, test_topic_lock_is_the_publishers_lock);
	tcase_add_test(files, test_topic_list_finds_topics_by_suffix);
	suite_add_tcase(s, files);
	tcase_set_timeout(ask, 60);
	tcase_add_test(ask, test_info_tells_publisher_layout_counters_and_subscribers);
	tcase_add_test(ask, test_info_says_what_is_at_the_socket_when_no_publisher);
	tcase_add_test(ask, test_a_publisher_of_another_version_is_refused);
	tcase_add_test(ask, test_many_topics_at_once_mute_ones_cost_one_deadline);
	tcase_add_test(ask, test_many_with_no_runtime_directory_finds_no_publisher);
	tcase_add_test(ask, test_the_library_zeroes_the_reserves_it_does_not_fill);
	suite_add_tcase(s, ask);
	return s;
}

int main(void)
{
	return tu_run_suite(introspect_suite());
}
