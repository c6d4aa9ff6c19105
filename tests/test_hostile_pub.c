/* test_hostile_pub.c — a publisher that breaks the lane protocol: the test
 * plays it itself (a thread that speaks the handshake and keeps the topic and
 * every lane mapped writable, as a publisher does whatever the seals say) and
 * writes whatever it likes there while real subscribers (the library, in this
 * process, so the sanitizers watch them) connect, take and release. They must
 * never crash or touch memory out of bounds: what they cannot trust they
 * report as -EBADMSG, and what they hand the application is theirs. Last,
 * the other direction where the publisher's BLOCK wait meets a lane that
 * lies about what it took (issue #26 point 6). */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "layout.h"
#include "proto.h"
#include "pubcore.h"
#include "rundir.h"
#include "segment.h"
#include "sub_internal.h"
#include "testutil.h"

#define TOPIC "hostilepub"
/* as long as a name can be: flipping its last byte makes it unterminated */
#define TYPE "hostile.a_type_name_as_long_as_a_type_name_can_be_made_0123456x"
_Static_assert(sizeof(TYPE) == VDDS__TYPE_NAME_LEN, "a name of the longest length");
#define SLOTS 16
#define SLOT_SIZE 256
#define MAX_CONNS (CONNECTS + 64)
#define CONNECTS 1000 /* handshakes raced by the flipper */

/* What the fake publisher puts in a new lane before WELCOME: entry 0 an
 * honest sample (slot HONEST_SLOT, HONEST_LEN bytes, seq 1), entry 1 the
 * forgery of the case, or nothing. */
#define HONEST_SLOT 1
#define HONEST_LEN 8

enum forgery {
	FORGE_NONE,
	FORGE_SLOT_AT_COUNT,       /* the first id past the end */
	FORGE_SLOT_IN_BITMAP_WORD, /* past the end, inside the held bitmap's word */
	FORGE_SLOT_MAX,
	FORGE_SLOT_FAR, /* past the end, in no allocation of the subscriber's */
	FORGE_LEN_OVER_SLOT,
	FORGE_LEN_MAX,
	FORGE_MARK_LATER_LAP,
	FORGE_MARK_ANY,
	FORGE_SLOT_HELD, /* delivered again while the subscriber holds it */
	FORGE_COUNT,
};

static const char *const forgery_name[] = {
	"none",
	"slot id = slot_count",
	"slot id inside the held bitmap's last word",
	"slot id UINT32_MAX",
	"slot id 2^24",
	"len = slot_size + 1",
	"len UINT64_MAX",
	"mark of a later lap",
	"mark of no lap",
	"a slot the subscriber holds, again",
};

struct fake_pub {
	int listen_fd, topic_fd;
	struct vdds__topic_hdr *topic; /* our mapping: writable */
	size_t topic_size;
	struct vdds__topic_hdr good; /* the header as first written */
	uint32_t ring;
	size_t lane_size;
	_Atomic int forgery; /* what the next lane gets as entry 1 (-1: random) */
	_Atomic int stop;
	_Atomic(struct vdds__lane_hdr *) current; /* the newest lane */
	struct vdds__lane_hdr *lanes[MAX_CONNS];
	int conns[MAX_CONNS], efds[MAX_CONNS];
	_Atomic int n_conns;
	uint64_t rnd;
	pthread_t server;
};

/* ---------------------------------------------------------- the publisher */

static void deliver(struct vdds__lane_hdr *lane, uint32_t ring, uint32_t pos, uint32_t mark,
		    uint32_t slot, uint64_t seq, uint64_t len)
{
	struct vdds__dentry *e = &vdds__lane_deliver(lane)[pos & (ring - 1)];

	atomic_store_explicit(&e->slot, slot, memory_order_relaxed);
	atomic_store_explicit(&e->seq, seq, memory_order_relaxed);
	atomic_store_explicit(&e->timestamp_ns, seq * 10, memory_order_relaxed);
	atomic_store_explicit(&e->len, len, memory_order_relaxed);
	atomic_store_explicit(&e->mark, mark, memory_order_release);
	atomic_store_explicit(&lane->deliver_prod, pos + 1, memory_order_relaxed);
}

