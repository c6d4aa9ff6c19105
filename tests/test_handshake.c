/* test_handshake.c — the publisher against hostile or broken clients on its
 * socket (truncated, wrong magic/version/size, stray fds, oversize, silent),
 * the seals on what it hands out, who may subscribe (uid, group), and the
 * reason a refusal gives (vdds_last_error_detail). */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "introspect.h"
#include "layout.h"
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

/* What the publisher answered: the REJECT errno and its reason in why (if
 * not NULL), 0 for WELCOME (its fds in fds[]), or -1 if it just hung up. */
static int answer_why(int fd, int fds[VDDS__WELCOME_FDS], char why[VDDS__REASON_MAX])
{
	union vdds__msg m;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int nfds;

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	int len = vdds__msg_recv(fd, &m, fds, VDDS__WELCOME_FDS, &nfds, 0);

	if (len <= 0)
		return -1;
	int kind = vdds__msg_parse(&m, (size_t)len);

	if (kind == VDDS__MSG_REJECT) {
		if (why)
			memcpy(why, m.reject.reason, VDDS__REASON_MAX);
		return m.reject.err;
	}
	ck_assert_int_eq(kind, VDDS__MSG_WELCOME);
	ck_assert_int_eq(nfds, VDDS__WELCOME_FDS);
	return 0;
}

static int answer(int fd, int fds[VDDS__WELCOME_FDS])
{
	return answer_why(fd, fds, NULL);
}

/* The publisher still serves an honest subscriber end to end. */
static void honest_subscriber_works(vdds_pub *pub, const char *topic)
{
	vdds_sub *sub;
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_open(&sub, topic, NULL), 0);
	ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
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
	int fds[VDDS__WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0, 0);
	int fd = tu_raw_connect("trunc");

	ck_assert_int_ge(fd, 0);
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
	int fds[VDDS__WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0, 0);
	h.hdr.magic ^= 1;
	int fd = tu_raw_connect("magic");

	ck_assert_int_ge(fd, 0);
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
	int fds[VDDS__WELCOME_FDS];

	char why[VDDS__REASON_MAX], want[VDDS__REASON_MAX];

	vdds__msg_hello(&h, NULL, 0, 0);
	h.hdr.version = VDDS__PROTO_VERSION + 1;
	int fd = tu_raw_connect("version");

	ck_assert_int_ge(fd, 0);
	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer_why(fd, fds, why), EPROTO);
	/* the subscriber's expectation, then what the publisher speaks */
	snprintf(want, sizeof(want), "protocol version %u expected, publisher speaks %u",
		 VDDS__PROTO_VERSION + 1, VDDS__PROTO_VERSION);
	ck_assert_str_eq(why, want);
	close(fd);
	honest_subscriber_works(pub, "version");
	vdds_pub_close(pub);
}
END_TEST

/* Layout 3 (marked ring entries) cannot be read by a peer of layout 2: a
 * version 2 subscriber is refused before any memory is handed over. */
