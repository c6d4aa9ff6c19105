/* test_hostile.c — a subscriber that breaks the lane protocol: it does the
 * handshake itself, maps its lane read-write and writes whatever it likes
 * there. The publisher (in this process, so the sanitizers watch it) must cut
 * it off with BYE/EBADMSG, never crash or touch memory out of bounds, and keep
 * serving its honest subscribers every sample in order. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "layout.h"
#include "proto.h"
#include "testutil.h"

#define TOPIC "hostile"
#define LOAN_TIMEOUT_MS 2000
#define SCRIBBLE_NS (5ull * 1000000000ull)
#define SEC_NS 1000000000ull

/* What the children report, in one anonymous shared mapping. */
struct report {
	_Atomic uint32_t joined;     /* honest subscribers that are in */
	_Atomic uint64_t checked[2]; /* samples each honest subscriber verified */
	_Atomic uint64_t first_seq[2], last_seq[2];
	/* the hostile side */
	_Atomic uint32_t connections, cutoffs, anomalies;
	_Atomic uint64_t scribbles;
	_Atomic int last_anomaly;
};

static struct report *report_new(void)
{
	struct report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	return r;
}

/* -------------------------------------------------------- honest subscriber */

/* Subscribe with the real API; expect seq 1, 2, ... with intact payloads up
 * to the end mark; exit 0 then. With drops_ok (DROP_OLDEST), seq may jump,
 * but only by exactly what vdds_sub_stats() says was lost. */