static void forge(struct vdds__lane_hdr *lane, uint32_t ring, enum forgery f)
{
	deliver(lane, ring, 0, 1, HONEST_SLOT, 1, HONEST_LEN);
	switch (f) {
	case FORGE_NONE: break;
	case FORGE_SLOT_AT_COUNT: deliver(lane, ring, 1, 2, SLOTS, 2, 1); break;
	case FORGE_SLOT_IN_BITMAP_WORD: deliver(lane, ring, 1, 2, 63, 2, 1); break;
	case FORGE_SLOT_MAX: deliver(lane, ring, 1, 2, UINT32_MAX, 2, 1); break;
	case FORGE_SLOT_FAR: deliver(lane, ring, 1, 2, 1u << 24, 2, 1); break;
	case FORGE_LEN_OVER_SLOT: deliver(lane, ring, 1, 2, 2, 2, SLOT_SIZE + 1); break;
	case FORGE_LEN_MAX: deliver(lane, ring, 1, 2, 2, 2, UINT64_MAX); break;
	case FORGE_MARK_LATER_LAP: deliver(lane, ring, 1, 2 + ring, 2, 2, 1); break;
	case FORGE_MARK_ANY: deliver(lane, ring, 1, 12345, 2, 2, 1); break;
	case FORGE_SLOT_HELD: deliver(lane, ring, 1, 2, HONEST_SLOT, 2, 1); break;
	case FORGE_COUNT: break;
	}
	/* where the subscriber will push its returns: anywhere (it masks) */
	atomic_store_explicit(&lane->release_prod, 0x01234567u, memory_order_relaxed);
}

/* A new lane, as the publisher makes one, with entries already in it. */
static struct vdds__lane_hdr *make_lane(struct fake_pub *fp, uint32_t id, int *fd)
{
	void *map;

	*fd = vdds__segment_create("hostile-lane", fp->lane_size, &map);
	ck_assert_int_ge(*fd, 0);
	struct vdds__lane_hdr *l = map;

	l->magic = VDDS__LANE_MAGIC;
	l->layout_version = VDDS__LAYOUT_VERSION;
	l->hdr_size = sizeof(*l);
	l->lane_id = id;
	l->ring_size = fp->ring;
	l->slot_count = SLOTS;
	l->segment_size = fp->lane_size;
	int f = atomic_load(&fp->forgery);

	if (f < 0) /* any but FORGE_SLOT_HELD: the flipping test releases first */
		f = 1 + (int)(tu_xorshift(&fp->rnd) % (FORGE_SLOT_HELD - 1));
	forge(l, fp->ring, (enum forgery)f);
	ck_assert_int_eq(vdds__segment_seal(*fd, VDDS__SEALS_LANE), 0);
	return l;
}

/* Answer one connection: HELLO in, WELCOME with the topic, a new lane and an
 * eventfd out. The lane stays mapped (the flipper may write it) and the
 * connection open until the test ends. */
static void welcome_one(struct fake_pub *fp, int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	union vdds__msg m;
	int nfds, lane_fd, n = atomic_load(&fp->n_conns);

	ck_assert_int_lt(n, MAX_CONNS);
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	int len = vdds__msg_recv(sock, &m, NULL, 0, &nfds, 0);

	ck_assert_int_eq(vdds__msg_parse(&m, (size_t)len), VDDS__MSG_HELLO);
	struct vdds__lane_hdr *lane = make_lane(fp, (uint32_t)n, &lane_fd);
	int efd = eventfd(0, EFD_CLOEXEC);
	struct vdds__msg_welcome w;

	ck_assert_int_ge(efd, 0);
	vdds__msg_welcome(&w, (uint32_t)n, fp->topic_size, fp->lane_size);
	int fds[VDDS__WELCOME_FDS] = { fp->topic_fd, lane_fd, efd };

	/* the previous subscriber is gone (the test connects one at a time) */
	if (n > 0) {
		close(fp->conns[n - 1]);
		close(fp->efds[n - 1]);
	}
	fp->lanes[n] = lane;
	fp->conns[n] = sock;
	fp->efds[n] = efd;
	atomic_store(&fp->current, lane);
	atomic_store(&fp->n_conns, n + 1);
	ck_assert_int_eq(vdds__msg_send(sock, &w, sizeof(w), fds, VDDS__WELCOME_FDS), 0);
	close(lane_fd);
}

