/* test_handshake.c — the publisher against hostile or broken clients on its
 * socket (truncated, wrong magic/version/size, stray fds, oversize, silent),
 * the seals on what it hands out, and who may subscribe (uid, group). */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "introspect.h"
#include "proto.h"
#include "testutil.h"

#define NOBODY 65534

static vdds_pub *pub_up(const char *topic)
{
	struct vdds_pub_opts o = { .slot_count = 4 };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, topic, &o), 0);
	return pub;
}

static int raw_connect(const char *topic)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", getenv("VDDS_DIR"), topic);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

/* What the publisher answered: the REJECT errno, 0 for WELCOME (its fds in
 * fds[]), or -1 if it just hung up. */
static int answer(int fd, int fds[VDDS_WELCOME_FDS])
{
	union vdds__msg m;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int nfds;

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	int len = vdds__msg_recv(fd, &m, fds, VDDS_WELCOME_FDS, &nfds, 0);

	if (len <= 0)
		return -1;
	int kind = vdds__msg_parse(&m, (size_t)len);

	if (kind == VDDS_MSG_REJECT)
		return m.reject.err;
	ck_assert_int_eq(kind, VDDS_MSG_WELCOME);
	ck_assert_int_eq(nfds, VDDS_WELCOME_FDS);
	return 0;
}

