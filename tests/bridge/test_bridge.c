/* test_bridge.c — vdds-bridge end to end, every party its own process: real
 * bridges, vdds publishers and subscribers, plain Cyclone DDS programs; two
 * hosts as two network namespaces joined by a veth pair, or loopback.
 * Usage: test_bridge SCENARIO BRIDGE_BIN DDS_PEER_BIN; exit 77 = skipped.
 * VDDS_BRIDGE_TEST_KEEP=1 keeps the logs of a passing run too. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "introspect.h"
#include "payload.h"
#include "vdds.h"

#define SKIP 77

static const char *bridge_bin, *peer_bin;
static char work[PATH_MAX];
static char board_path[PATH_MAX + 8];
static struct bt_board *board;
static unsigned domain;
static char ns_a[32], ns_b[32]; /* network namespaces of the two hosts */

/* One host: a vdds runtime directory and a Cyclone configuration; for the
 * namespace variant, also a network namespace. */
struct host {
	const char *netns;
	char dir[PATH_MAX + 8];
	char uri[PATH_MAX + 64];
};

/* Board slots, named for who sets them. */
enum {
	GO1 = 1, /* a receiver saw a probe */
	GO2,
	GO3,
	GO4,
	DONE1, /* a receiver got everything */
	DONE2,
	DONE3,
	DONE4,
	PUB_COUNT,  /* data messages published so far */
	SUB_COUNT,  /* data messages received so far */
	SUB_EPOCHS, /* publisher incarnations the subscriber moved to */
	SUB_JUMPS,  /* rises of the counter by jump_min or more */
	SUB_EPOCH_JUMPED,
	STOP,
	RELEASE, /* a holding subscriber may let go */
	GO5,
	DONE5,
	MADE1, /* DDS writers of a `writers` peer exist */
	MADE2,
	MADE3,
	LEAVE1, /* they may leave */
	LEAVE2,
	LEAVE3,
	POISONED, /* the bridge refused a poisoning writer */
};

/* A board slot (or a list of two) as a command-line argument. */
static char *slots(int a, int b)
{
	static char bufs[16][16];
	static int next;
	char *s = bufs[next++ % 16];

	if (b)
		snprintf(s, 16, "%d,%d", a, b);
	else
		snprintf(s, 16, "%d", a);
	return s;
}

/* ---------------------------------------------------------- processes */

#define MAX_PROCS 16

static struct proc {
	pid_t pid;
	char name[32];
	bool ended;
	int status;
} procs[MAX_PROCS];
static int n_procs;

static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

static void enter_host(const struct host *h)
{
	if (h->netns) {
		char path[64];

		snprintf(path, sizeof(path), "/run/netns/%s", h->netns);
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(126);
		close(fd);
	}
	setenv("VDDS_DIR", h->dir, 1);
	setenv("CYCLONEDDS_URI", h->uri, 1);
}

/* Run argv, or fn(arg), in a child that lives on `h`, output to NAME.log. It
 * dies with the test process (PDEATHSIG), so a failed test leaves nothing. */
static struct proc *start(const struct host *h, const char *name, char *const argv[],
			  int (*fn)(const void *), const void *arg)
{
	char log[PATH_MAX + 48];

	ck_assert_int_lt(n_procs, MAX_PROCS);
	snprintf(log, sizeof(log), "%s/%s.log", work, name);
	pid_t parent = getpid(), pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(124);
		enter_host(h);
		if (argv) {
			execv(argv[0], argv);
			_exit(127);
		}
		_exit(fn(arg));
	}
	struct proc *p = &procs[n_procs++];

	p->pid = pid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

static struct proc *start_bridge(const struct host *h, const char *name, ...)
{
	char dom[16];
	char *argv[24] = { (char *)bridge_bin, "--domain", dom };
	int n = 3;
	va_list ap;

	snprintf(dom, sizeof(dom), "%u", domain);
	va_start(ap, name);
	for (char *a; (a = va_arg(ap, char *)) && n < 23;)
		argv[n++] = a;
	va_end(ap);
	return start(h, name, argv, NULL, NULL);
}

static struct proc *start_peer(const struct host *h, const char *name, ...)
{
	char dom[16];
	char *argv[32] = { (char *)peer_bin };
	int n = 1;
	va_list ap;

	snprintf(dom, sizeof(dom), "%u", domain);
	va_start(ap, name);
	for (char *a; (a = va_arg(ap, char *)) && n < 27;) {
		argv[n++] = a;
		if (n == 4) { /* after MODE BOARD TOPIC */
			argv[n++] = "--domain";
			argv[n++] = dom;
		}
	}
	va_end(ap);
	return start(h, name, argv, NULL, NULL);
}

/* Notice children that ended; one that ended badly fails the test now
 * rather than when a wait for it runs out. */
static void check_procs(void)
{
	for (int i = 0; i < n_procs; i++) {
		struct proc *p = &procs[i];

		if (p->ended || waitpid(p->pid, &p->status, WNOHANG) != p->pid)
			continue;
		p->ended = true;
		ck_assert_msg(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0,
			      "%s ended badly (status 0x%x); see %s/%s.log", p->name, p->status,
			      work, p->name);
	}
}

#define AWAIT(cond, what)                                                                          \
	do {                                                                                       \
		uint64_t t0_ = bt_now_ns();                                                        \
		while (!(cond)) {                                                                  \
			check_procs();                                                             \
			ck_assert_msg(bt_now_ns() - t0_ < BT_PATIENCE_NS, "no %s", what);          \
			bt_sleep_us(1000);                                                         \
		}                                                                                  \
	} while (0)

static void expect_success(struct proc *p)
{
	AWAIT(p->ended, p->name);
}