static void *serve(void *arg)
{
	struct fake_pub *fp = arg;
	struct pollfd pfd = { .fd = fp->listen_fd, .events = POLLIN };

	while (!atomic_load(&fp->stop)) {
		if (poll(&pfd, 1, 20) != 1)
			continue;
		int sock = accept4(fp->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (sock >= 0)
			welcome_one(fp, sock);
	}
	return NULL;
}

/* Listen on the topic's socket with a topic of SLOTS slots of SLOT_SIZE,
 * named TYPE, sealed as a publisher seals it; serve in a thread. */
static void fake_pub_start(struct fake_pub *fp, uint32_t overflow, int forgery)
{
	char dir[VDDS__PATH_MAX];
	struct sockaddr_un addr;
	void *map;

	memset(fp, 0, sizeof(*fp));
	fp->rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	atomic_store(&fp->forgery, forgery);
	tu_private_rundir();
	ck_assert_int_eq(vdds__rundir(dir, sizeof(dir), 1, 0), 0);
	ck_assert_int_eq(vdds__topic_addr(&addr, dir, TOPIC, ".sock"), 0);
	fp->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fp->listen_fd, 0);
	ck_assert_int_eq(bind(fp->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fp->listen_fd, 64), 0);

	fp->topic_size = vdds__topic_layout(&fp->good, SLOT_SIZE, SLOTS, 4);
	fp->good.publisher_pid = getpid();
	fp->good.overflow = overflow;
	snprintf(fp->good.type_name, sizeof(fp->good.type_name), "%s", TYPE);
	fp->topic_fd = vdds__segment_create("hostile-topic", fp->topic_size, &map);
	ck_assert_int_ge(fp->topic_fd, 0);
	fp->topic = map;
	memcpy(fp->topic, &fp->good, sizeof(fp->good));
	ck_assert_int_eq(vdds__segment_seal(fp->topic_fd, VDDS__SEALS_TOPIC), 0);
	fp->ring = vdds__ring_size_for(SLOTS);
	fp->lane_size = vdds__lane_size(fp->ring);
	ck_assert_int_eq(pthread_create(&fp->server, NULL, serve, fp), 0);
}

static void fake_pub_stop(struct fake_pub *fp)
{
	atomic_store(&fp->stop, 1);
	ck_assert_int_eq(pthread_join(fp->server, NULL), 0);
	int n = atomic_load(&fp->n_conns);

	for (int i = 0; i < n; i++)
		munmap(fp->lanes[i], fp->lane_size);
	if (n > 0) {
		close(fp->conns[n - 1]);
		close(fp->efds[n - 1]);
	}
	munmap(fp->topic, fp->topic_size);
	close(fp->topic_fd);
	close(fp->listen_fd);
}

/* ---------------------------------------------------------- the subscriber */

/* The honest entry: slot HONEST_SLOT of this subscriber's own mapping of the
 * topic, at the place the header said when it was first written; released
 * (a push on the release ring) if `release`. */
static void take_the_honest_sample(vdds_sub *sub, const struct fake_pub *fp, int release)
{
	const uint8_t *base = sub->link.topic_map;
	struct vdds_sample s;

	ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
	ck_assert_uint_eq(s.slot, HONEST_SLOT);
	ck_assert_uint_eq(s.len, HONEST_LEN);
	ck_assert_uint_eq(s.seq, 1);
	ck_assert_ptr_eq(s.data, base + fp->good.data_offset + HONEST_SLOT * fp->good.slot_stride);
	if (release)
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
}

/* After a forgery: -EBADMSG, and so it stays. */
static void expect_broken(vdds_sub *sub, const char *what)
{
	struct vdds_sample s;
	int err = vdds_sub_take(sub, &s);

	ck_assert_msg(err == -EBADMSG, "%s: take said %d, not -EBADMSG (slot %u, len %zu)", what,
		      err, err == 0 ? s.slot : 0, err == 0 ? s.len : 0);
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EBADMSG);
	ck_assert_int_eq(vdds_sub_wait(sub, 0), -EBADMSG);
}

/* ------------------------------------------------ flipping the headers */