/* The publisher still serves an honest subscriber end to end. */
static void honest_subscriber_works(vdds_pub *pub, const char *topic)
{
	vdds_sub *sub;
	struct vdds_sample s;
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_sub_open(&sub, topic, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
		if (st.subscribers == 1)
			break;
		tu_sleep_us(1000);
	}
	ck_assert_int_eq(vdds_pub_write(pub, "ok", 3, 1000), 0);
	ck_assert_int_eq(vdds_sub_wait(sub, 2000), 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_str_eq(s.data, "ok");
	ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	vdds_sub_close(sub);
}

/* Every fd the publisher took for a client is closed again (it runs in this
 * process: compare our own fd count). The service thread closes sockets at
 * once; a departed lane's last fd goes at the publisher's next call. */
static void fds_settle_to(vdds_pub *pub, int expected)
{
	struct vdds_pub_stats st;
	int n = -1;

	for (int i = 0; i < 2000 && n != expected; i++) {
		tu_sleep_us(1000);
		ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
		n = tu_count_fds();
	}
	ck_assert_int_eq(n, expected);
}

static void send_raw(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	ck_assert_int_eq(vdds__msg_send(fd, buf, len, fds, nfds), 0);
}

START_TEST(test_truncated_hello_is_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("trunc");
	int base = tu_count_fds();
	struct vdds__msg_hello h;
	int fds[VDDS_WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0);
	int fd = raw_connect("trunc");

	send_raw(fd, &h, sizeof(h) - 8, NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	fds_settle_to(pub, base);
	honest_subscriber_works(pub, "trunc");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_wrong_magic_is_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("magic");
	struct vdds__msg_hello h;
	int fds[VDDS_WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0);
	h.hdr.magic ^= 1;
	int fd = raw_connect("magic");

	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	honest_subscriber_works(pub, "magic");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_wrong_version_is_eproto)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("version");
	struct vdds__msg_hello h;
	int fds[VDDS_WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0);
	h.hdr.version = VDDS_PROTO_VERSION + 1;
	int fd = raw_connect("version");

	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EPROTO);
	close(fd);
	honest_subscriber_works(pub, "version");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_wrong_sizes_are_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("sizes");
	struct vdds__msg_hello h;
	char longer[sizeof(h) + 16];
	int fds[VDDS_WELCOME_FDS];

	/* the size field disagrees with the datagram */
	vdds__msg_hello(&h, NULL, 0);
	h.hdr.size = sizeof(h) + 16;
	int fd = raw_connect("sizes");

	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	/* a longer datagram that claims it */
	vdds__msg_hello(&h, NULL, 0);
	memset(longer, 0, sizeof(longer));
	h.hdr.size = sizeof(longer);
	memcpy(longer, &h, sizeof(h));
	fd = raw_connect("sizes");
	send_raw(fd, longer, sizeof(longer), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	/* an unterminated type name */
	vdds__msg_hello(&h, NULL, 0);
	memset(h.type_name, 'x', sizeof(h.type_name));
	fd = raw_connect("sizes");
	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	honest_subscriber_works(pub, "sizes");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_hello_with_fds_is_rejected_and_the_fds_closed)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("fds");
	int base = tu_count_fds();
	struct vdds__msg_hello h;
	int fds[VDDS_WELCOME_FDS];
	int pipefd[2];

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	vdds__msg_hello(&h, NULL, 0);
	int fd = raw_connect("fds");

	send_raw(fd, &h, sizeof(h), pipefd, 2);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	/* the copies the publisher received are gone too */
	fds_settle_to(pub, base);
	honest_subscriber_works(pub, "fds");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_megabyte_message_is_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("huge");
	size_t size = 1 << 20;
	char *big = calloc(1, size);
	int fds[VDDS_WELCOME_FDS];
	int fd = raw_connect("huge");
	int sndbuf = (int)size * 2;

	ck_assert_ptr_nonnull(big);
	vdds__msg_hello((struct vdds__msg_hello *)big, NULL, 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ssize_t n = send(fd, big, size, MSG_NOSIGNAL);

	if (n < 0) {
		/* the kernel caps a datagram at the socket buffer: send the
		 * largest it takes */
		ck_assert_int_eq(errno, EMSGSIZE);
		for (size = size / 2; size > 4096 && n < 0; size /= 2)
			n = send(fd, big, size, MSG_NOSIGNAL);
	}
	ck_assert_int_gt(n, 4096);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	free(big);
	honest_subscriber_works(pub, "huge");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_silent_client_is_hung_up_and_others_are_served)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("silent");
	int base = tu_count_fds();
	int fd = raw_connect("silent");
	int fds[VDDS_WELCOME_FDS];

	honest_subscriber_works(pub, "silent"); /* meanwhile */
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(answer(fd, fds), -1);
	ck_assert_uint_ge(tu_now_ns() - t0, 500 * 1000000ull);
	close(fd);
	fds_settle_to(pub, base);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_client_hanging_up_mid_handshake_leaks_nothing)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("hangup");
	int base = tu_count_fds();
	struct vdds__msg_hello h;

	vdds__msg_hello(&h, NULL, 0);
	for (int i = 0; i < 50; i++) {
		int fd = raw_connect("hangup");

		if (i % 2)
			send_raw(fd, &h, sizeof(h), NULL, 0); /* and never read WELCOME */
		close(fd);
	}
	fds_settle_to(pub, base);
	honest_subscriber_works(pub, "hangup");
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	ck_assert_uint_eq(st.free_slots, st.slot_count);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_subscribers_cannot_resize_or_write_the_segments)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("seals");
	struct vdds__msg_hello h;
	int fds[VDDS_WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0);
	int fd = raw_connect("seals");

	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), 0);
	int topic = fds[0], lane = fds[1];
	struct stat st;

	ck_assert_int_eq(fstat(topic, &st), 0);
	ck_assert_int_eq(ftruncate(topic, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(topic, st.st_size * 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(pwrite(topic, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(
		mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, topic, 0),
		MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	/* a read-only mapping cannot be made writable */
	void *ro = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, topic, 0);

	ck_assert_ptr_ne(ro, MAP_FAILED);
	ck_assert_int_eq(mprotect(ro, (size_t)st.st_size, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(fcntl(topic, F_ADD_SEALS, F_SEAL_WRITE), -1); /* sealed seals */
	/* the lane is writable, but not resizable */
	ck_assert_int_eq(ftruncate(lane, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	munmap(ro, (size_t)st.st_size);
	for (int i = 0; i < VDDS_WELCOME_FDS; i++)
		close(fds[i]);
	close(fd);
	vdds_pub_close(pub);
}
END_TEST

/* ------------------------------------------------------- introspection */

START_TEST(test_info_reports_layout_stats_and_each_subscriber)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 8, .slot_size = 128, .type_name = "pose" };
	vdds_pub *pub;
	vdds_sub *a, *b;
	struct vdds_sample s[3];
	struct vdds__msg_info info;

	ck_assert_int_eq(vdds_pub_open(&pub, "intro", &o), 0);
	ck_assert_int_eq(vdds_sub_open(&a, "intro", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&b, "intro", NULL), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(vdds_pub_write(pub, "x", 1, 1000), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(vdds_sub_wait(a, 2000), 0);
		ck_assert_int_eq(vdds_sub_take(a, &s[i]), 0);
	}
	ck_assert_int_eq(vdds__introspect(getenv("VDDS_DIR"), "intro", &info, 5000), 0);
	ck_assert_int_eq(info.pid, getpid());
	ck_assert_uint_eq(info.uid, geteuid());
	ck_assert_uint_eq(info.slot_count, 8);
	ck_assert_uint_eq(info.slot_size, 128);
	ck_assert_str_eq(info.type_name, "pose");
	ck_assert_uint_eq(info.overflow, VDDS_INFO_OVERFLOW_BLOCK);
	ck_assert_uint_eq(info.published, 5);
	ck_assert_uint_eq(info.subscribers, 2);
	ck_assert_uint_eq(info.loaned_slots, 0);
	ck_assert_uint_eq(info.n_subs, 2);
	uint32_t held = 0, queued = 0;

	for (uint32_t i = 0; i < info.n_subs; i++) {
		ck_assert_int_eq(info.subs[i].pid, getpid());
		held += info.subs[i].held;
		queued += info.subs[i].queued;
		ck_assert_uint_eq(info.subs[i].lost, 0);
	}
	ck_assert_uint_eq(held, 3);   /* a holds 3 */
	ck_assert_uint_eq(queued, 7); /* a has 2 waiting, b all 5 */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(vdds_sub_release(a, &s[i]), 0);
	vdds_sub_close(a);
	vdds_sub_close(b);
	vdds_pub_close(pub);
	ck_assert_int_eq(vdds__introspect(getenv("VDDS_DIR"), "intro", &info, 5000), -ENOENT);
}
END_TEST

START_TEST(test_info_request_of_version_1_is_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("v1info");
	struct vdds__msg_info_req r;
	int fds[VDDS_WELCOME_FDS];

	/* INFO_REQ did not exist in version 1: malformed at that version */
	vdds__msg_info_req(&r);
	r.hdr.version = 1;
	int fd = raw_connect("v1info");

	send_raw(fd, &r, sizeof(r), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	/* and a version this build does not speak is EPROTO, as for HELLO */
	vdds__msg_info_req(&r);
	r.hdr.version = VDDS_PROTO_VERSION + 1;
	fd = raw_connect("v1info");
	send_raw(fd, &r, sizeof(r), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EPROTO);
	close(fd);
	honest_subscriber_works(pub, "v1info");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_parser_checks_info_size_against_its_subscriber_count)
{
	union vdds__msg m;

	vdds__msg_info_init(&m.info, 3);
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(3)), VDDS_MSG_INFO);
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(2)), -EBADMSG);
	m.info.n_subs = 2; /* disagrees with hdr.size */
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(3)), -EBADMSG);
	vdds__msg_info_init(&m.info, VDDS_MAX_SUBSCRIBERS);
	ck_assert_int_eq(vdds__msg_parse(&m, sizeof(m.info)), VDDS_MSG_INFO);
	m.info.n_subs = VDDS_MAX_SUBSCRIBERS + 1;
	ck_assert_int_eq(vdds__msg_parse(&m, sizeof(m.info)), -EBADMSG);
	vdds__msg_info_init(&m.info, 0);
	memset(m.info.type_name, 'x', sizeof(m.info.type_name));
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(0)), -EBADMSG);
	/* HELLO keeps version 1, so that version-1 publishers still accept it */
	vdds__msg_hello(&m.hello, NULL, 0);
	ck_assert_uint_eq(m.hdr.version, 1);
}
END_TEST