static pid_t spawn_honest(struct report *rep, int idx, int drops_ok)
{
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid != 0)
		return pid;
	vdds_sub *sub;
	struct vdds_sample s;
	uint64_t next = 1, gaps = 0;
	int err;

	if (vdds_sub_open(&sub, TOPIC, NULL) != 0)
		_exit(TU_CHILD_OPEN_FAILED);
	atomic_fetch_add(&rep->joined, 1);
	for (;;) {
		err = vdds_sub_wait(sub, 1000);
		if (err == -ETIMEDOUT)
			continue;
		if (err != 0)
			_exit(TU_CHILD_WAIT_FAILED);
		while ((err = vdds_sub_take(sub, &s)) == 0) {
			if (next == 1)
				atomic_store(&rep->first_seq[idx], s.seq);
			atomic_store(&rep->last_seq[idx], s.seq);
			if (s.seq != next && !(drops_ok && s.seq > next))
				_exit(TU_CHILD_GAP);
			if (s.seq != next) {
				struct vdds_sub_stats st;

				gaps += s.seq - next;
				next = s.seq;
				if (vdds_sub_stats(sub, &st) != 0 || st.lost != gaps)
					_exit(TU_CHILD_GAP);
			}
			if (!tu_payload_ok(&s))
				_exit(TU_CHILD_BAD_PAYLOAD);
			next++;
			atomic_fetch_add_explicit(&rep->checked[idx], 1, memory_order_relaxed);
			int end = ((const struct tu_payload *)s.data)->end != 0;

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

/* ------------------------------------------- the raw (hostile) subscriber */

/* A subscriber that speaks the protocol itself, so that it holds its lane
 * mapped read-write and can write anything into it. */
struct raw_sub {
	int sock, data_efd;
	const struct vdds__topic_hdr *topic;
	size_t topic_size;
	struct vdds__lane_hdr *lane;
	size_t lane_size;
	uint32_t ring_size, slot_count;
	uint32_t cons, rel_prod; /* our own indices, as an honest peer keeps them */
};

/* What went wrong for a raw subscriber: negative from its helpers, its exit
 * code as a child. */
enum raw_err {
	RAW_CONNECT = TU_CHILD_SUITE,
	RAW_NO_WELCOME,
	RAW_MAP,
	RAW_BAD_LANE,
	RAW_TOPIC_WRITABLE, /* a seal did not hold */
	RAW_LANE_RESIZABLE,
	RAW_NO_BYE, /* not cut off in time */
	RAW_WRONG_BYE,
	RAW_NO_EOF,
	RAW_NO_SAMPLE,
	RAW_PIPE,
	RAW_STILL_CONNECTED, /* never cut off */
};

/* Before using what WELCOME gave: the topic must stay read-only whatever we
 * try, and neither segment may change size. */
static int probe_seals(int topic_fd, int lane_fd, size_t topic_size, void *topic_map)
{
	char byte = 0;

	if (mmap(NULL, topic_size, PROT_READ | PROT_WRITE, MAP_SHARED, topic_fd, 0) != MAP_FAILED ||
	    errno != EPERM)
		return -RAW_TOPIC_WRITABLE;
	if (mprotect(topic_map, topic_size, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		return -RAW_TOPIC_WRITABLE;
	if (pwrite(topic_fd, &byte, 1, 0) >= 0 || errno != EPERM)
		return -RAW_TOPIC_WRITABLE;
	if (ftruncate(topic_fd, 0) == 0 || ftruncate(lane_fd, 0) == 0 ||
	    ftruncate(lane_fd, 1 << 20) == 0 || fallocate(lane_fd, 0, 0, 1 << 20) == 0)
		return -RAW_LANE_RESIZABLE;
	return 0;
}

static int raw_open(struct raw_sub *rs, int probe)
{
	struct vdds__msg_hello hello;
	union vdds__msg m;
	int fds[VDDS__WELCOME_FDS], nfds, err = 0;

	memset(rs, 0, sizeof(*rs));
	rs->sock = tu_raw_connect(TOPIC);
	if (rs->sock < 0)
		return -RAW_CONNECT;
	vdds__msg_hello(&hello, NULL, 0, 0);
	struct pollfd pfd = { .fd = rs->sock, .events = POLLIN };

	if (vdds__msg_send(rs->sock, &hello, sizeof(hello), NULL, 0) < 0 ||
	    poll(&pfd, 1, 5000) != 1) {
		close(rs->sock);
		return -RAW_NO_WELCOME;
	}
	int len = vdds__msg_recv(rs->sock, &m, fds, VDDS__WELCOME_FDS, &nfds, 0);

	if (len <= 0 || vdds__msg_parse(&m, (size_t)len) != VDDS__MSG_WELCOME ||
	    nfds != VDDS__WELCOME_FDS) {
		for (int i = 0; len > 0 && i < nfds; i++)
			close(fds[i]);
		close(rs->sock);
		return -RAW_NO_WELCOME;
	}
	rs->topic_size = m.welcome.topic_size;
	rs->lane_size = m.welcome.lane_size;
	void *t = mmap(NULL, rs->topic_size, PROT_READ, MAP_SHARED, fds[0], 0);
	void *l = mmap(NULL, rs->lane_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);

	if (t == MAP_FAILED || l == MAP_FAILED)
		err = -RAW_MAP;
	if (!err && probe)
		err = probe_seals(fds[0], fds[1], rs->topic_size, t);
	close(fds[0]);
	close(fds[1]);
	rs->data_efd = fds[2];
	rs->topic = t == MAP_FAILED ? NULL : t;
	rs->lane = l == MAP_FAILED ? NULL : l;
	if (!err) {
		rs->ring_size = rs->lane->ring_size;
		rs->slot_count = rs->topic->slot_count;
		if (rs->ring_size < rs->slot_count || (rs->ring_size & (rs->ring_size - 1)) ||
		    vdds__lane_size(rs->ring_size) != rs->lane_size)
			err = -RAW_BAD_LANE;
	}
	if (err) {
		if (rs->topic)
			munmap((void *)rs->topic, rs->topic_size);
		if (rs->lane)
			munmap(rs->lane, rs->lane_size);
		close(rs->data_efd);
		close(rs->sock);
	}
	return err;
}

static void raw_close(struct raw_sub *rs)
{
	munmap((void *)rs->topic, rs->topic_size);
	munmap(rs->lane, rs->lane_size);
	close(rs->data_efd);
	close(rs->sock);
}

/* Take the next delivered slot id the honest way (its entry's mark says it
 * is there): 0, or -EAGAIN. */
static int raw_take(struct raw_sub *rs, uint32_t *id, int publish_cons)
{
	struct vdds__dentry *e = &vdds__lane_deliver(rs->lane)[rs->cons & (rs->ring_size - 1)];

	if (atomic_load_explicit(&e->mark, memory_order_acquire) != rs->cons + 1)
		return -EAGAIN;
	*id = atomic_load_explicit(&e->slot, memory_order_relaxed);
	rs->cons++;
	if (publish_cons)
		atomic_store_explicit(&rs->lane->deliver_cons, rs->cons, memory_order_release);
	return 0;
}

static void raw_wake_publisher(struct raw_sub *rs)
{
	struct vdds__msg_wake m;

	vdds__msg_wake(&m);
	if (vdds__msg_send(rs->sock, &m, sizeof(m), NULL, 0) < 0) {
		/* the socket is full: a WAKE is queued anyway */
	}
}

/* Put ids into the release ring, each marked with its position, and make
 * the publisher look, as an honest subscriber would (or not so honestly: the
 * caller picks the ids, and mark_lap moves every mark that many laps). */
static void raw_release_marked(struct raw_sub *rs, const uint32_t *ids, uint32_t n,
			       uint32_t mark_lap)
{
	_Atomic uint64_t *rel = vdds__lane_release(rs->lane, rs->ring_size);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t mark = rs->rel_prod + i + 1 + mark_lap * rs->ring_size;

		atomic_store_explicit(&rel[(rs->rel_prod + i) & (rs->ring_size - 1)],
				      (uint64_t)mark << 32 | ids[i], memory_order_release);
	}
	rs->rel_prod += n;
	atomic_store_explicit(&rs->lane->release_prod, rs->rel_prod, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_exchange(&rs->lane->pub_wait, 0) != 0)
		raw_wake_publisher(rs);
}

static void raw_release_n(struct raw_sub *rs, const uint32_t *ids, uint32_t n)
{
	raw_release_marked(rs, ids, n, 0);
}

static void raw_release(struct raw_sub *rs, uint32_t id)
{
	raw_release_n(rs, &id, 1);
}

/* After being cut off: exactly one BYE carrying EBADMSG, then end of file. */
static int raw_await_bye(struct raw_sub *rs, int timeout_ms)
{
	struct pollfd pfd = { .fd = rs->sock, .events = POLLIN };
	union vdds__msg m;
	int fds[1], nfds;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -RAW_NO_BYE;
	int len = vdds__msg_recv(rs->sock, &m, fds, 0, &nfds, MSG_DONTWAIT);

	if (len <= 0 || vdds__msg_parse(&m, (size_t)len) != VDDS__MSG_BYE ||
	    m.reject.err != EBADMSG)
		return -RAW_WRONG_BYE;
	if (poll(&pfd, 1, 5000) != 1 ||
	    vdds__msg_recv(rs->sock, &m, fds, 0, &nfds, MSG_DONTWAIT) != 0)
		return -RAW_NO_EOF;
	return 0;
}

static int readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* ----------------------------------------------------- random scribbling */

/* A value worth writing: anything, something small, or something close to
 * what is there (the edges are where bounds checks go wrong). */
static uint32_t nasty_u32(uint64_t *rnd, uint32_t near, uint32_t ring_size)
{
	uint64_t r = tu_xorshift(rnd);

	switch (r % 4) {
	case 0: return (uint32_t)(r >> 32);
	case 1: return (uint32_t)((r >> 32) % (2 * ring_size + 2));
	case 2: return near + (uint32_t)((r >> 32) % (2 * ring_size + 2)) - ring_size - 1;
	default: return (r >> 32) & 1 ? UINT32_MAX - (uint32_t)((r >> 40) % 4) : near + 1;
	}
}

/* One random write somewhere the subscriber can write. */
static void scribble_once(struct raw_sub *rs, uint64_t *rnd)
{
	struct vdds__lane_hdr *l = rs->lane;
	uint32_t ring = rs->ring_size;
	uint64_t r = tu_xorshift(rnd);
	uint32_t k = (uint32_t)(r >> 16) & (ring - 1);
	uint32_t v;

	switch (r % 12) {
	case 0:
		v = nasty_u32(rnd, atomic_load(&l->deliver_prod), ring);
		atomic_store_explicit(&l->deliver_cons, v, memory_order_release);
		break;
	case 1:
		v = nasty_u32(rnd, rs->rel_prod, ring);
		atomic_store_explicit(&l->release_prod, v, memory_order_release);
		break;
	case 2: atomic_store_explicit(&l->wake_gen, tu_xorshift(rnd), memory_order_relaxed); break;
	case 3: atomic_store(&l->pub_wait, nasty_u32(rnd, 1, ring)); break;
	case 4: /* a release entry: its mark near where we are, any id */
		v = nasty_u32(rnd, rs->rel_prod, ring);
		atomic_store(&vdds__lane_release(l, ring)[k],
			     (uint64_t)v << 32 | nasty_u32(rnd, rs->slot_count, rs->slot_count));
		break;
	case 5: /* the publisher's deliver entries: it must never read them back */
		if (r & (1ull << 40))
			vdds__lane_deliver(l)[k].slot = nasty_u32(rnd, rs->slot_count, ring);
		else
			atomic_store(&vdds__lane_deliver(l)[k].mark,
				     nasty_u32(rnd, rs->cons, ring));
		break;
	case 6: /* the publisher's own indices: it must never read them back */
		atomic_store(&l->deliver_prod, nasty_u32(rnd, atomic_load(&l->deliver_prod), ring));
		break;
	case 7:
		atomic_store(&l->release_cons, nasty_u32(rnd, atomic_load(&l->release_cons), ring));
		break;
	case 8: /* the header the publisher wrote: magic, sizes, lane id */
		((volatile uint8_t *)l)[(r >> 16) % 64] = (uint8_t)(r >> 24);
		break;
	case 9: /* any byte of the 512-byte header, padding included */
		((volatile uint8_t *)l)[(r >> 16) % sizeof(*l)] = (uint8_t)(r >> 32);
		break;
	case 10: { /* a release that looks almost right: a plausible id, twice */
		uint32_t id = (uint32_t)(r >> 32) % rs->slot_count;
		uint32_t ids[2] = { id, id };

		raw_release_n(rs, ids, 2);
		break;
	}
	default: /* honest for a moment: take and give back */
		if (raw_take(rs, &v, 1) == 0)
			raw_release(rs, v);
		break;
	}
}

/* The scribbler's exit codes, beside TU_CHILD_OK */
enum hostile_exit { HOSTILE_SEALS = RAW_STILL_CONNECTED + 1, HOSTILE_ANOMALY };

/* For SCRIBBLE_NS: connect, write random values into the lane until cut off,
 * check the BYE, connect again. */
static pid_t spawn_scribbler(struct report *rep)
{
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid != 0)
		return pid;
	uint64_t rnd = tu_now_ns() ^ ((uint64_t)getpid() << 32);
	uint64_t end = tu_now_ns() + SCRIBBLE_NS;
	struct raw_sub rs;
	int first = 1;

	while (tu_now_ns() < end) {
		int err = raw_open(&rs, first);

		if (first && (err == -RAW_TOPIC_WRITABLE || err == -RAW_LANE_RESIZABLE))
			_exit(HOSTILE_SEALS);
		first = 0;
		if (err < 0) {
			atomic_fetch_add(&rep->anomalies, 1);
			atomic_store(&rep->last_anomaly, -err);
			tu_sleep_us(1000);
			continue;
		}
		atomic_fetch_add(&rep->connections, 1);
		uint64_t give_up = tu_now_ns() + TU_AWAIT_NS;

		for (uint64_t i = 0;; i++) {
			scribble_once(&rs, &rnd);
			atomic_fetch_add_explicit(&rep->scribbles, 1, memory_order_relaxed);
			if (i % 16 == 0 && readable(rs.sock))
				break;
			if (i % 64 == 0)
				raw_wake_publisher(&rs); /* a sleeping publisher looks */
			if (i % 1024 == 0 && tu_now_ns() > give_up) {
				err = -RAW_STILL_CONNECTED;
				break;
			}
		}
		if (err == 0)
			err = raw_await_bye(&rs, 5000);
		if (err == 0) {
			atomic_fetch_add(&rep->cutoffs, 1);
		} else {
			atomic_fetch_add(&rep->anomalies, 1);
			atomic_store(&rep->last_anomaly, -err);
		}
		raw_close(&rs);
	}
	_exit(atomic_load(&rep->anomalies) ? HOSTILE_ANOMALY : TU_CHILD_OK);
}

/* ---------------------------------------------------------- test helpers */

static struct vdds_pub_stats stats_of(vdds_pub *pub)
{
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	return st;
}

static void await_honest_joined(struct report *rep, uint32_t n)
{
	for (uint64_t t0 = tu_now_ns(); atomic_load(&rep->joined) < n;) {
		if (tu_now_ns() - t0 > TU_AWAIT_NS)
			break;
		tu_sleep_us(1000);
	}
	ck_assert_uint_eq(atomic_load(&rep->joined), n);
}

/* Publish one sample numbered seq (the publisher's own count). */
static void publish_seq(vdds_pub *pub, uint64_t seq, int end, uint64_t *max_wait_ns)
{
	void *buf;
	uint64_t t0 = tu_now_ns();

	ck_assert_int_eq(vdds_pub_loan(pub, &buf, LOAN_TIMEOUT_MS), 0);
	uint64_t waited = tu_now_ns() - t0;

	if (max_wait_ns && waited > *max_wait_ns)
		*max_wait_ns = waited;
	tu_payload_fill(buf, seq, end);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, sizeof(struct tu_payload)), 0);
}