START_TEST(test_a_v2_subscriber_is_refused_with_eproto_and_a_reason)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("v2sub");
	struct vdds__msg_hello h;
	int fds[VDDS__WELCOME_FDS];
	char why[VDDS__REASON_MAX];

	ck_assert_uint_eq(VDDS__PROTO_VERSION, 3);
	ck_assert_uint_eq(VDDS__LAYOUT_VERSION, 3);
	vdds__msg_hello(&h, NULL, 0, 0);
	h.hdr.version = 2;
	int fd = tu_raw_connect("v2sub");

	ck_assert_int_ge(fd, 0);
	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer_why(fd, fds, why), EPROTO);
	ck_assert_str_eq(why, "protocol version 2 expected, publisher speaks 3");
	close(fd);
	honest_subscriber_works(pub, "v2sub");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_wrong_sizes_are_rejected)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("sizes");
	struct vdds__msg_hello h;
	char longer[sizeof(h) + 16];
	int fds[VDDS__WELCOME_FDS];

	/* the size field disagrees with the datagram */
	vdds__msg_hello(&h, NULL, 0, 0);
	h.hdr.size = sizeof(h) + 16;
	int fd = tu_raw_connect("sizes");

	ck_assert_int_ge(fd, 0);
	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	/* a longer datagram that claims it */
	vdds__msg_hello(&h, NULL, 0, 0);
	memset(longer, 0, sizeof(longer));
	h.hdr.size = sizeof(longer);
	memcpy(longer, &h, sizeof(h));
	fd = tu_raw_connect("sizes");
	ck_assert_int_ge(fd, 0);
	send_raw(fd, longer, sizeof(longer), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EBADMSG);
	close(fd);
	/* an unterminated type name */
	vdds__msg_hello(&h, NULL, 0, 0);
	memset(h.type_name, 'x', sizeof(h.type_name));
	fd = tu_raw_connect("sizes");
	ck_assert_int_ge(fd, 0);
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
	int fds[VDDS__WELCOME_FDS];
	int pipefd[2];

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	vdds__msg_hello(&h, NULL, 0, 0);
	int fd = tu_raw_connect("fds");

	ck_assert_int_ge(fd, 0);
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
	int fds[VDDS__WELCOME_FDS];
	int fd = tu_raw_connect("huge");
	int sndbuf = (int)size * 2;

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(big);
	vdds__msg_hello((struct vdds__msg_hello *)big, NULL, 0, 0);
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
	int fd = tu_raw_connect("silent");
	int fds[VDDS__WELCOME_FDS];

	ck_assert_int_ge(fd, 0);
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

	vdds__msg_hello(&h, NULL, 0, 0);
	for (int i = 0; i < 50; i++) {
		int fd = tu_raw_connect("hangup");

		ck_assert_int_ge(fd, 0);
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
	int fds[VDDS__WELCOME_FDS];

	vdds__msg_hello(&h, NULL, 0, 0);
	int fd = tu_raw_connect("seals");

	ck_assert_int_ge(fd, 0);
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
	for (int i = 0; i < VDDS__WELCOME_FDS; i++)
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
	ck_assert_int_eq(vdds_pub_set_note(pub, "a note\nwith a newline"), 0);
	ck_assert_int_eq(vdds__introspect(getenv("VDDS_DIR"), "intro", &info, 5000), 0);
	ck_assert_str_eq(info.note, "a note?with a newline");
	ck_assert_int_eq(info.pid, getpid());
	ck_assert_uint_eq(info.uid, geteuid());
	ck_assert_uint_eq(info.slot_count, 8);
	ck_assert_uint_eq(info.slot_size, 128);
	ck_assert_str_eq(info.type_name, "pose");
	ck_assert_uint_eq(info.overflow, VDDS_OVERFLOW_BLOCK);
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

START_TEST(test_an_info_request_of_another_version_is_eproto)
{
	tu_private_rundir();
	vdds_pub *pub = pub_up("v1info");
	struct vdds__msg_info_req r;
	int fds[VDDS__WELCOME_FDS];

	/* version 1 had neither INFO_REQ nor this layout: EPROTO, as for HELLO */
	vdds__msg_info_req(&r);
	r.hdr.version = 1;
	int fd = tu_raw_connect("v1info");

	send_raw(fd, &r, sizeof(r), NULL, 0);
	ck_assert_int_eq(answer(fd, fds), EPROTO);
	close(fd);
	/* and so is a version this build does not speak yet */
	vdds__msg_info_req(&r);
	r.hdr.version = VDDS__PROTO_VERSION + 1;
	fd = tu_raw_connect("v1info");
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
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(3)), VDDS__MSG_INFO);
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(2)), -EBADMSG);
	m.info.n_subs = 2; /* disagrees with hdr.size */
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(3)), -EBADMSG);
	vdds__msg_info_init(&m.info, VDDS_MAX_SUBSCRIBERS);
	ck_assert_int_eq(vdds__msg_parse(&m, sizeof(m.info)), VDDS__MSG_INFO);
	m.info.n_subs = VDDS_MAX_SUBSCRIBERS + 1;
	ck_assert_int_eq(vdds__msg_parse(&m, sizeof(m.info)), -EBADMSG);
	vdds__msg_info_init(&m.info, 0);
	memset(m.info.type_name, 'x', sizeof(m.info.type_name));
	ck_assert_int_eq(vdds__msg_parse(&m, vdds__msg_info_size(0)), -EBADMSG);
	/* every message is sent at this build's version: the layout changed
	 * in 2, so an older peer must refuse rather than map what it cannot read */
	vdds__msg_hello(&m.hello, NULL, 0, 0);
	ck_assert_uint_eq(m.hdr.version, VDDS__PROTO_VERSION);
}
END_TEST