struct flipper {
	struct fake_pub *fp;
	_Atomic int stop;
	_Atomic uint64_t flips;
	pthread_t thread;
};

static void spin(uint64_t *rnd, unsigned max)
{
	for (unsigned i = (unsigned)(tu_xorshift(rnd) % max); i > 0; i--)
		__asm__ volatile("" ::: "memory");
}

/* The fields a round flips: each bad value is one no check lets through. */
enum flip_field {
	FLIP_COUNT_MAX,
	FLIP_COUNT_0,
	FLIP_SIZE,
	FLIP_STRIDE,
	FLIP_OFFSET,
	FLIP_RING,
	FLIP_NAME,
	FLIP_FIELDS
};

static void set_field(struct fake_pub *fp, volatile struct vdds__lane_hdr *l, enum flip_field f,
		      int bad)
{
	volatile struct vdds__topic_hdr *t = fp->topic;

	switch (f) {
	case FLIP_COUNT_MAX: t->slot_count = bad ? UINT32_MAX : SLOTS; break;
	case FLIP_COUNT_0: t->slot_count = bad ? 0 : SLOTS; break;
	case FLIP_SIZE: t->slot_size = bad ? 1ull << 50 : SLOT_SIZE; break;
	case FLIP_STRIDE: t->slot_stride = bad ? 0 : fp->good.slot_stride; break;
	case FLIP_OFFSET: t->data_offset = bad ? 1ull << 44 : fp->good.data_offset; break;
	case FLIP_RING:
		if (l)
			l->ring_size = bad ? 1u << 26 : fp->ring;
		break;
	default: /* the name's terminating NUL, one byte: unterminated or not */
		t->type_name[VDDS__TYPE_NAME_LEN - 1] = bad ? 'A' : '\0';
		break;
	}
}

/* Each round takes one field of the topic header, or the newest lane's
 * ring_size, and toggles it between a bad value and the good one as fast as
 * it can for a while, then leaves it good for a while: a subscriber that
 * checks the header and then reads it again meets the bad value in between
 * (the old code's window is a few hundred nanoseconds). */
static void *flip(void *arg)
{
	struct flipper *fl = arg;
	struct fake_pub *fp = fl->fp;
	uint64_t rnd = 0x2545f4914f6cdd1dull;

	while (!atomic_load(&fl->stop)) {
		volatile struct vdds__lane_hdr *l = atomic_load(&fp->current);
		enum flip_field f = (enum flip_field)(tu_xorshift(&rnd) % FLIP_FIELDS);

		for (unsigned i = (unsigned)(tu_xorshift(&rnd) % 4000); i > 0; i--) {
			set_field(fp, l, f, 1);
			set_field(fp, l, f, 0);
		}
		atomic_fetch_add_explicit(&fl->flips, 1, memory_order_relaxed);
		spin(&rnd, 4000);
	}
	return NULL;
}

START_TEST(test_a_publisher_flipping_its_headers_while_subscribers_connect_is_refused_or_read_once)
{
	struct fake_pub fp;
	struct flipper fl = { .fp = &fp };
	uint32_t accepted = 0, refused = 0;

	fake_pub_start(&fp, VDDS_OVERFLOW_BLOCK, -1);
	ck_assert_int_eq(pthread_create(&fl.thread, NULL, flip, &fl), 0);
	for (int i = 0; i < CONNECTS; i++) {
		vdds_sub *sub;
		uint64_t flips = atomic_load(&fl.flips);

		/* the flipper is running (on a busy machine it may not be) */
		while (atomic_load(&fl.flips) == flips)
			sched_yield();
		int err = vdds_sub_open(&sub, TOPIC, NULL);

		if (err == -EBADMSG) {
			refused++;
			continue;
		}
		ck_assert_int_eq(err, 0);
		accepted++;
		/* what was checked is what is used: the copy the checks passed */
		ck_assert_str_eq(vdds_sub_type_name(sub), TYPE);
		take_the_honest_sample(sub, &fp, 1);
		expect_broken(sub, "a forged entry after a header flip");
		vdds_sub_close(sub);
	}
	atomic_store(&fl.stop, 1);
	ck_assert_int_eq(pthread_join(fl.thread, NULL), 0);
	printf("flipping publisher: %u connections accepted, %u refused (-EBADMSG), %llu flips\n",
	       accepted, refused, (unsigned long long)atomic_load(&fl.flips));
	/* both happened: the flipper raced the checks */
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_gt(refused, 0);
	fake_pub_stop(&fp);
}
END_TEST