/* Reap a child that ends by itself; its exit status (1000 + signal if one
 * killed it, -1 if it hung and was killed). */
static int reap_within(pid_t pid, uint64_t timeout_ns)
{
	int status = tu_reap_within(pid, timeout_ns);

	if (status < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/* -------------------------------------------------------- random hostility */

START_TEST(test_scribbling_subscriber_is_cut_off_while_honest_ones_get_every_sample)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload), .slot_count = 16 };
	struct report *rep = report_new();
	vdds_pub *pub;
	pid_t honest[2];
	uint64_t seq = 0, max_wait = 0;

	tu_private_rundir();
	int fds_before = tu_count_fds();

	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	for (int i = 0; i < 2; i++)
		honest[i] = spawn_honest(rep, i, 0);
	await_honest_joined(rep, 2);
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	pid_t hostile = spawn_scribbler(rep);
	uint64_t t0 = tu_now_ns();
	int status = -1;

	/* stream until the scribbler is done; stats now and then makes the
	 * publisher look at the release rings even while slots are free */
	while (tu_now_ns() - t0 < 60 * SEC_NS) {
		publish_seq(pub, ++seq, 0, &max_wait);
		if (seq % 64 == 0)
			stats_of(pub);
		if (seq % 256 == 0 && waitpid(hostile, &status, WNOHANG) == hostile)
			break;
	}
	publish_seq(pub, ++seq, 1, &max_wait);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_OK,
		      "scribbler: status 0x%x, %u anomalies, last %d", status,
		      atomic_load(&rep->anomalies), atomic_load(&rep->last_anomaly));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(reap_within(honest[i], 20 * SEC_NS), TU_CHILD_OK);
	struct vdds_pub_stats st;

	ck_assert_int_eq(tu_await_quiet(pub, &st), 0);
	uint32_t cutoffs = atomic_load(&rep->cutoffs);

	printf("hostile: %u connections, %u cut off (BYE/EBADMSG then EOF), %llu random "
	       "writes; honest subscribers checked %llu and %llu of %llu samples; "
	       "max loan wait %.3f ms\n",
	       atomic_load(&rep->connections), cutoffs,
	       (unsigned long long)atomic_load(&rep->scribbles),
	       (unsigned long long)atomic_load(&rep->checked[0]),
	       (unsigned long long)atomic_load(&rep->checked[1]), (unsigned long long)seq,
	       max_wait / 1e6);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(atomic_load(&rep->checked[i]), seq);
		ck_assert_uint_eq(atomic_load(&rep->last_seq[i]), seq);
	}
	ck_assert_uint_eq(atomic_load(&rep->connections), cutoffs);
	ck_assert_uint_ge(cutoffs, 10);
	ck_assert_uint_eq(st.kicked, cutoffs);
	ck_assert_uint_eq(st.disconnects, cutoffs + 2);
	ck_assert_uint_eq(st.loaned_slots, 0);
	ck_assert_uint_eq(st.published, seq);
	vdds_pub_close(pub);
	ck_assert_int_eq(tu_count_fds(), fds_before);
	munmap(rep, sizeof(*rep));
}
END_TEST