/* ------------------------------------------------------ refusal reasons */

/* A stand-in publisher on topic's socket: a child that answers the first
 * HELLO with msg and exits once the subscriber hangs up. */
static pid_t fake_publisher(const char *topic, const void *msg, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(lfd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", getenv("VDDS_DIR"), topic);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		char buf[VDDS__MSG_MAX];
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0 || recv(fd, buf, sizeof(buf), 0) <= 0)
			_exit(TU_CHILD_PIPE_FAILED);
		if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
			_exit(TU_CHILD_WRITE_FAILED);
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		_exit(TU_CHILD_OK);
	}
	close(lfd);
	return pid;
}

START_TEST(test_a_publisher_of_another_version_is_named_in_the_detail)
{
	tu_private_rundir();
	struct vdds__msg_reject r;
	char want[VDDS__REASON_MAX];
	vdds_sub *sub;

	/* what a newer publisher would answer: a REJECT we cannot parse */
	vdds__msg_reject(&r, VDDS__MSG_REJECT, EPROTO, "from the future");
	r.hdr.version = VDDS__PROTO_VERSION + 1;
	pid_t pid = fake_publisher("newer", &r, sizeof(r));

	ck_assert_int_eq(vdds_sub_open(&sub, "newer", NULL), -EPROTO);
	snprintf(want, sizeof(want), "protocol version %u expected, publisher speaks %u",
		 VDDS__PROTO_VERSION, VDDS__PROTO_VERSION + 1);
	ck_assert_str_eq(vdds_last_error_detail(), want);
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

START_TEST(test_a_v2_publisher_is_refused_with_eproto_and_a_reason)
{
	tu_private_rundir();
	struct vdds__msg_welcome w;
	vdds_sub *sub;

	/* what a version 2 publisher answers: a WELCOME at version 2 */
	memset(&w, 0, sizeof(w));
	w.hdr.magic = VDDS__PROTO_MAGIC;
	w.hdr.version = 2;
	w.hdr.kind = VDDS__MSG_WELCOME;
	w.hdr.size = sizeof(w);
	pid_t pid = fake_publisher("v2pub", &w, sizeof(w));

	ck_assert_int_eq(vdds_sub_open(&sub, "v2pub", NULL), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "protocol version 3 expected, publisher speaks 2");
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

START_TEST(test_a_type_mismatch_names_both_types)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 4, .type_name = "Twist", .type_size = 48 };
	struct vdds_sub_opts want = { .type_name = "Pose", .type_size = 24 };
	char why[VDDS__REASON_MAX];
	struct vdds__msg_hello h;
	int fds[VDDS__WELCOME_FDS];
	vdds_pub *pub;
	vdds_sub *sub;

	ck_assert_int_eq(vdds_pub_open(&pub, "typed", &o), 0);
	/* on the wire */
	vdds__msg_hello(&h, "Pose", 24, 0);
	int fd = tu_raw_connect("typed");

	ck_assert_int_ge(fd, 0);
	send_raw(fd, &h, sizeof(h), NULL, 0);
	ck_assert_int_eq(answer_why(fd, fds, why), EPROTO);
	ck_assert_str_eq(why, "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)");
	close(fd);
	/* through the API */
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &want), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)");
	/* a subscriber naming only one of the two */
	want.type_name = NULL;
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &want), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type of any name (24 B) expected, publisher has 'Twist' (48 B)");
	want.type_name = "Pose";
	want.type_size = 0;
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &want), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (any size) expected, publisher has 'Twist' (48 B)");
	vdds_pub_close(pub);
	/* a publisher that declared nothing */
	ck_assert_int_eq(vdds_pub_open(&pub, "typed", NULL), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "typed", &want), -EPROTO);
	ck_assert_str_eq(vdds_last_error_detail(),
			 "type 'Pose' (any size) expected, publisher has no type name (no size)");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_a_reason_too_long_for_a_reject_is_cut_short)
{
	tu_private_rundir();
	char mine[VDDS_TYPE_NAME_MAX + 1], theirs[VDDS_TYPE_NAME_MAX + 1], full[512];
	vdds_pub *pub;
	vdds_sub *sub;

	memset(mine, 'm', VDDS_TYPE_NAME_MAX);
	mine[VDDS_TYPE_NAME_MAX] = '\0';
	memset(theirs, 't', VDDS_TYPE_NAME_MAX);
	theirs[VDDS_TYPE_NAME_MAX] = '\0';
	struct vdds_pub_opts o = { .slot_count = 4, .type_name = theirs, .type_size = 4000000000u };
	struct vdds_sub_opts want = { .type_name = mine, .type_size = 3999999999u };

	ck_assert_int_eq(vdds_pub_open(&pub, "long", &o), 0);
	ck_assert_int_eq(vdds_sub_open(&sub, "long", &want), -EPROTO);
	snprintf(full, sizeof(full),
		 "type '%s' (3999999999 B) expected, publisher has '%s' (4000000000 B)", mine,
		 theirs);
	/* the first VDDS__REASON_MAX - 1 bytes of the whole text */
	ck_assert_uint_eq(strlen(vdds_last_error_detail()), VDDS__REASON_MAX - 1);
	ck_assert_int_eq(strncmp(vdds_last_error_detail(), full, VDDS__REASON_MAX - 1), 0);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_a_reason_with_control_characters_is_cleaned)
{
	tu_private_rundir();
	struct vdds__msg_reject r;
	vdds_sub *sub;

	vdds__msg_reject(&r, VDDS__MSG_REJECT, EACCES, "\033[2Jgo away\n\177");
	pid_t pid = fake_publisher("rude", &r, sizeof(r));

	ck_assert_int_eq(vdds_sub_open(&sub, "rude", NULL), -EACCES);
	ck_assert_str_eq(vdds_last_error_detail(), "?[2Jgo away??");
	tu_assert_exit(pid, TU_CHILD_OK);
}
END_TEST