/* ---------------------------------------------------------- forged entries */

START_TEST(test_a_forged_entry_makes_take_say_ebadmsg_and_nothing_else)
{
	for (int f = FORGE_NONE + 1; f < FORGE_COUNT; f++) {
		struct fake_pub fp;
		vdds_sub *sub;

		fake_pub_start(&fp, VDDS_OVERFLOW_BLOCK, f);
		ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
		take_the_honest_sample(sub, &fp, f != FORGE_SLOT_HELD);
		expect_broken(sub, forgery_name[f]);
		vdds_sub_close(sub);
		fake_pub_stop(&fp);
	}
}
END_TEST

/* The same under DROP_OLDEST, where the publisher also moves deliver_cons:
 * forged entries, and the index moved backwards. */
START_TEST(test_under_drop_oldest_a_forged_entry_or_an_index_moved_back_is_ebadmsg)
{
	for (int f = FORGE_NONE; f < FORGE_COUNT; f++) {
		struct fake_pub fp;
		vdds_sub *sub;

		fake_pub_start(&fp, VDDS_OVERFLOW_DROP_OLDEST, f);
		ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
		take_the_honest_sample(sub, &fp, f != FORGE_SLOT_HELD);
		if (f == FORGE_NONE) {
			/* deliver_cons back behind what the subscriber took */
			struct vdds__lane_hdr *l = atomic_load(&fp.current);

			deliver(l, fp.ring, 1, 2, 2, 2, 1);
			atomic_store(&l->deliver_cons, 0);
		}
		expect_broken(sub, f == FORGE_NONE ? "deliver_cons moved back" : forgery_name[f]);
		vdds_sub_close(sub);
		fake_pub_stop(&fp);
	}
}
END_TEST

/* seq and timestamp are the publisher's word: take reports them as they are,
 * whatever their order, and they decide nothing else (a release of any seq
 * is a release). */
START_TEST(test_seq_games_are_reported_as_they_are_and_break_nothing)
{
	static const uint64_t seqs[] = { 5, 3, UINT64_MAX, 0, 3 };
	struct fake_pub fp;
	vdds_sub *sub;
	struct vdds_sample s;

	fake_pub_start(&fp, VDDS_OVERFLOW_BLOCK, FORGE_NONE);
	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
	take_the_honest_sample(sub, &fp, 1);
	struct vdds__lane_hdr *l = atomic_load(&fp.current);

	atomic_store(&l->pub_wait, UINT64_MAX); /* asks for a WAKE it may never get */
	for (uint32_t i = 0; i < 5; i++)
		deliver(l, fp.ring, 1 + i, 2 + i, 2 + i, seqs[i], 1);
	for (uint32_t i = 0; i < 5; i++) {
		ck_assert_int_eq(vdds_sub_take(sub, &s), 0);
		ck_assert_uint_eq(s.slot, 2 + i);
		ck_assert_uint_eq(s.seq, seqs[i]);
		ck_assert_int_eq(vdds_sub_release(sub, &s), 0);
	}
	ck_assert_int_eq(vdds_sub_take(sub, &s), -EAGAIN);
	vdds_sub_close(sub);
	fake_pub_stop(&fp);
}
END_TEST

/* ------------------------------------------------------------ the type name */

/* Once connected, the publisher overwrites its whole topic segment with
 * non-zero bytes: the name the subscriber reports is still the one it
 * checked, terminated. */
START_TEST(test_the_type_name_is_a_terminated_copy_whatever_the_publisher_writes_later)
{
	struct fake_pub fp;
	vdds_sub *sub;

	fake_pub_start(&fp, VDDS_OVERFLOW_BLOCK, FORGE_NONE);
	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), 0);
	ck_assert_str_eq(vdds_sub_type_name(sub), TYPE);
	memset(fp.topic, 'A', fp.topic_size);
	const char *name = vdds_sub_type_name(sub);

	ck_assert_uint_lt(strnlen(name, VDDS__TYPE_NAME_LEN), VDDS__TYPE_NAME_LEN);
	ck_assert_str_eq(name, TYPE);
	/* the data path never read the header again either */
	take_the_honest_sample(sub, &fp, 1);
	vdds_sub_close(sub);
	fake_pub_stop(&fp);
}
END_TEST