/* ------------------------------------------------------- flooding WAKEs */

/* A raw subscriber that takes and releases every sample honestly but sends
 * WAKE after WAKE, as fast as its socket takes them, until the publisher
 * hangs up: exit 0 then, or RAW_WRONG_BYE if it was cut off instead. */
static pid_t spawn_waker(struct report *rep)
{
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid != 0)
		return pid;
	struct raw_sub rs;
	int err = raw_open(&rs, 0);
	uint32_t id;

	if (err < 0)
		_exit(-err);
	atomic_fetch_add(&rep->connections, 1);
	for (uint64_t t0 = tu_now_ns(); tu_now_ns() - t0 < 60 * SEC_NS;) {
		for (int i = 0; i < 16; i++)
			raw_wake_publisher(&rs);
		atomic_fetch_add_explicit(&rep->scribbles, 16, memory_order_relaxed);
		while (raw_take(&rs, &id, 1) == 0)
			raw_release(&rs, id);
		tu_sleep_us(20); /* a flood, not a spin: CI's CPUs are shared */
		if (readable(rs.sock)) {
			union vdds__msg m;
			int nfds, len = vdds__msg_recv(rs.sock, &m, NULL, 0, &nfds, MSG_DONTWAIT);

			/* the publisher closed: EOF, or ECONNRESET for our WAKEs it
			 * never read */
			_exit(len == 0 || len == -ECONNRESET ? TU_CHILD_OK : RAW_WRONG_BYE);
		}
	}
	_exit(RAW_STILL_CONNECTED);
}