START_TEST(test_a_full_publisher_says_so)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 4, .max_subscribers = 1 };
	vdds_pub *pub;
	vdds_sub *first, *second;

	ck_assert_int_eq(vdds_pub_open(&pub, "full", &o), 0);
	ck_assert_int_eq(vdds_sub_open(&first, "full", NULL), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	ck_assert_int_eq(vdds_sub_open(&second, "full", NULL), -ENOSPC);
	ck_assert_str_eq(vdds_last_error_detail(), "subscriber limit reached");
	vdds_sub_close(first);
	vdds_pub_close(pub);
}
END_TEST

static void *refused_here(void *topic)
{
	struct vdds_sub_opts want = { .type_size = 1 };
	vdds_sub *sub;

	return vdds_sub_open(&sub, topic, &want) == -EPROTO ? strdup(vdds_last_error_detail())
							    : NULL;
}

START_TEST(test_the_detail_belongs_to_the_refused_thread_until_its_next_handshake)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_count = 4, .type_size = 2 };
	vdds_pub *pub;
	vdds_sub *sub;
	pthread_t th;
	void *theirs;

	ck_assert_int_eq(vdds_pub_open(&pub, "mine", &o), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, refused_here, "mine"), 0);
	ck_assert_int_eq(pthread_join(th, &theirs), 0);
	ck_assert_ptr_nonnull(theirs);
	ck_assert_str_eq(theirs,
			 "type of any name (1 B) expected, publisher has no type name (2 B)");
	free(theirs);
	/* the other thread's refusal is not this thread's */
	ck_assert_str_eq(vdds_last_error_detail(), "");
	struct vdds_sub_opts wrong = { .type_size = 3 };

	ck_assert_int_eq(vdds_sub_open(&sub, "mine", &wrong), -EPROTO);
	ck_assert_str_ne(vdds_last_error_detail(), "");
	/* the next handshake starts afresh: no publisher, no reason */
	ck_assert_int_eq(vdds_sub_open(&sub, "nobody", NULL), -ENOENT);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	ck_assert_int_eq(vdds_sub_open(&sub, "mine", &wrong), -EPROTO);
	ck_assert_int_eq(vdds_sub_open(&sub, "mine", NULL), 0);
	ck_assert_str_eq(vdds_last_error_detail(), "");
	vdds_sub_close(sub);
	vdds_pub_close(pub);
}
END_TEST

/* ------------------------------------------------------------ security */

/* Run fn as uid nobody with group gid in a child, publishing on pub (if
 * any) until it is done; returns its exit code. */