START_TEST(test_an_unterminated_type_name_is_refused_at_connect)
{
	struct fake_pub fp;
	vdds_sub *sub;

	fake_pub_start(&fp, VDDS_OVERFLOW_BLOCK, FORGE_NONE);
	memset(fp.topic->type_name, 'A', sizeof(fp.topic->type_name));
	ck_assert_int_eq(vdds_sub_open(&sub, TOPIC, NULL), -EBADMSG);
	fake_pub_stop(&fp);
}
END_TEST

/* -------------------------------------- a lying lane and the BLOCK wait */

/* A subscriber that does the handshake itself and holds its lane mapped
 * read-write. */
struct raw_lane {
	int sock, efd;
	void *topic;
	struct vdds__lane_hdr *lane;
	size_t topic_size, lane_size;
	uint32_t ring;
};

static void raw_lane_open(struct raw_lane *r, const char *topic)
{
	struct vdds__msg_hello hello;
	union vdds__msg m;
	int fds[VDDS__WELCOME_FDS], nfds;

	r->sock = tu_raw_connect(topic);
	ck_assert_int_ge(r->sock, 0);
	vdds__msg_hello(&hello, NULL, 0, 0);
	ck_assert_int_eq(vdds__msg_send(r->sock, &hello, sizeof(hello), NULL, 0), 0);
	struct pollfd pfd = { .fd = r->sock, .events = POLLIN };

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	int len = vdds__msg_recv(r->sock, &m, fds, VDDS__WELCOME_FDS, &nfds, 0);

	ck_assert_int_eq(vdds__msg_parse(&m, (size_t)len), VDDS__MSG_WELCOME);
	ck_assert_int_eq(nfds, VDDS__WELCOME_FDS);
	r->topic_size = m.welcome.topic_size;
	r->lane_size = m.welcome.lane_size;
	r->topic = mmap(NULL, r->topic_size, PROT_READ, MAP_SHARED, fds[0], 0);
	r->lane = mmap(NULL, r->lane_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	ck_assert_ptr_ne(r->topic, MAP_FAILED);
	ck_assert_ptr_ne(r->lane, MAP_FAILED);
	close(fds[0]);
	close(fds[1]);
	r->efd = fds[2];
	r->ring = r->lane->ring_size;
}

static void raw_lane_close(struct raw_lane *r)
{
	munmap(r->topic, r->topic_size);
	munmap(r->lane, r->lane_size);
	close(r->efd);
	close(r->sock);
}

struct releaser {
	vdds_sub *sub;
	struct vdds_sample held[4];
	_Atomic(uint64_t) *asked[2]; /* the two lanes' pub_wait */
	pthread_t thread;
};

/* Once the publisher has asked somebody to wake it (it is about to sleep),
 * give everything back, as the honest subscriber it is. */
static void *release_when_asked(void *arg)
{
	struct releaser *r = arg;

	for (uint64_t t0 = tu_now_ns(); tu_now_ns() - t0 < TU_AWAIT_NS;) {
		if (atomic_load(r->asked[0]) || atomic_load(r->asked[1]))
			break;
		tu_sleep_us(100);
	}
	tu_sleep_us(100 * 1000); /* past the publisher's last look: it sleeps */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vdds_sub_release(r->sub, &r->held[i]), 0);
	return NULL;
}

/* BLOCK, 4 slots, all held by an honest subscriber. A lying lane parks its
 * deliver_cons on the first sample, reads the other three and returns them
 * without a WAKE: the main before issue #26 took those returns, then asked
 * the liar alone to wake it (it has the oldest slot at the head of its
 * queue), and slept through the honest subscriber's returns until its
 * timeout. Now the liar is cut off, the honest subscriber is asked, and its
 * returns wake the loan. */