START_TEST(test_a_subscriber_flooding_wakes_costs_only_rechecks)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload), .slot_count = 8 };
	struct report *rep = report_new();
	uint64_t max_wait = 0;
	vdds_pub *pub;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	pid_t honest = spawn_honest(rep, 0, 0);

	await_honest_joined(rep, 1);
	pid_t waker = spawn_waker(rep);

	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	/* BLOCK with 8 slots: loans wait, and are woken by both */
	for (uint64_t seq = 1; seq <= 2000; seq++)
		publish_seq(pub, seq, seq == 2000, &max_wait);
	ck_assert_int_eq(reap_within(honest, 20 * SEC_NS), TU_CHILD_OK);
	struct vdds_pub_stats st = stats_of(pub);

	printf("WAKE flood: %llu sent; %llu loans waited, %.1f ms in all, max %.3f ms; "
	       "honest subscriber checked %llu\n",
	       (unsigned long long)atomic_load(&rep->scribbles), (unsigned long long)st.blocked,
	       st.blocked_ns / 1e6, max_wait / 1e6,
	       (unsigned long long)atomic_load(&rep->checked[0]));
	ck_assert_uint_eq(st.kicked, 0); /* a WAKE is no violation: still connected */
	vdds_pub_close(pub);
	ck_assert_int_eq(reap_within(waker, 20 * SEC_NS), TU_CHILD_OK);
}
END_TEST

/* ------------------------------------------- racing the DROP_OLDEST reclaim */

/* A raw subscriber under DROP_OLDEST that never releases (so the publisher
 * takes back from it first) and moves its deliver_cons at random: sometimes
 * forward like a taker, sometimes anywhere. Exit 0 once cut off. */
static pid_t spawn_reclaim_racer(struct report *rep)
{
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid != 0)
		return pid;
	struct raw_sub rs;
	uint64_t rnd = 0x5851f42d4c957f2dull ^ (uint64_t)getpid();
	int err = raw_open(&rs, 0);

	if (err < 0)
		_exit(-err);
	atomic_fetch_add(&rep->connections, 1);
	/* race the reclaim once the publisher delivers: it also checks
	 * deliver_cons when it collects returns, which stats() does */
	for (uint64_t t0 = tu_now_ns(); atomic_load(&rs.lane->deliver_prod) == 0;) {
		if (tu_now_ns() - t0 > 30 * SEC_NS)
			_exit(RAW_NO_SAMPLE);
		tu_sleep_us(100);
	}
	for (uint64_t t0 = tu_now_ns(); tu_now_ns() - t0 < 30 * SEC_NS;) {
		uint32_t c = atomic_load(&rs.lane->deliver_cons);

		if (tu_xorshift(&rnd) % 8 != 0)
			c = nasty_u32(&rnd, c, rs.ring_size);
		else
			c++; /* "take" one, with a plain store: not how DROP_OLDEST takes */
		atomic_store(&rs.lane->deliver_cons, c);
		atomic_fetch_add_explicit(&rep->scribbles, 1, memory_order_relaxed);
		if (readable(rs.sock)) {
			err = raw_await_bye(&rs, 5000);
			if (err < 0)
				_exit(-err);
			atomic_fetch_add(&rep->cutoffs, 1);
			raw_close(&rs);
			_exit(TU_CHILD_OK);
		}
		tu_sleep_us((long)(tu_xorshift(&rnd) % 50));
	}
	_exit(RAW_STILL_CONNECTED);
}

START_TEST(
	test_subscriber_racing_the_reclaim_is_cut_off_and_honest_ones_lose_only_what_they_are_told)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload),
				   .slot_count = 8,
				   .overflow = VDDS_OVERFLOW_DROP_OLDEST };
	struct report *rep = report_new();
	vdds_pub *pub;
	pid_t honest[2];
	uint64_t seq = 0;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	for (int i = 0; i < 2; i++)
		honest[i] = spawn_honest(rep, i, 1);
	await_honest_joined(rep, 2);
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	pid_t racer = spawn_reclaim_racer(rep);
	int status = -1;

	ck_assert_int_eq(tu_await_subscribers(pub, 3), 0);
	/* DROP_OLDEST never blocks: loan takes back from the racer (it holds
	 * the most) until it is cut off. What the racer "took" it never gives
	 * back, so loan may find only taken samples: -ENOBUFS, at once. */
	uint64_t nobufs = 0;

	for (uint64_t t0 = tu_now_ns(); tu_now_ns() - t0 < 60 * SEC_NS;) {
		void *buf;
		int err = vdds_pub_loan(pub, &buf, LOAN_TIMEOUT_MS);

		if (err == -ENOBUFS) {
			nobufs++;
			tu_sleep_us(100);
		} else {
			ck_assert_int_eq(err, 0);
			tu_payload_fill(buf, ++seq, 0);
			ck_assert_int_eq(vdds_pub_publish(pub, buf, sizeof(struct tu_payload)), 0);
		}
		if (waitpid(racer, &status, WNOHANG) == racer)
			break;
	}
	publish_seq(pub, ++seq, 1, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_OK, "racer: status 0x%x",
		      status);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(reap_within(honest[i], 20 * SEC_NS), TU_CHILD_OK);
	struct vdds_pub_stats st;

	ck_assert_int_eq(tu_await_quiet(pub, &st), 0);

	printf("reclaim racer: cut off after %llu index writes; %llu published (%llu loans "
	       "said -ENOBUFS), %llu taken back; honest subscribers checked %llu and %llu\n",
	       (unsigned long long)atomic_load(&rep->scribbles), (unsigned long long)seq,
	       (unsigned long long)nobufs, (unsigned long long)st.dropped,
	       (unsigned long long)atomic_load(&rep->checked[0]),
	       (unsigned long long)atomic_load(&rep->checked[1]));
	ck_assert_uint_eq(atomic_load(&rep->cutoffs), 1);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_uint_eq(st.blocked_ns, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_uint_eq(atomic_load(&rep->last_seq[i]), seq);
	vdds_pub_close(pub);
	munmap(rep, sizeof(*rep));
}
END_TEST