static int as_nobody(int (*fn)(void), gid_t gid, vdds_pub *pub)
{
	pid_t pid = tu_fork_child();

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(NOBODY) < 0)
			_exit(TU_CHILD_SETUP_FAILED);
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

/* The publisher refused us for who we are, and said so. */
static int subscribe_and_report_refusal(void)
{
	vdds_sub *sub;

	if (vdds_sub_open(&sub, "secure", NULL) != -EACCES)
		return TU_CHILD_WRONG_RESULT;
	return strcmp(vdds_last_error_detail(), "user not allowed") == 0 ? TU_CHILD_OK
									 : TU_CHILD_REPORTED;
}

static int introspect_and_report(void)
{
	struct vdds__msg_info info;

	return -vdds__introspect(getenv("VDDS_DIR"), "secure", &info, 5000);
}

START_TEST(test_another_uid_is_eacces)
{
	if (geteuid() != 0) {
		tu_skip("needs root to subscribe as uid nobody");
		return;
	}
	shared_rundir();
	vdds_pub *pub = pub_up("secure");

	ck_assert_int_eq(as_nobody(subscribe_and_report, NOBODY, pub), EACCES);
	/* even if the socket file lets it connect, SO_PEERCRED refuses it */
	char path[128];

	snprintf(path, sizeof(path), "%s/secure.sock", getenv("VDDS_DIR"));
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(as_nobody(subscribe_and_report_refusal, NOBODY, pub), TU_CHILD_OK);
	/* introspection is refused the same way */
	ck_assert_int_eq(as_nobody(introspect_and_report, NOBODY, pub), EACCES);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_group_access_admits_that_group_only)
{
	if (geteuid() != 0) {
		tu_skip("needs root to subscribe as uid nobody");
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
		tu_skip("needs root to give the runtime directory to nobody");
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
	TCase *why = tcase_create("reasons");
	TCase *sec = tcase_create("security");

	tcase_set_timeout(bad, 30);
	tcase_add_test(bad, test_truncated_hello_is_rejected);
	tcase_add_test(bad, test_wrong_magic_is_rejected);
	tcase_add_test(bad, test_wrong_version_is_eproto);
	tcase_add_test(bad, test_a_v2_subscriber_is_refused_with_eproto_and_a_reason);
	tcase_add_test(bad, test_wrong_sizes_are_rejected);
	tcase_add_test(bad, test_hello_with_fds_is_rejected_and_the_fds_closed);
	tcase_add_test(bad, test_megabyte_message_is_rejected);
	tcase_add_test(bad, test_silent_client_is_hung_up_and_others_are_served);
	tcase_add_test(bad, test_client_hanging_up_mid_handshake_leaks_nothing);
	tcase_add_test(bad, test_subscribers_cannot_resize_or_write_the_segments);
	suite_add_tcase(s, bad);

	tcase_set_timeout(why, 30);
	tcase_add_test(why, test_a_publisher_of_another_version_is_named_in_the_detail);
	tcase_add_test(why, test_a_v2_publisher_is_refused_with_eproto_and_a_reason);
	tcase_add_test(why, test_a_type_mismatch_names_both_types);
	tcase_add_test(why, test_a_reason_too_long_for_a_reject_is_cut_short);
	tcase_add_test(why, test_a_reason_with_control_characters_is_cleaned);
	tcase_add_test(why, test_a_full_publisher_says_so);
	tcase_add_test(why, test_the_detail_belongs_to_the_refused_thread_until_its_next_handshake);
	suite_add_tcase(s, why);

	tcase_set_timeout(sec, 30);
	tcase_add_test(sec, test_another_uid_is_eacces);
	tcase_add_test(sec, test_group_access_admits_that_group_only);
	tcase_add_test(sec, test_runtime_dir_owned_by_another_user_is_eacces);
	suite_add_tcase(s, sec);
	TCase *intro = tcase_create("introspection");

	tcase_set_timeout(intro, 30);
	tcase_add_test(intro, test_info_reports_layout_stats_and_each_subscriber);
	tcase_add_test(intro, test_an_info_request_of_another_version_is_eproto);
	tcase_add_test(intro, test_parser_checks_info_size_against_its_subscriber_count);
	suite_add_tcase(s, intro);
	return s;
}

int main(void)
{
	return tu_run_suite(handshake_suite());
}