START_TEST(
	test_a_lane_returning_samples_it_never_took_cannot_make_the_publisher_sleep_through_returns)
{
	struct vdds_pub_opts o = { .slot_size = 64, .slot_count = 4 };
	struct releaser rel;
	struct raw_lane liar;
	vdds_pub *pub;
	void *buf;

	tu_private_rundir();
	ck_assert_int_eq(vdds_pub_open(&pub, TOPIC, &o), 0);
	ck_assert_int_eq(vdds_sub_open(&rel.sub, TOPIC, NULL), 0);
	raw_lane_open(&liar, TOPIC);
	ck_assert_int_eq(tu_await_subscribers(pub, 2), 0);
	for (uint32_t i = 0; i < 4; i++) {
		ck_assert_int_eq(vdds_pub_write(pub, &i, sizeof(i), 0), 0);
		ck_assert_int_eq(vdds_sub_take(rel.sub, &rel.held[i]), 0);
	}
	/* the liar: "takes" samples 2..4 without storing deliver_cons (it
	 * stays on sample 1) and returns them, marked as an honest return is */
	_Atomic uint64_t *ret = vdds__lane_release(liar.lane, liar.ring);

	for (uint32_t p = 1; p < 4; p++) {
		struct vdds__dentry *e = &vdds__lane_deliver(liar.lane)[p & (liar.ring - 1)];

		ck_assert_uint_eq(atomic_load(&e->mark), p + 1);
		atomic_store(&ret[(p - 1) & (liar.ring - 1)],
			     (uint64_t)p << 32 | atomic_load(&e->slot));
	}
	atomic_store(&liar.lane->release_prod, 3);
	rel.asked[0] = &liar.lane->pub_wait;
	rel.asked[1] = &rel.sub->link.core.lane->pub_wait;
	ck_assert_int_eq(pthread_create(&rel.thread, NULL, release_when_asked, &rel), 0);
	/* no slot is free: the loan waits for the honest returns, with no
	 * timeout (one that slept through them would wait until Check's
	 * watchdog kills the test: a lost wakeup is a failure, not a delay) */
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, -1), 0);
	ck_assert_int_eq(pthread_join(rel.thread, NULL), 0);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	struct vdds_pub_stats st;

	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	ck_assert_uint_eq(st.kicked, 1);
	/* the liar was told why */
	struct pollfd pfd = { .fd = liar.sock, .events = POLLIN };
	union vdds__msg m;
	int nfds;

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	int len = vdds__msg_recv(liar.sock, &m, NULL, 0, &nfds, MSG_DONTWAIT);

	ck_assert_int_eq(vdds__msg_parse(&m, (size_t)len), VDDS__MSG_BYE);
	ck_assert_int_eq(m.reject.err, EBADMSG);
	raw_lane_close(&liar);
	vdds_sub_close(rel.sub);
	vdds_pub_close(pub);
}
END_TEST

static Suite *hostile_pub_suite(void)
{
	Suite *s = suite_create("hostile_pub");
	TCase *flipped = tcase_create("flipped_headers");
	TCase *forged = tcase_create("forged");

	tcase_set_timeout(flipped, 120);
	tcase_add_test(
		flipped,
		test_a_publisher_flipping_its_headers_while_subscribers_connect_is_refused_or_read_once);
	suite_add_tcase(s, flipped);
	tcase_set_timeout(forged, 60);
	tcase_add_test(forged, test_a_forged_entry_makes_take_say_ebadmsg_and_nothing_else);
	tcase_add_test(forged,
		       test_under_drop_oldest_a_forged_entry_or_an_index_moved_back_is_ebadmsg);
	tcase_add_test(forged, test_seq_games_are_reported_as_they_are_and_break_nothing);
	tcase_add_test(forged,
		       test_the_type_name_is_a_terminated_copy_whatever_the_publisher_writes_later);
	tcase_add_test(forged, test_an_unterminated_type_name_is_refused_at_connect);
	suite_add_tcase(s, forged);
	TCase *liar = tcase_create("lying_lane");

	tcase_set_timeout(liar, 30);
	tcase_add_test(
		liar,
		test_a_lane_returning_samples_it_never_took_cannot_make_the_publisher_sleep_through_returns);
	suite_add_tcase(s, liar);
	return s;
}

int main(void)
{
	return tu_run_suite(hostile_pub_suite());
}