/* ------------------------------------------------------ targeted violations */

enum violation {
	RELEASE_OUT_OF_RANGE,
	RELEASE_NOT_HELD,
	RELEASE_TWICE,
	RELEASE_MARK_OF_A_LATER_LAP,
	DELIVER_CONS_PAST_PROD,
	API_SUBSCRIBER_WRITES_ITS_LANE,
};

#define FIRST_SAMPLES 3 /* taken honestly before the violation */
#define SLOTS 8

/* The hostile child of one targeted case: join ('J' on the pipe), take
 * FIRST_SAMPLES honestly, commit the violation ('V'), then expect BYE/EBADMSG
 * and end of file. Exit 0 if all went so. */
static pid_t spawn_violator(enum violation v, int report_fd)
{
	pid_t pid = tu_fork_child_keeping(&report_fd);

	if (pid != 0)
		return pid;
	struct raw_sub rs;
	uint32_t got[FIRST_SAMPLES];
	int err = raw_open(&rs, 0);

	if (err < 0)
		_exit(-err);
	if (write(report_fd, "J", 1) != 1)
		_exit(RAW_PIPE);
	for (int i = 0; i < FIRST_SAMPLES; i++) {
		uint64_t t0 = tu_now_ns();

		while (raw_take(&rs, &got[i], 1) != 0) {
			if (tu_now_ns() - t0 > TU_AWAIT_NS)
				_exit(RAW_NO_SAMPLE);
			tu_sleep_us(50);
		}
		/* keep the last one for the double or forged release */
		if (i < FIRST_SAMPLES - 1 ||
		    (v != RELEASE_TWICE && v != RELEASE_MARK_OF_A_LATER_LAP))
			raw_release(&rs, got[i]);
	}
	switch (v) {
	case RELEASE_OUT_OF_RANGE: {
		uint32_t id = rs.slot_count; /* the first id past the end */

		raw_release_n(&rs, &id, 1);
		break;
	}
	case RELEASE_NOT_HELD: {
		uint32_t id = 0; /* one that was never delivered to us */

		for (int again = 1; again;) {
			again = 0;
			for (int i = 0; i < FIRST_SAMPLES; i++)
				if (got[i] == id) {
					id++;
					again = 1;
				}
		}
		raw_release_n(&rs, &id, 1);
		break;
	}
	case RELEASE_TWICE: {
		uint32_t ids[2] = { got[FIRST_SAMPLES - 1], got[FIRST_SAMPLES - 1] };

		raw_release_n(&rs, ids, 2);
		break;
	}
	case RELEASE_MARK_OF_A_LATER_LAP: {
		uint32_t id = got[FIRST_SAMPLES - 1]; /* held, and not yet released */

		raw_release_marked(&rs, &id, 1, 1);
		break;
	}
	case DELIVER_CONS_PAST_PROD:
		atomic_store_explicit(&rs.lane->deliver_cons, rs.cons + 1000, memory_order_release);
		break;
	case API_SUBSCRIBER_WRITES_ITS_LANE: /* spawn_api_violator's */ _exit(RAW_PIPE);
	}
	if (write(report_fd, "V", 1) != 1)
		_exit(RAW_PIPE);
	if (v == DELIVER_CONS_PAST_PROD) {
		/* the publisher reads deliver_cons only when it collects
		 * returns, for want of a free slot: go on taking (privately)
		 * and releasing so that it keeps publishing until it looks */
		uint64_t t0 = tu_now_ns();

		while (!readable(rs.sock)) {
			uint32_t id;

			if (raw_take(&rs, &id, 0) == 0)
				raw_release(&rs, id);
			else
				tu_sleep_us(50);
			if (tu_now_ns() - t0 > TU_AWAIT_NS)
				_exit(RAW_NO_BYE);
		}
	}
	err = raw_await_bye(&rs, 10000);
	raw_close(&rs);
	_exit(-err);
}

/* The lane mappings ("memfd:vdds-lane") this process has, by address. */
static int lane_mappings(uintptr_t *addr, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:vdds-lane"))
			addr[n++] = (uintptr_t)strtoull(line, NULL, 16);
	fclose(f);
	return n;
}

/* A subscriber of the real API that writes its own lane (it is mapped
 * read-write in every subscriber) the way a buggy program might: it must be
 * told -EBADMSG by take and wait, and stay so. */