static void kill_hard(struct proc *p)
{
	ck_assert_int_eq(kill(p->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(p->pid, &p->status, 0), p->pid);
	ck_assert(WIFSIGNALED(p->status));
	p->ended = true;
}

/* SIGTERM: a bridge must stop cleanly, with exit status 0. */
static void stop(struct proc *p)
{
	ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
	expect_success(p);
}

/* --------------------------------------------------------------- logs */

static char *read_log(const char *name)
{
	char path[PATH_MAX + 48];

	snprintf(path, sizeof(path), "%s/%s.log", work, name);
	FILE *f = fopen(path, "r");
	static char buf[1 << 20];
	size_t n = 0;

	/* a child that has not started yet has no log yet */
	ck_assert_msg(f || errno == ENOENT, "%s: %s", path, strerror(errno));
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count_in_log(const char *name, const char *needle)
{
	int n = 0;

	for (const char *p = read_log(name); (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The last counters line a bridge printed `when` for `topic`, or NULL. */
static const char *counters(const char *bridge, const char *when, const char *topic)
{
	char needle[128];
	static char line[512];
	const char *p = NULL;

	snprintf(needle, sizeof(needle), "counters (%s): topic=%s ", when, topic);
	for (const char *q = read_log(bridge); (q = strstr(q, needle)); q++)
		p = q;
	if (!p)
		return NULL;
	size_t n = strcspn(p, "\n");

	snprintf(line, sizeof(line), "%.*s", (int)n, p);
	return line;
}

/* The last counters line a bridge printed on SIGUSR1 for `topic` (NULL if
 * none yet), after asking it for another. */
static const char *poll_counters(struct proc *bridge, const char *topic)
{
	const char *line = counters(bridge->name, "SIGUSR1", topic);

	/* before it says it runs, SIGUSR1 may find it without its handling */
	if (count_in_log(bridge->name, "vdds-bridge: running"))
		ck_assert_int_eq(kill(bridge->pid, SIGUSR1), 0);
	bt_sleep_us(10000);
	return line;
}

/* in=N of a counters line: frames imported (probes, data and the end). */
static unsigned long long frames_in(const char *line)
{
	const char *p = strstr(line, " in=");

	return p ? strtoull(p + 4, NULL, 10) : 0;
}

/* Ask a running bridge for its counters, and give it a moment to print. */
static void ask_counters(struct proc *bridge)
{
	ck_assert_int_eq(kill(bridge->pid, SIGUSR1), 0);
	bt_sleep_us(10000);
}

/* ----------------------------------------------------- vdds publisher */

struct pub_role {
	const char *topic, *type;
	size_t size;     /* slot size, and payload size (the largest with vary) */
	bool vary;       /* sizes vary from BT_MIN_LEN to size */
	uint64_t count;  /* data messages; 0: until STOP */
	int go[2], n_go; /* the receivers that must see a probe first */
	int wait[2], n_wait;
	long pace_us;   /* between data messages when count is 0 */
	bool await_sub; /* publish once a subscriber (the bridge) is in */
};

static int publish(vdds_pub *pub, size_t len, uint32_t kind, uint64_t counter, uint64_t *seq)
{
	void *buf;
	int err = vdds_pub_loan(pub, &buf, 30000);

	if (err < 0) {
		fprintf(stderr, "publisher: loan: %s\n", vdds_strerror(err));
		return 1;
	}
	bt_fill(buf, len, kind, counter, ++*seq);
	return vdds_pub_publish(pub, buf, len) < 0;
}

static bool all_set(const int *list, int n)
{
	for (int i = 0; i < n; i++)
		if (!bt_get(board, list[i]))
			return false;
	return true;
}

static int run_pub(const void *arg)
{
	const struct pub_role *r = arg;
	struct vdds_pub_opts po = { .slot_size = r->size, .slot_count = 16, .type_name = r->type };
	vdds_pub *pub;
	uint64_t seq = 0, t0 = bt_now_ns();
	int err = vdds_pub_open(&pub, r->topic, &po);

	if (err < 0) {
		fprintf(stderr, "publisher: open %s: %s\n", r->topic, vdds_strerror(err));
		return 1;
	}
	for (struct vdds_pub_stats ps = { 0 }; r->await_sub && ps.subscribers == 0;) {
		if (bt_now_ns() - t0 > BT_PATIENCE_NS || vdds_pub_stats(pub, &ps) < 0)
			return 6;
		bt_sleep_us(1000);
	}
	while (!all_set(r->go, r->n_go)) {
		if (bt_now_ns() - t0 > BT_PATIENCE_NS ||
		    publish(pub, BT_MIN_LEN, BT_PROBE, 0, &seq))
			return 2;
		bt_sleep_us(2000);
	}
	for (uint64_t c = 1; r->count ? c <= r->count : !bt_get(board, STOP); c++) {
		if (publish(pub, r->vary ? bt_vary(c, r->size) : r->size, BT_DATA, c, &seq))
			return 3;
		bt_set(board, PUB_COUNT, c);
		if (r->pace_us)
			bt_sleep_us(r->pace_us);
	}
	if (publish(pub, BT_MIN_LEN, BT_END, 0, &seq))
		return 4;
	/* the bridge stops exporting when we close: stay until all arrived */
	while (!all_set(r->wait, r->n_wait))
		if (bt_now_ns() - t0 > BT_PATIENCE_NS)
			return 5;
		else
			bt_sleep_us(1000);
	vdds_pub_close(pub);
	return 0;
}

/* ---------------------------------------------------- vdds subscriber */

#define MAX_HOLD 64

struct sub_role {
	const char *topic, *type;
	uint64_t count; /* strict: data 1..count exactly once, then the end */
	bool resume;    /* reconnect; counters only rise; until STOP */
	uint64_t jump_min;
	int hold_until; /* keep every sample until this board slot is set */
	int go, done;
};

struct sub_state {
	uint64_t next, last, got;
	uint32_t epoch;
};

/* 0: go on; 1: finished; > 1: failed (the exit code). */
static int received(const struct sub_role *r, struct sub_state *st, const struct vdds_sample *s)
{
	struct bt_head h;

	if (bt_check(s->data, s->len, &h) < 0) {
		fprintf(stderr, "subscriber: damaged payload, seq %llu\n",
			(unsigned long long)s->seq);
		return 10;
	}
	if (h.kind == BT_PROBE) {
		bt_set(board, r->go, 1);
		return 0;
	}
	if (h.kind == BT_END) {
		if (!r->resume && st->next != r->count + 1) {
			fprintf(stderr, "subscriber: end after %llu of %llu\n",
				(unsigned long long)st->next - 1, (unsigned long long)r->count);
			return 11;
		}
		return r->resume ? 0 : 1;
	}
	if (!r->resume && h.counter != st->next) {
		fprintf(stderr, "subscriber: data %llu where %llu was due\n",
			(unsigned long long)h.counter, (unsigned long long)st->next);
		return 12;
	}
	if (r->resume && h.counter <= st->last) {
		fprintf(stderr, "subscriber: data %llu after %llu\n", (unsigned long long)h.counter,
			(unsigned long long)st->last);
		return 13;
	}
	bool jumped = st->got && h.counter >= st->last + r->jump_min;

	if (r->resume && jumped)
		bt_set(board, SUB_JUMPS, bt_get(board, SUB_JUMPS) + 1);
	if (s->epoch != st->epoch) {
		st->epoch = s->epoch;
		bt_set(board, SUB_EPOCHS, bt_get(board, SUB_EPOCHS) + 1);
		if (jumped)
			bt_set(board, SUB_EPOCH_JUMPED, 1);
	}
	st->next = h.counter + 1;
	st->last = h.counter;
	bt_set(board, SUB_COUNT, ++st->got);
	return 0;
}

static int run_sub(const void *arg)
{
	const struct sub_role *r = arg;
	struct vdds_sub_opts so = { .type_name = r->type, .reconnect = r->resume };
	struct sub_state st = { .next = 1 };
	struct vdds_sample held[MAX_HOLD];
	uint64_t t0 = bt_now_ns();
	vdds_sub *sub;
	int err, n_held = 0;

	/* the importing bridge creates the topic once DDS discovery found it */
	while ((err = vdds_sub_open(&sub, r->topic, &so)) == -ENOENT &&
	       bt_now_ns() - t0 < BT_PATIENCE_NS)
		bt_sleep_us(2000);
	if (err < 0) {
		fprintf(stderr, "subscriber: open %s: %s\n", r->topic, vdds_strerror(err));
		return 20;
	}
	for (int done = 0; !done;) {
		struct vdds_sample s;

		if (r->resume && bt_get(board, STOP))
			break;
		if (bt_now_ns() - t0 > BT_PATIENCE_NS) {
			fprintf(stderr, "subscriber: gave up after %llu\n",
				(unsigned long long)st.got);
			return 21;
		}
		if (n_held && r->hold_until && bt_get(board, r->hold_until))
			while (n_held) /* let go, even with nothing more to take */
				vdds_sub_release(sub, &held[--n_held]);
		err = vdds_sub_wait(sub, 100);
		if (err == -ETIMEDOUT)
			continue;
		if (err < 0) {
			fprintf(stderr, "subscriber: wait: %s\n", vdds_strerror(err));
			return 22;
		}
		while (!done && vdds_sub_take(sub, &s) == 0) {
			done = received(r, &st, &s);
			held[n_held++] = s;
			bool hold = r->hold_until && !bt_get(board, r->hold_until);

			if (!hold || n_held == MAX_HOLD || done)
				while (n_held)
					vdds_sub_release(sub, &held[--n_held]);
		}
		if (done > 1)
			return done;
	}
	vdds_sub_close(sub);
	bt_set(board, r->done, 1);
	return 0;
}

/* ----------------------------------------------------------- hosts */

static void make_host(struct host *h, const char *name, const char *netns, const char *iface,
		      const char *peer)
{
	char cfg[PATH_MAX + 48];

	h->netns = netns;
	snprintf(h->dir, sizeof(h->dir), "%s/%s", work, name);
	ck_assert_int_eq(mkdir(h->dir, 0700), 0);
	snprintf(cfg, sizeof(cfg), "%s/cyclone-%s.xml", work, name);
	/* one interface, no multicast: discovery by unicast to the peer */
	write_file(cfg,
		   "<CycloneDDS><Domain id=\"any\">"
		   "<General><Interfaces><NetworkInterface name=\"%s\"/></Interfaces>"
		   "<AllowMulticast>false</AllowMulticast></General>"
		   "<Discovery><ParticipantIndex>auto</ParticipantIndex>"
		   "<MaxAutoParticipantIndex>30</MaxAutoParticipantIndex>"
		   "<Peers><Peer address=\"%s\"/></Peers></Discovery>"
		   "</Domain></CycloneDDS>\n",
		   iface, peer);
	snprintf(h->uri, sizeof(h->uri), "file://%s", cfg);
}

static void make_loopback_host(struct host *h, const char *name)
{
	make_host(h, name, NULL, "lo", "127.0.0.1");
}

/* ------------------------------------------------------- scenarios */

/* A publisher on host a, a subscriber on host b, one bridge on each: 10,000
 * messages of 64 B and 100 of 1 MiB, at once, arrive intact and in order.
 * Keep-last DDS loses samples when a burst outruns the far side by more than
 * the depth, so the bridges run with a depth larger than either stream: with
 * nothing ever pushed out of a history, reliable DDS delivers all of it. */
static void two_hosts(struct host *a, struct host *b)
{
	struct proc *ba = start_bridge(a, "bridge-a", "--out", "*", "--depth", "16384", NULL);
	struct proc *bb = start_bridge(b, "bridge-b", "--in", "*", "--depth", "16384",
				       "--slot-size", "1M", "--slots", "16", NULL);
	struct sub_role small_sub = { .topic = "small", .count = 10000, .go = GO1, .done = DONE1 };
	struct sub_role big_sub = { .topic = "big", .count = 100, .go = GO2, .done = DONE2 };
	struct pub_role small_pub = {
		.topic = "small",
		.size = 64,
		.count = 10000,
		.go = { GO1 },
		.n_go = 1,
		.wait = { DONE1 },
		.n_wait = 1,
	};
	struct pub_role big_pub = {
		.topic = "big",
		.size = 1 << 20,
		.count = 100,
		.go = { GO2 },
		.n_go = 1,
		.wait = { DONE2 },
		.n_wait = 1,
	};
	struct proc *roles[] = {
		start(b, "sub-small", NULL, run_sub, &small_sub),
		start(b, "sub-big", NULL, run_sub, &big_sub),
		start(a, "pub-small", NULL, run_pub, &small_pub),
		start(a, "pub-big", NULL, run_pub, &big_pub),
	};

	for (int i = 0; i < 4; i++)
		expect_success(roles[i]);
	stop(ba);
	stop(bb);
	for (int i = 0; i < 2; i++) {
		const char *topic = i ? "big" : "small";
		const char *out = counters("bridge-a", "exit", topic);
		const char *in = counters("bridge-b", "exit", topic);

		ck_assert_msg(out && strstr(out, " dropped=0 "), "bridge-a: %s", out);
		ck_assert_msg(in && strstr(in, "mode=in") && strstr(in, " dropped=0 "),
			      "bridge-b: %s", in);
	}
}

START_TEST(two_hosts_in_namespaces_get_every_message_intact_and_in_order)
{
	struct host a, b;

	make_host(&a, "a", ns_a, "vbr0", "192.0.2.2");
	make_host(&b, "b", ns_b, "vbr0", "192.0.2.1");
	two_hosts(&a, &b);
}
END_TEST

START_TEST(two_hosts_on_loopback_get_every_message_intact_and_in_order)
{
	struct host a, b;

	make_loopback_host(&a, "a");
	make_loopback_host(&b, "b");
	two_hosts(&a, &b);
}
END_TEST

/* A plain DDS writer reaches a vdds subscriber through --in, and a vdds
 * publisher reaches a plain DDS reader through --out, with its seq,
 * timestamp and type name in the frame; sizes vary, both ways at once. The
 * subscriber holds every slot for a while: the bridge waits, loses nothing.
 * A name Cyclone would refuse as it is (odd-name) goes under its mapped name. */
START_TEST(plain_dds_programs_interoperate_both_ways)
{
	struct host h;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *br = start_bridge(&h, "bridge", "--in", "fromdds", "--out", "todds",
				       "odd-name", "--depth", "4096", "--slots", "8", NULL);
	/* it holds every slot until the bridge said it had to wait for one */
	struct sub_role sub = {
		.topic = "fromdds",
		.count = 1000,
		.hold_until = RELEASE,
		.go = GO1,
		.done = DONE1,
	};
	struct pub_role pub = {
		.topic = "todds",
		.type = "bt_payload",
		.size = 3000,
		.vary = true,
		.count = 1000,
		.go = { GO2 },
		.n_go = 1,
		.wait = { DONE2 },
		.n_wait = 1,
	};
	struct proc *roles[] = {
		start(&h, "sub", NULL, run_sub, &sub),
		start_peer(&h, "dds-writer", "write", board_arg, "fromdds", "--count", "1000",
			   "--size", "3000", "--vary", "--go", slots(GO1, 0), "--wait",
			   slots(DONE1, 0), NULL),
		start_peer(&h, "dds-reader", "read", board_arg, "todds", "--count", "1000",
			   "--type", "bt_payload", "--go", slots(GO2, 0), "--done", slots(DONE2, 0),
			   "--from-vdds", "--writers", "1", NULL),
		start(&h, "pub", NULL, run_pub, &pub),
	};

	const char *line;

	AWAIT((line = poll_counters(br, "fromdds")) && !strstr(line, " slot_waits=0"),
	      "the bridge waiting for a slot");
	bt_set(board, RELEASE, 1);
	for (int i = 0; i < 4; i++)
		expect_success(roles[i]);
	/* Cyclone 0.10 takes no '-' in a topic name: the mapped name has none */
	struct pub_role odd = { .topic = "odd-name", .size = 64, .pace_us = 1000 };
	struct proc *odd_pub = start(&h, "pub-odd", NULL, run_pub, &odd);

	AWAIT(count_in_log("bridge", "odd-name: exporting to DDS topic vdds/odd_hname"),
	      "the bridge exporting odd-name");
	bt_set(board, STOP, 1);
	expect_success(odd_pub);
	stop(br);
	ck_assert_ptr_nonnull(strstr(counters("bridge", "exit", "fromdds"), " dropped=0 "));
	ck_assert_ptr_nonnull(strstr(counters("bridge", "exit", "todds"), " dropped=0 "));
}
END_TEST

/* Two bridges on one host, both --in '*' --out '*': a local topic is
 * exported once, a DDS topic imported once, nothing comes back: every
 * receiver, vdds or DDS, gets every message exactly once, and each DDS
 * reader matched exactly one writer. */
START_TEST(two_bridges_on_one_host_deliver_every_message_exactly_once)
{
	struct host h;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *x = start_bridge(&h, "bridge-x", "--in", "*", "--out", "*", "--depth", "4096",
				      NULL);
	struct proc *y = start_bridge(&h, "bridge-y", "--in", "*", "--out", "*", "--depth", "4096",
				      NULL);
	struct sub_role local_sub = { .topic = "local", .count = 1000, .go = GO1, .done = DONE1 };
	struct sub_role remote_sub = {
		.topic = "remote",
		.type = "bt",
		.count = 1000,
		.go = GO3,
		.done = DONE3,
	};
	struct pub_role local_pub = {
		.topic = "local",
		.type = "bt",
		.size = 64,
		.count = 1000,
		.go = { GO1, GO2 },
		.n_go = 2,
		.wait = { DONE1, DONE2 },
		.n_wait = 2,
	};
	struct proc *roles[] = {
		start(&h, "sub-local", NULL, run_sub, &local_sub),
		start(&h, "sub-remote", NULL, run_sub, &remote_sub),
		start_peer(&h, "dds-reader-local", "read", board_arg, "local", "--count", "1000",
			   "--type", "bt", "--go", slots(GO2, 0), "--done", slots(DONE2, 0),
			   "--from-vdds", "--writers", "1", NULL),
		start_peer(&h, "dds-reader-remote", "read", board_arg, "remote", "--count", "1000",
			   "--type", "bt", "--go", slots(GO4, 0), "--done", slots(DONE4, 0),
			   "--writers", "1", NULL),
		start_peer(&h, "dds-writer-remote", "write", board_arg, "remote", "--count", "1000",
			   "--type", "bt", "--announce", "bt", "--go", slots(GO3, GO4), "--wait",
			   slots(DONE3, DONE4), NULL),
		start(&h, "pub-local", NULL, run_pub, &local_pub),
	};

	for (int i = 0; i < 6; i++)
		expect_success(roles[i]);
	stop(x);
	stop(y);
	int exported = count_in_log("bridge-x", "local: exporting") +
		       count_in_log("bridge-y", "local: exporting");
	int imported = count_in_log("bridge-x", "remote: importing") +
		       count_in_log("bridge-y", "remote: importing");
	int deferred = count_in_log("bridge-x", "bridged by another vdds-bridge") +
		       count_in_log("bridge-y", "bridged by another vdds-bridge");

	ck_assert_int_eq(exported, 1);
	ck_assert_int_eq(imported, 1);
	ck_assert_int_eq(count_in_log("bridge-x", "local: importing") +
				 count_in_log("bridge-y", "local: importing"),
			 0);
	ck_assert_int_ge(deferred, 1);
	ck_assert_int_eq(count_in_log("bridge-x", "remote: exporting") +
				 count_in_log("bridge-y", "remote: exporting"),
			 0);
}
END_TEST

/* Mid-stream, the importing bridge is SIGKILLed and restarted: the vdds
 * subscriber (reconnect option) moves to the new publisher, DDS rediscovers,
 * the stream resumes, and the counter shows the gap. Then the same for the
 * exporting bridge: the subscriber stays, the gap shows again. Each restart
 * waits until the publisher got 200 messages past the kill, so the gap is
 * there by construction, not by timing. */
START_TEST(a_bridge_killed_and_restarted_resumes_the_stream_with_a_gap)
{
	struct host a, b;

	make_loopback_host(&a, "a");
	make_loopback_host(&b, "b");
	struct proc *ba = start_bridge(&a, "bridge-a", "--out", "*", "--depth", "1024", NULL);
	struct proc *bb = start_bridge(&b, "bridge-b", "--in", "*", "--depth", "1024", NULL);
	struct sub_role sub = {
		.topic = "stream",
		.resume = true,
		.jump_min = 100,
		.go = GO1,
		.done = DONE1,
	};
	struct pub_role pub = {
		.topic = "stream",
		.size = 64,
		.count = 0,
		.go = { GO1 },
		.n_go = 1,
		.pace_us = 100,
	};
	struct proc *s = start(&b, "sub", NULL, run_sub, &sub);
	struct proc *p = start(&a, "pub", NULL, run_pub, &pub);

	AWAIT(bt_get(board, SUB_COUNT) >= 200, "first 200 messages");
	kill_hard(bb);
	uint64_t published = bt_get(board, PUB_COUNT), got = bt_get(board, SUB_COUNT);

	AWAIT(bt_get(board, PUB_COUNT) >= published + 200, "publishing on with bridge-b dead");
	bb = start_bridge(&b, "bridge-b2", "--in", "*", "--depth", "1024", NULL);
	AWAIT(bt_get(board, SUB_COUNT) >= got + 200, "the stream through a new bridge-b");
	ck_assert_uint_eq(bt_get(board, SUB_EPOCHS), 1);
	ck_assert_uint_eq(bt_get(board, SUB_EPOCH_JUMPED), 1);

	kill_hard(ba);
	published = bt_get(board, PUB_COUNT);
	got = bt_get(board, SUB_COUNT);
	AWAIT(bt_get(board, PUB_COUNT) >= published + 200, "publishing on with bridge-a dead");
	ba = start_bridge(&a, "bridge-a2", "--out", "*", "--depth", "1024", NULL);
	AWAIT(bt_get(board, SUB_COUNT) >= got + 200, "the stream through a new bridge-a");

	bt_set(board, STOP, 1);
	expect_success(p);
	expect_success(s);
	ck_assert_uint_eq(bt_get(board, SUB_EPOCHS), 1); /* bridge-b stayed */
	ck_assert_uint_ge(bt_get(board, SUB_JUMPS), 2);
	stop(ba);
	stop(bb);
}
END_TEST

/* Frames a bridge must refuse — larger than the slot, empty, of another type
 * than the topic's — are counted and logged; the bridge carries on. */
START_TEST(bad_frames_are_counted_and_logged_never_a_crash)
{
	struct host h;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *br = start_bridge(&h, "bridge", "--in", "bad", "--slot-size", "4096",
				       "--slots", "8", "--depth", "1024", NULL);
	/* the subscriber names the type: the bridge took it from the writer's
	 * USER_DATA when it created the topic */
	struct sub_role sub = {
		.topic = "bad", .type = "good", .count = 10, .go = GO1, .done = DONE1
	};
	struct proc *roles[] = {
		start(&h, "sub", NULL, run_sub, &sub),
		start_peer(&h, "dds-writer", "write", board_arg, "bad", "--bad", "--count", "10",
			   "--size", "4096", "--type", "good", "--announce", "good", "--go",
			   slots(GO1, 0), "--wait", slots(DONE1, 0), NULL),
	};

	for (int i = 0; i < 2; i++)
		expect_success(roles[i]);
	ck_assert_int_eq(kill(br->pid, SIGUSR1), 0);
	AWAIT(counters("bridge", "SIGUSR1", "bad"), "counters on SIGUSR1");
	const char *line = counters("bridge", "SIGUSR1", "bad");

	ck_assert_msg(strstr(line, " dropped=3 too_large=1 empty=1 type_mismatch=1 "), "%s", line);
	/* and `vdds info` of the topic the bridge publishes shows them */
	struct vdds__msg_info info;

	ck_assert_int_eq(vdds__introspect(h.dir, "bad", &info, 5000), 0);
	ck_assert_msg(strncmp(info.note, "vdds-bridge from DDS: in=", 25) == 0 &&
			      strstr(info.note, " dropped=3 too_large=1 empty=1 type_mismatch=1 "),
		      "note: %s", info.note);
	ck_assert_int_eq(count_in_log("bridge", "dropped a frame of 8192 bytes, larger than the "
						"4096-byte slot"),
			 1);
	ck_assert_int_eq(count_in_log("bridge", "dropped an empty frame"), 1);
	ck_assert_int_eq(count_in_log("bridge", "dropped a frame of type \"not-the-type\""), 1);
	stop(br);
	ck_assert_ptr_nonnull(strstr(counters("bridge", "exit", "bad"), " dropped=3 "));
}
END_TEST

/* --durable: a DDS reader that comes after the last frame was written gets
 * it (transient-local, the last sample). */
START_TEST(a_late_dds_reader_gets_the_last_sample_with_durable)
{
	struct host h;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *br = start_bridge(&h, "bridge", "--out", "kept", "--durable", NULL);
	struct pub_role pub = {
		.topic = "kept",
		.size = 64,
		.count = 5,
		.await_sub = true,
		.wait = { DONE1 },
		.n_wait = 1,
	};
	struct proc *p = start(&h, "pub", NULL, run_pub, &pub);

	/* five frames and the end are in DDS before the reader exists */
	const char *line;

	AWAIT((line = poll_counters(br, "kept")) && strstr(line, " out=6 "),
	      "the bridge writing all six");
	/* it sees the end (the last sample) and no data before it */
	struct proc *reader = start_peer(&h, "dds-reader", "read", board_arg, "kept", "--count",
					 "0", "--durable", "--done", slots(DONE1, 0), NULL);

	expect_success(reader);
	expect_success(p);
	stop(br);
}
END_TEST

/* Names with '-', '.' and '_' cross both ways between two hosts, each under
 * the DDS name vdds-bridge(1) documents ('_' "__", '-' "_h", '.' "_d"),
 * spelled out here by hand: plain DDS readers of vdds/camera_hfront and
 * vdds/a_db__c get what the vdds publishers of camera-front and a.b_c
 * publish, and a plain DDS writer of vdds/x_hy_dz reaches the vdds topic
 * x-y.z. DDS names that are no vdds name's image (vdds/x_xy, and vdds/a_b,
 * which a_b no longer maps to) are ignored and said so. */
START_TEST(names_with_dashes_dots_and_underscores_cross_under_their_mapped_names)
{
	struct host a, b;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&a, "a");
	make_loopback_host(&b, "b");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *ba = start_bridge(&a, "bridge-a", "--out", "camera-front", "--in", "a.b_c",
				       "x-y.z", "x*", "a*", "--depth", "4096", "--grace", "600",
				       NULL);
	struct proc *bb = start_bridge(&b, "bridge-b", "--in", "camera-front", "--out", "a.b_c",
				       "--depth", "4096", "--grace", "600", NULL);
	struct pub_role cam_pub = {
		.topic = "camera-front",
		.type = "img",
		.size = 256,
		.vary = true,
		.count = 500,
		.go = { GO1, GO2 },
		.n_go = 2,
		.wait = { DONE1, DONE2 },
		.n_wait = 2,
	};
	struct sub_role cam_sub = {
		.topic = "camera-front", .type = "img", .count = 500, .go = GO1, .done = DONE1
	};
	struct pub_role abc_pub = {
		.topic = "a.b_c",
		.type = "abc",
		.size = 64,
		.count = 500,
		.go = { GO3, GO4 },
		.n_go = 2,
		.wait = { DONE3, DONE4 },
		.n_wait = 2,
	};
	struct sub_role abc_sub = {
		.topic = "a.b_c", .type = "abc", .count = 500, .go = GO3, .done = DONE3
	};
	struct sub_role xyz_sub = { .topic = "x-y.z", .count = 500, .go = GO5, .done = DONE5 };
	struct proc *roles[] = {
		start(&b, "sub-camera", NULL, run_sub, &cam_sub),
		start(&a, "sub-abc", NULL, run_sub, &abc_sub),
		start(&a, "sub-xyz", NULL, run_sub, &xyz_sub),
		start_peer(&a, "dds-reader-camera", "read", board_arg, "camera_hfront", "--count",
			   "500", "--type", "img", "--go", slots(GO2, 0), "--done", slots(DONE2, 0),
			   "--from-vdds", "--writers", "1", NULL),
		start_peer(&b, "dds-reader-abc", "read", board_arg, "a_db__c", "--count", "500",
			   "--type", "abc", "--go", slots(GO4, 0), "--done", slots(DONE4, 0),
			   "--from-vdds", "--writers", "1", NULL),
		start_peer(&b, "dds-writer-xyz", "write", board_arg, "x_hy_dz", "--count", "500",
			   "--go", slots(GO5, 0), "--wait", slots(DONE5, 0), NULL),
		start(&a, "pub-camera", NULL, run_pub, &cam_pub),
		start(&b, "pub-abc", NULL, run_pub, &abc_pub),
	};
	struct proc *junk[] = {
		start_peer(&b, "dds-writer-junk1", "writers", board_arg, "x_xy", "--count", "1",
			   "--go", slots(MADE1, 0), "--wait", slots(LEAVE1, 0), NULL),
		start_peer(&b, "dds-writer-junk2", "writers", board_arg, "a_b", "--count", "1",
			   "--go", slots(MADE2, 0), "--wait", slots(LEAVE2, 0), NULL),
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		expect_success(roles[i]);
	AWAIT(count_in_log("bridge-a", "ignoring DDS topic vdds/x_xy: not a vdds topic name") ==
			      1 &&
		      count_in_log("bridge-a",
				   "ignoring DDS topic vdds/a_b: not a vdds topic name") == 1,
	      "bridge-a ignoring the DDS names that are no vdds name's image");
	bt_set(board, LEAVE1, 1);
	bt_set(board, LEAVE2, 1);
	expect_success(junk[0]);
	expect_success(junk[1]);
	stop(ba);
	stop(bb);
	ck_assert_int_eq(count_in_log("bridge-a", "camera-front: exporting to DDS topic "
						  "vdds/camera_hfront (type \"img\")"),
			 1);
	ck_assert_int_eq(count_in_log("bridge-b", "camera-front: importing from DDS topic "
						  "vdds/camera_hfront (type \"img\")"),
			 1);
	ck_assert_int_eq(count_in_log("bridge-b", "a.b_c: exporting to DDS topic vdds/a_db__c"), 1);
	ck_assert_int_eq(count_in_log("bridge-a", "a.b_c: importing from DDS topic vdds/a_db__c"),
			 1);
	ck_assert_int_eq(count_in_log("bridge-a", "x-y.z: importing from DDS topic vdds/x_hy_dz"),
			 1);
	const char *topics[] = { "camera-front", "a.b_c", "x-y.z" };

	for (int i = 0; i < 3; i++) {
		const char *in = counters(i == 1 || i == 2 ? "bridge-a" : "bridge-b", "exit",
					  topics[i]);

		ck_assert_msg(in && strstr(in, "mode=in") && frames_in(in) >= 501, "%s: %s",
			      topics[i], in);
		ck_assert_msg(strstr(in, " dropped=0 "), "%s: %s", topics[i], in);
	}
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int count_fds(pid_t pid)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	return count_entries(dir);
}

/* 300 DDS writers on 300 topics appear, are imported, and leave (deleted
 * one by one); after the grace period every import has ended and the
 * bridge's file descriptors and the runtime directory are back where they
 * were. Again with the writers' participant leaving whole, and ten writers
 * more than --peer-writers, which are not counted. Then 300 writers
 * of topics no --in pattern takes: nothing held, and the log names a
 * bounded number of them, then only counts. */
START_TEST(three_hundred_dds_writers_come_and_go_and_leave_nothing_behind)
{
	struct host h;
	char board_arg[PATH_MAX + 8];

	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *br = start_bridge(&h, "bridge", "--in", "churn*", "--grace", "1",
				       "--peer-writers", "300", NULL);

	AWAIT(count_in_log("bridge", "vdds-bridge: running"), "the bridge running");
	/* the baseline: the same count three times in a row, 50 ms apart (Cyclone's
	 * threads may still be settling) */
	int fds0 = -1, files0 = -1, same = 0;

	for (uint64_t t0 = bt_now_ns(); same < 3;) {
		ck_assert_msg(bt_now_ns() - t0 < BT_PATIENCE_NS, "no steady fd count");
		int fds = count_fds(br->pid), files = count_entries(h.dir);

		same = fds == fds0 && files == files0 ? same + 1 : 1;
		fds0 = fds;
		files0 = files;
		bt_sleep_us(50000);
	}

	for (int wave = 0; wave < 2; wave++) {
		const char *name = wave ? "churn-whole" : "churn-one-by-one";
		int made = wave ? MADE2 : MADE1, leave = wave ? LEAVE2 : LEAVE1;
		/* the second time ten more than the bridge counts of one participant */
		struct proc *w = start_peer(&h, name, "writers", board_arg, "churn", "--count",
					    wave ? "310" : "300", "--announce", "t", "--go",
					    slots(made, 0), "--wait", slots(leave, 0),
					    wave ? "--whole" : NULL, NULL);

		AWAIT(count_in_log("bridge", "importing from DDS topic") == 300 * (wave + 1),
		      "300 imports");
		/* each import holds a publisher, its lock and its files */
		ck_assert_int_ge(count_fds(br->pid), fds0 + 300);
		ck_assert_int_ge(count_entries(h.dir), files0 + 300);
		bt_set(board, leave, 1);
		expect_success(w);
		AWAIT(count_in_log("bridge", "import ended") == 300 * (wave + 1),
		      "300 imports ended after the grace period");
		AWAIT(count_fds(br->pid) == fds0 && count_entries(h.dir) == files0,
		      "fds and runtime-directory files back to where they were");
	}
	ck_assert_int_eq(count_in_log("bridge", "writers of vdds topics (--peer-writers): more are "
						"ignored"),
			 1);
	/* topics no pattern takes: no state, a bounded log */
	struct proc *w = start_peer(&h, "other", "writers", board_arg, "other", "--count", "300",
				    "--announce", "t", "--go", slots(MADE3, 0), "--wait",
				    slots(LEAVE3, 0), NULL);
	AWAIT((ask_counters(br),
	       count_in_log("bridge", "writers_ignored=300 writers_over_peer=10")),
	      "300 writers ignored");
	ck_assert_int_eq(count_fds(br->pid), fds0);
	ck_assert_int_eq(count_entries(h.dir), files0);
	ck_assert_int_eq(count_in_log("bridge", "ignoring DDS topic vdds/other"), 32);
	ck_assert_int_eq(count_in_log("bridge", "more are counted, not named"), 1);
	bt_set(board, LEAVE3, 1);
	expect_success(w);
	stop(br);
	ck_assert_int_eq(count_in_log("bridge", "ignoring DDS topic"), 32);
}
END_TEST

/* A writer announcing another type than the topic's is refused instead of
 * deciding it. pa: the legitimate writer is first; a poisoner (its type an
 * escape sequence) and one announcing a 100-byte type name join; both are
 * refused and counted, the poisoner's frames dropped, the legitimate frames
 * all arrive, and nothing of the escape sequence reaches the log raw. pb:
 * the poisoner is first and decides the type; the legitimate writer that
 * comes next is refused until the poisoner has left and the import ended
 * after its grace period; then the topic is re-typed by the writer present
 * and its frames flow. A local publisher's type, exported, is escaped too. */
START_TEST(a_poisoning_writer_is_refused_and_cannot_take_a_topic_for_good)
{
	static const char esc_type[] = "\033]0;PWNED\007\033[31mRED";
	static const char esc_shown[] = "\\x1b]0;PWNED\\x07\\x1b[31mRED";
	char long_type[101], board_arg[PATH_MAX + 8];
	struct host h;

	memset(long_type, 'x', 100);
	long_type[100] = '\0';
	make_loopback_host(&h, "h");
	snprintf(board_arg, sizeof(board_arg), "%s", board_path);
	struct proc *br = start_bridge(&h, "bridge", "--in", "p*", "--out", "esc", "--grace", "1",
				       "--depth", "1024", NULL);
	/* a local publisher's type reaches the log too: when it is exported */
	struct pub_role esc_pub = {
		.topic = "esc", .type = esc_type, .size = 64, .count = 1, .await_sub = true
	};
	struct proc *ep = start(&h, "pub-esc", NULL, run_pub, &esc_pub);

	expect_success(ep);
	AWAIT(count_in_log("bridge", "esc: exporting to DDS topic vdds/esc (type \"\\x1b]0;PWNED"),
	      "the bridge exporting esc");
	struct sub_role sub_a = {
		.topic = "pa", .type = "good", .count = 500, .go = GO1, .done = DONE1
	};
	struct proc *sa = start(&h, "sub-pa", NULL, run_sub, &sub_a);
	struct proc *la = start_peer(&h, "legit-pa", "write", board_arg, "pa", "--count", "500",
				     "--type", "good", "--announce", "good", "--go",
				     slots(GO1, POISONED), "--wait", slots(DONE1, LEAVE3), NULL);

	AWAIT(count_in_log("bridge", "pa: importing from DDS topic vdds/pa (type \"good\")"),
	      "pa imported as good");
	struct proc *pa = start_peer(&h, "poison-pa", "writers", board_arg, "pa", "--count", "1",
				     "--announce", esc_type, "--type", esc_type, "--frames",
				     "--wait", slots(LEAVE1, 0), NULL);
	struct proc *ta = start_peer(&h, "toolong-pa", "writers", board_arg, "pa", "--count", "1",
				     "--announce", long_type, "--wait", slots(LEAVE1, 0), NULL);

	AWAIT(count_in_log("bridge", "pa: a DDS writer of type \"") &&
		      count_in_log("bridge", "pa: a DDS writer announcing a type name over 63"),
	      "the bridge refusing both writers of pa");
	AWAIT(count_in_log("bridge", "pa: dropped a frame of type"), "a poisoned frame dropped");
	bt_set(board, POISONED, 1);
	expect_success(sa);
	/* asked while the legitimate writer stays: the import is there */
	const char *line;

	AWAIT((line = poll_counters(br, "pa")) && strstr(line, " writers_refused=2"),
	      "pa's counters with two writers refused");
	ck_assert_msg(strstr(line, "mode=in ") && frames_in(line) >= 501 &&
			      !strstr(line, " type_mismatch=0 "),
		      "%s", line);
	bt_set(board, LEAVE1, 1);
	expect_success(pa);
	expect_success(ta);

	/* pb: the poisoner first */
	struct proc *pb = start_peer(&h, "poison-pb", "writers", board_arg, "pb", "--count", "1",
				     "--announce", "evil", "--type", "evil", "--frames", "--wait",
				     slots(LEAVE2, 0), NULL);

	AWAIT(count_in_log("bridge", "pb: importing from DDS topic vdds/pb (type \"evil\")"),
	      "pb imported as the poisoner said");
	struct sub_role sub_b = {
		.topic = "pb", .type = "good", .count = 500, .go = GO2, .done = DONE2
	};
	struct proc *lb = start_peer(&h, "legit-pb", "write", board_arg, "pb", "--count", "500",
				     "--type", "good", "--announce", "good", "--go", slots(GO2, 0),
				     "--wait", slots(DONE2, LEAVE3), NULL);

	AWAIT(count_in_log("bridge", "pb: a DDS writer of type \"good\" refused"),
	      "the legitimate writer of pb refused while the poisoner is there");
	bt_set(board, LEAVE2, 1);
	expect_success(pb);
	AWAIT(count_in_log("bridge", "pb: importing from DDS topic vdds/pb (type \"good\")"),
	      "pb re-typed by the writer present");
	struct proc *sb = start(&h, "sub-pb", NULL, run_sub, &sub_b);

	expect_success(sb);
	AWAIT((line = poll_counters(br, "pb")) && strstr(line, " writers_refused=1"),
	      "pb's counters with one writer refused");
	ck_assert_msg(strstr(line, "mode=in ") && frames_in(line) >= 501, "%s", line);
	bt_set(board, LEAVE3, 1);
	expect_success(la);
	expect_success(lb);
	stop(br);
	/* the escape sequence is shown escaped, never raw */
	const char *log = read_log("bridge");

	ck_assert_ptr_null(strchr(log, '\033'));
	ck_assert_ptr_null(strchr(log, '\007'));
	ck_assert_int_ge(count_in_log("bridge", esc_shown), 2); /* refused, dropped */
}
END_TEST

/* ---------------------------------------------------------- set-up */

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	return system(cmd) == 0 ? 0 : -1;
}

static void delete_namespaces(void)
{
	if (ns_a[0])
		sh("ip netns delete %s", ns_a);
	if (ns_b[0])
		sh("ip netns delete %s", ns_b);
}

/* Two namespaces joined by a veth pair, 192.0.2.1 and .2 (TEST-NET-1): all
 * traffic stays inside them. Returns NULL, or why it could not be done. */
static const char *make_namespaces(void)
{
	int pid = (int)getpid();

	if (geteuid() != 0)
		return "network namespaces need root";
	if (sh("ip -V") < 0)
		return "no ip command (Debian package iproute2)";
	snprintf(ns_a, sizeof(ns_a), "vddsbr-%d-a", pid);
	if (sh("ip netns add %s", ns_a) < 0) {
		ns_a[0] = '\0';
		return "ip netns add failed (no CAP_SYS_ADMIN, or no /run/netns)";
	}
	snprintf(ns_b, sizeof(ns_b), "vddsbr-%d-b", pid);
	if (sh("ip netns add %s", ns_b) < 0) {
		ns_b[0] = '\0';
		return "ip netns add failed for the second namespace";
	}
	if (sh("ip -n %s link add vbr0 type veth peer name vbr0 netns %s", ns_a, ns_b) < 0)
		return "cannot create a veth pair (no veth module?)";
	for (int i = 0; i < 2; i++) {
		const char *ns = i ? ns_b : ns_a;

		if (sh("ip -n %s addr add 192.0.2.%d/24 dev vbr0", ns, i + 1) < 0 ||
		    sh("ip -n %s link set vbr0 up", ns) < 0 ||
		    sh("ip -n %s link set lo up", ns) < 0)
			return "cannot address or bring up the veth pair";
	}
	return NULL;
}

/* Loopback tests run in a namespace of their own where one can be made:
 * nothing else on the machine then shares their DDS domain. */
static void isolate_loopback(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("test_bridge: no network namespace of our own (%s): loopback of this one, "
		       "DDS domain %u\n",
		       strerror(errno), domain);
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		fprintf(stderr, "test_bridge: cannot bring lo up in a new namespace\n");
		exit(1);
	}
	close(fd);
}

static void print_logs(void)
{
	DIR *d = opendir(work);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[PATH_MAX + 300];

		if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "tail -n 25 %s/%s", work, e->d_name);
		printf("---- %s (last 25 lines)\n", e->d_name);
		fflush(stdout);
		if (system(path) != 0)
			printf("(unreadable)\n");
	}
	if (d)
		closedir(d);
}

static const char *const scenarios[] = {
	"two_hosts_netns", "two_hosts_loopback",
	"interop",         "loops",
	"restart",         "bad_input",
	"durable",         "names",
	"churn",           "poison",
};

/* (Check's test handles are not constants: no table of them.) */
static const TTest *scenario_test(int i)
{
	switch (i) {
	case 0: return two_hosts_in_namespaces_get_every_message_intact_and_in_order;
	case 1: return two_hosts_on_loopback_get_every_message_intact_and_in_order;
	case 2: return plain_dds_programs_interoperate_both_ways;
	case 3: return two_bridges_on_one_host_deliver_every_message_exactly_once;
	case 4: return a_bridge_killed_and_restarted_resumes_the_stream_with_a_gap;
	case 5: return bad_frames_are_counted_and_logged_never_a_crash;
	case 6: return a_late_dds_reader_gets_the_last_sample_with_durable;
	case 7: return names_with_dashes_dots_and_underscores_cross_under_their_mapped_names;
	case 8: return three_hundred_dds_writers_come_and_go_and_leave_nothing_behind;
	default: return a_poisoning_writer_is_refused_and_cannot_take_a_topic_for_good;
	}
}

int main(int argc, char **argv)
{
	int which = -1;

	for (size_t i = 0; argc == 4 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(argv[1], scenarios[i]) == 0)
			which = (int)i;
	if (which < 0) {
		fprintf(stderr, "usage: test_bridge SCENARIO BRIDGE_BIN DDS_PEER_BIN\n");
		return 2;
	}
	bridge_bin = argv[2];
	peer_bin = argv[3];
	/* a domain of its own where no namespace separates concurrent runs */
	domain = 1 + (unsigned)getpid() % 200;
	snprintf(work, sizeof(work), "/tmp/vdds-bridge-test-XXXXXX");
	if (!mkdtemp(work)) {
		perror("test_bridge: mkdtemp");
		return 1;
	}
	snprintf(board_path, sizeof(board_path), "%s/board", work);
	int fd = open(board_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, sizeof(struct bt_board)) < 0 ||
	    !(board = bt_board_map(board_path))) {
		perror("test_bridge: board");
		return 1;
	}
	close(fd);
	if (which == 0) {
		const char *why = make_namespaces();

		if (why) {
			printf("test_bridge: skipped: %s\n", why);
			delete_namespaces();
			sh("rm -rf %s", work);
			return SKIP;
		}
	} else {
		isolate_loopback();
	}

	Suite *s = suite_create("bridge");
	TCase *tc = tcase_create(scenarios[which]);

	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, scenario_test(which));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	delete_namespaces();
	if (failed)
		print_logs();
	if (failed || getenv("VDDS_BRIDGE_TEST_KEEP")) {
		printf("test_bridge: logs kept in %s\n", work);
	} else {
		sh("rm -rf %s", work);
	}
	return failed ? 1 : 0;
}