/* ------------------------------------------------------------ security */

/* Run fn as uid nobody with group gid in a child, publishing on pub (if
 * any) until it is done; returns its exit code. */
static int as_nobody(int (*fn)(void), gid_t gid, vdds_pub *pub)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(NOBODY) < 0)
			_exit(100);
		_exit(fn());
	}
	int status;
	pid_t done;

	while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
		if (pub)
			vdds_pub_write(pub, "hi", 3, 0); /* -EAGAIN while slots are held */
		tu_sleep_us(1000);
	}
	ck_assert_int_eq(done, pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A root-owned runtime directory that other users may enter but not list or
 * write: the socket file's own mode decides who connects. */
static void shared_rundir(void)
{
	tu_private_rundir();
	ck_assert_int_eq(chmod(getenv("VDDS_DIR"), 0711), 0);
}

static int introspect_and_report(void)
{
	struct vdds__msg_info info;

	return -vdds__introspect(getenv("VDDS_DIR"), "secure", &info, 5000);
}

static int subscribe_and_report(void)
{
	vdds_sub *sub;
	int err = vdds_sub_open(&sub, "secure", NULL);

	if (err == 0) {
		struct vdds_sample s;

		err = vdds_sub_wait(sub, 5000);
		if (err == 0)
			err = vdds_sub_take(sub, &s);
		vdds_sub_close(sub);
	}
	return err == 0 ? 0 : -err;
}

START_TEST(test_another_uid_is_eacces)
{
	if (geteuid() != 0) {
		printf("SKIP test_another_uid_is_eacces: needs root to become nobody\n");
		return;
	}
	shared_rundir();
	vdds_pub *pub = pub_up("secure");

	ck_assert_int_eq(as_nobody(subscribe_and_report, NOBODY, pub), EACCES);
	/* even if the socket file lets it connect, SO_PEERCRED refuses it */
	char path[128];

	snprintf(path, sizeof(path), "%s/secure.sock", getenv("VDDS_DIR"));
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(as_nobody(subscribe_and_report, NOBODY, pub), EACCES);
	/* introspection is refused the same way */
	ck_assert_int_eq(as_nobody(introspect_and_report, NOBODY, pub), EACCES);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_group_access_admits_that_group_only)
{
	if (geteuid() != 0) {
		printf("SKIP test_group_access_admits_that_group_only: needs root\n");
		return;
	}
	shared_rundir();
	struct vdds_pub_opts o = { .slot_count = 4, .group_access = true, .group = NOBODY };
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, "secure", &o), 0);
	ck_assert_int_eq(as_nobody(subscribe_and_report, NOBODY, pub), 0);
	ck_assert_int_eq(as_nobody(subscribe_and_report, NOBODY - 1, pub), EACCES);
	ck_assert_int_eq(as_nobody(introspect_and_report, NOBODY, pub), 0);
	ck_assert_int_eq(as_nobody(introspect_and_report, NOBODY - 1, pub), EACCES);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_runtime_dir_owned_by_another_user_is_eacces)
{
	if (geteuid() != 0) {
		printf("SKIP test_runtime_dir_owned_by_another_user_is_eacces: needs root\n");
		return;
	}
	vdds_pub *pub;
	vdds_sub *sub;

	tu_private_rundir();
	ck_assert_int_eq(chown(getenv("VDDS_DIR"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(vdds_pub_open(&pub, "t", NULL), -EACCES);
	ck_assert_int_eq(vdds_sub_open(&sub, "t", NULL), -EACCES);
	/* a subscriber may trust it by naming its owner */
	struct vdds_sub_opts trust = { .publisher_uid = NOBODY };

	ck_assert_int_eq(vdds_sub_open(&sub, "t", &trust), -ENOENT);
}
END_TEST

static Suite *handshake_suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *bad = tcase_create("malformed");
	TCase *sec = tcase_create("security");

	tcase_set_timeout(bad, 30);
	tcase_add_test(bad, test_truncated_hello_is_rejected);
	tcase_add_test(bad, test_wrong_magic_is_rejected);
	tcase_add_test(bad, test_wrong_version_is_eproto);
	tcase_add_test(bad, test_wrong_sizes_are_rejected);
	tcase_add_test(bad, test_hello_with_fds_is_rejected_and_the_fds_closed);
	tcase_add_test(bad, test_megabyte_message_is_rejected);
	tcase_add_test(bad, test_silent_client_is_hung_up_and_others_are_served);
	tcase_add_test(bad, test_client_hanging_up_mid_handshake_leaks_nothing);
	tcase_add_test(bad, test_subscribers_cannot_resize_or_write_the_segments);
	suite_add_tcase(s, bad);

	TCase *intro = tcase_create("introspection");

	tcase_set_timeout(intro, 30);
	tcase_add_test(intro, test_info_reports_layout_stats_and_each_subscriber);
	tcase_add_test(intro, test_info_request_of_version_1_is_rejected);
	tcase_add_test(intro, test_parser_checks_info_size_against_its_subscriber_count);
	suite_add_tcase(s, intro);

	tcase_set_timeout(sec, 30);
	tcase_add_test(sec, test_another_uid_is_eacces);
	tcase_add_test(sec, test_group_access_admits_that_group_only);
	tcase_add_test(sec, test_runtime_dir_owned_by_another_user_is_eacces);
	suite_add_tcase(s, sec);
	return s;
}

int main(void)
{
	return tu_run_suite(handshake_suite());
}