static pid_t spawn_api_violator(int report_fd)
{
	pid_t pid = tu_fork_child_keeping(&report_fd);

	if (pid != 0)
		return pid;
	uintptr_t before[64], after[64];
	struct vdds__lane_hdr *lane = NULL;
	struct vdds_sample s;
	vdds_sub *sub;
	int err = 0, nb = lane_mappings(before, 64);

	if (vdds_sub_open(&sub, TOPIC, NULL) != 0)
		_exit(RAW_CONNECT);
	/* ours is the one that was not there before (fork copied the
	 * publisher's mappings of the other subscribers' lanes) */
	int na = lane_mappings(after, 64);

	for (int i = 0; i < na; i++) {
		int old = 0;

		for (int j = 0; j < nb; j++)
			old |= before[j] == after[i];
		if (!old)
			lane = (struct vdds__lane_hdr *)after[i];
	}
	if (!lane || nb < 0 || write(report_fd, "J", 1) != 1)
		_exit(RAW_PIPE);
	for (int i = 0; i < FIRST_SAMPLES; i++)
		if (vdds_sub_wait(sub, 10000) != 0 || vdds_sub_take(sub, &s) != 0 ||
		    vdds_sub_release(sub, &s) != 0)
			_exit(RAW_NO_SAMPLE);
	/* a return from a later lap at the next position the publisher reads */
	uint32_t rp = atomic_load(&lane->release_prod);

	atomic_store_explicit(
		&vdds__lane_release(lane, lane->ring_size)[rp & (lane->ring_size - 1)],
		(uint64_t)(rp + 1 + lane->ring_size) << 32 | 0, memory_order_release);
	if (write(report_fd, "V", 1) != 1)
		_exit(RAW_PIPE);
	/* what was delivered before the cut-off may still be taken (and is
	 * kept: a release would store the library's own index over ours); then
	 * the verdict, whichever call meets it first */
	for (uint64_t t0 = tu_now_ns(); err != -EBADMSG;) {
		if (tu_now_ns() - t0 > TU_AWAIT_NS)
			_exit(RAW_NO_BYE);
		err = vdds_sub_wait(sub, 1000);
		while (err == 0)
			err = vdds_sub_take(sub, &s);
		if (err != 0 && err != -EAGAIN && err != -ETIMEDOUT && err != -EBADMSG)
			_exit(RAW_WRONG_BYE);
	}
	if (vdds_sub_take(sub, &s) != -EBADMSG || vdds_sub_wait(sub, 0) != -EBADMSG)
		_exit(RAW_WRONG_BYE);
	vdds_sub_close(sub);
	_exit(TU_CHILD_OK);
}

static const char *const violation_name[] = {
	"release of an out-of-range id",
	"release of an id not held",
	"double release",
	"a release marked for a later lap",
	"deliver_cons set beyond deliver_prod",
	"a real subscriber writing a release mark in its lane",
};

static void read_mark(int fd, char want)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c = 0;

	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	ck_assert_int_eq(c, want);
}

/* One targeted case: the violator is cut off (kicked += 1, BYE/EBADMSG, EOF),
 * the honest subscriber receives every sample in order, every slot is free at
 * the end. */
static void run_violation(enum violation v)
{
	struct vdds_pub_opts o = { .slot_size = sizeof(struct tu_payload), .slot_count = SLOTS };
	struct report *rep = report_new();
	vdds_pub *pub;
	uint64_t seq = 0;
	int marks[2];

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	pid_t honest = spawn_honest(rep, 0, 0);

	await_honest_joined(rep, 1);
	ck_assert_int_eq(pipe2(marks, O_CLOEXEC), 0);
	pid_t violator = v == API_SUBSCRIBER_WRITES_ITS_LANE ? spawn_api_violator(marks[1])
							     : spawn_violator(v, marks[1]);

	close(marks[1]);
	read_mark(marks[0], 'J');
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	ck_assert_uint_eq(stats_of(pub).kicked, 0);
	for (int i = 0; i < FIRST_SAMPLES; i++)
		publish_seq(pub, ++seq, 0, NULL);
	read_mark(marks[0], 'V');
	/* more than the slots and the ring: the publisher looks at the lane
	 * (release ring, deliver_cons) when it needs slots */
	for (int i = 0; i < 4 * SLOTS; i++)
		publish_seq(pub, ++seq, 0, NULL);
	struct vdds_pub_stats st = stats_of(pub);

	for (uint64_t t0 = tu_now_ns(); st.kicked == 0 && tu_now_ns() - t0 < TU_AWAIT_NS;) {
		tu_sleep_us(1000);
		st = stats_of(pub);
	}
	ck_assert_msg(st.kicked == 1, "%s: not cut off", violation_name[v]);
	ck_assert_uint_eq(st.subscribers, 1);
	ck_assert_int_eq(reap_within(violator, 20 * SEC_NS), TU_CHILD_OK);
	for (int i = 0; i < 4 * SLOTS; i++)
		publish_seq(pub, ++seq, 0, NULL);
	publish_seq(pub, ++seq, 1, NULL);
	ck_assert_int_eq(reap_within(honest, 20 * SEC_NS), TU_CHILD_OK);
	ck_assert_uint_eq(atomic_load(&rep->checked[0]), seq);
	ck_assert_int_eq(tu_await_quiet(pub, &st), 0);
	ck_assert_uint_eq(st.free_slots, SLOTS);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_uint_eq(st.disconnects, 2);
	close(marks[0]);
	vdds_pub_close(pub);
	munmap(rep, sizeof(*rep));
}

START_TEST(test_release_of_an_out_of_range_id_cuts_the_subscriber_off)
{
	run_violation(RELEASE_OUT_OF_RANGE);
}
END_TEST

START_TEST(test_release_of_an_id_not_held_cuts_the_subscriber_off)
{
	run_violation(RELEASE_NOT_HELD);
}
END_TEST

START_TEST(test_double_release_cuts_the_subscriber_off)
{
	run_violation(RELEASE_TWICE);
}
END_TEST

START_TEST(test_release_marked_for_a_later_lap_cuts_the_subscriber_off)
{
	run_violation(RELEASE_MARK_OF_A_LATER_LAP);
}
END_TEST

START_TEST(test_deliver_cons_beyond_deliver_prod_cuts_the_subscriber_off)
{
	run_violation(DELIVER_CONS_PAST_PROD);
}
END_TEST

START_TEST(test_real_subscriber_that_writes_its_lane_is_told_ebadmsg)
{
	run_violation(API_SUBSCRIBER_WRITES_ITS_LANE);
}
END_TEST

/* Regression: the publisher found the bad release while looking for a slot
 * in a blocking loan, and used to sleep without cutting the subscriber off;
 * a hang-up during that sleep then freed a lane still on its broken list
 * (heap-use-after-free under ASan). Now the BYE comes at once, and a
 * violator that hangs up without waiting for it is harmless. */
static pid_t spawn_release_then(int wait_for_bye, int ready_fd)
{
	pid_t pid = tu_fork_child_keeping(&ready_fd);

	if (pid != 0)
		return pid;
	struct raw_sub rs;
	int err = raw_open(&rs, 0);

	if (err < 0)
		_exit(-err);
	if (write(3, "J", 1) != 1)
		_exit(RAW_PIPE);
	while (atomic_load(&rs.lane->deliver_prod) < 4) /* all four samples */
		usleep(100);
	raw_release(&rs, 1000); /* out of range */
	if (write(3, "V", 1) != 1)
		_exit(RAW_PIPE);
	if (!wait_for_bye) {
		usleep(200 * 1000); /* the publisher is asleep in its loan */
		_exit(TU_CHILD_OK); /* hang up before the BYE is read */
	}
	_exit(-raw_await_bye(&rs, 500)); /* long before the loan ends */
}

START_TEST(test_violation_found_by_a_blocked_loan_is_cut_off_at_once)
{
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 4 };
	vdds_pub *pub;
	vdds_sub *holder;
	struct vdds_sample s[4];
	void *buf;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	ck_assert_int_eq(vdds_sub_open(&holder, TOPIC, NULL), 0);
	for (int wait_for_bye = 1; wait_for_bye >= 0; wait_for_bye--) {
		int ready[2];
		char c;

		ck_assert_int_eq(pipe(ready), 0);
		pid_t pid = spawn_release_then(wait_for_bye, ready[1]);

		close(ready[1]);
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
		ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
		for (uint32_t i = 0; i < 4; i++) { /* every slot held by holder */
			ck_assert_int_eq(vdds_pub_write(pub, &i, sizeof(i), 0), 0);
			ck_assert_int_eq(vdds_sub_take(holder, &s[i]), 0);
		}
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
		close(ready[0]);
		/* finds the bad id, cuts it off, then sleeps: nobody returns a slot */
		ck_assert_int_eq(vdds_pub_loan(pub, &buf, 1000), -ETIMEDOUT);
		tu_assert_exit(pid, TU_CHILD_OK);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(vdds_sub_release(holder, &s[i]), 0);
		/* the violator's hang-up is processed */
		ck_assert_int_eq(tu_await_subscribers(pub, 1), 0);
		ck_assert_uint_eq(stats_of(pub).free_slots, 4);
	}
	ck_assert_uint_eq(stats_of(pub).kicked, 2);
	vdds_sub_close(holder);
	vdds_pub_close(pub);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *rnd = tcase_create("random_writes");
	TCase *tgt = tcase_create("targeted");

	tcase_set_timeout(rnd, 120);
	tcase_add_test(rnd,
		       test_scribbling_subscriber_is_cut_off_while_honest_ones_get_every_sample);
	tcase_add_test(
		rnd,
		test_subscriber_racing_the_reclaim_is_cut_off_and_honest_ones_lose_only_what_they_are_told);
	suite_add_tcase(s, rnd);
	tcase_set_timeout(tgt, 60);
	tcase_add_test(tgt, test_release_of_an_out_of_range_id_cuts_the_subscriber_off);
	tcase_add_test(tgt, test_release_of_an_id_not_held_cuts_the_subscriber_off);
	tcase_add_test(tgt, test_double_release_cuts_the_subscriber_off);
	tcase_add_test(tgt, test_release_marked_for_a_later_lap_cuts_the_subscriber_off);
	tcase_add_test(tgt, test_deliver_cons_beyond_deliver_prod_cuts_the_subscriber_off);
	tcase_add_test(tgt, test_real_subscriber_that_writes_its_lane_is_told_ebadmsg);
	tcase_add_test(tgt, test_violation_found_by_a_blocked_loan_is_cut_off_at_once);
	tcase_add_test(tgt, test_a_subscriber_flooding_wakes_costs_only_rechecks);
	suite_add_tcase(s, tgt);
	return s;
}

int main(void)
{
	return tu_run_suite(hostile_suite());
}
