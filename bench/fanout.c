/* fanout.c — one publisher (any overflow policy), N subscriber processes (busy or sleeping, one
 * optionally slow): msgs/s, the publisher's CPU time, wakeups and syscalls, the topic's memory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "common.h"
#include "vdds.h"

#define TOPIC "fanout"
#define MSG_LEN 64
#define STOP UINT64_MAX /* the last message's first word */
#define MAX_SUBS 64
#define CONNECT_TRIES 5000 /* 1 ms apart */

struct config {
	long subs;
	int busy;
	long messages; /* stop after this many, or */
	long millis;   /* after this long */
	long pace_us;  /* sleep between messages (for counting syscalls) */
	int overflow;  /* enum vdds_overflow */
	long slow_us;  /* > 0: subscriber 0 sleeps this long after each sample */
};

static const char *const overflow_names[] = {
	[VDDS_OVERFLOW_BLOCK] = "block",
	[VDDS_OVERFLOW_DROP_OLDEST] = "drop",
	[VDDS_OVERFLOW_FAIL] = "fail",
};

/* What each subscriber reports to the publisher's process at the end. */
struct sub_result {
	uint64_t received; /* including the stop message */
	uint64_t gaps;     /* sequence numbers that did not follow */
	uint64_t missed;   /* the sum of those jumps (seq starts at 1) */
	uint64_t lost;     /* vdds_sub_stats().lost: taken back (DROP_OLDEST) */
	uint64_t end_ns;   /* when the stop message was taken */
	uint32_t slow;     /* this was the slow one */
};

struct sub_arg {
	const struct config *cfg;
	int result_fd;
	int cpu; /* -1: not pinned */
	int slow;
};

static int vfail(const char *what, int err)
{
	fprintf(stderr, "fanout[%d]: %s: %s (%d)\n", (int)getpid(), what, vdds_strerror(err), err);
	return -1;
}

/* ------------------------------------------------------------ subscriber */

/* The slow one sleeps after releasing each sample: it holds one at a time,
 * and what queues up behind it is what DROP_OLDEST may take back. */
static int sub_loop(vdds_sub *sub, int busy, long slow_ns, struct sub_result *res)
{
	struct vdds_sample s;
	uint64_t word, last_seq = 0;
	int err;

	for (;;) {
		err = vdds_sub_take(sub, &s);
		if (err == -EAGAIN) {
			if (!busy && (err = vdds_sub_wait(sub, -1)) < 0)
				return vfail("vdds_sub_wait", err);
			continue;
		}
		if (err < 0)
			return vfail("vdds_sub_take", err);
		memcpy(&word, s.data, sizeof(word));
		if (s.seq != last_seq + 1) {
			if (s.seq <= last_seq) {
				fprintf(stderr, "fanout: seq %" PRIu64 " after %" PRIu64 "\n",
					s.seq, last_seq);
				return -1;
			}
			res->gaps++;
			res->missed += s.seq - last_seq - 1;
		}
		last_seq = s.seq;
		res->received++;
		if ((err = vdds_sub_release(sub, &s)) < 0)
			return vfail("vdds_sub_release", err);
		if (word == STOP)
			break;
		if (slow_ns > 0)
			bench_sleep_ns(slow_ns);
	}
	res->end_ns = bench_now_ns();
	return 0;
}

static int sub_main(void *argp)
{
	const struct sub_arg *a = argp;
	int busy = a->cfg->busy && !a->slow; /* the slow one always sleeps */
	struct vdds_sub_opts o = { .busy_poll = busy };
	struct sub_result res = { .slow = (uint32_t)a->slow };
	struct vdds_sub_stats st = { 0 };
	vdds_sub *sub = NULL;
	ssize_t n;
	int err = -ENOENT;

	if (a->cpu >= 0 && bench_pin_cpu(a->cpu) < 0)
		return -1;
	for (int t = 0; t < CONNECT_TRIES && err == -ENOENT; t++) {
		err = vdds_sub_open(&sub, TOPIC, &o);
		if (err == -ENOENT)
			bench_sleep_ns(1000000L);
	}
	if (err < 0)
		return vfail("vdds_sub_open", err);
	err = sub_loop(sub, busy, a->slow ? a->cfg->slow_us * 1000L : 0, &res);
	if (err == 0 && (err = vdds_sub_stats(sub, &st)) < 0)
		vfail("vdds_sub_stats", err);
	vdds_sub_close(sub);
	if (err < 0)
		return -1;
	res.lost = st.lost;
	/* one write of less than PIPE_BUF: atomic, whoever else writes */
	n = write(a->result_fd, &res, sizeof(res));
	if (n != (ssize_t)sizeof(res)) {
		perror("fanout: write result");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- publisher */

/* Bytes mapped from memfds whose name contains `name`, from /proc/self/maps. */
static long mapped_bytes(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long lo, hi;
	long total = 0;

	if (f == NULL) {
		perror("fanout: /proc/self/maps");
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, name) != NULL && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			total += (long)(hi - lo);
	if (fclose(f) == EOF)
		return -1;
	return total;
}

/* This thread's read and write syscall counts (syscr, syscw). */
static int io_counts(uint64_t *syscr, uint64_t *syscw)
{
	FILE *f = fopen("/proc/thread-self/io", "re");
	char key[32];
	uint64_t v;
	int found = 0;

	if (f == NULL) {
		perror("fanout: /proc/thread-self/io");
		return -1;
	}
	while (fscanf(f, "%31s %" SCNu64, key, &v) == 2) {
		if (strcmp(key, "syscr:") == 0) {
			*syscr = v;
			found++;
		} else if (strcmp(key, "syscw:") == 0) {
			*syscw = v;
			found++;
		}
	}
	if (fclose(f) == EOF || found != 2) {
		fprintf(stderr, "fanout: cannot read /proc/thread-self/io\n");
		return -1;
	}
	return 0;
}

/* Returns 0 (published), 1 (the policy refused a slot: -EAGAIN under FAIL,
 * -ENOBUFS under DROP_OLDEST; the sample is dropped, as such a user would)
 * or -1. */
static int publish_one(vdds_pub *pub, uint64_t word)
{
	uint64_t line[MSG_LEN / 8];
	void *buf;
	int err;

	for (size_t k = 0; k < MSG_LEN / 8; k++)
		line[k] = word;
	if ((err = vdds_pub_loan(pub, &buf, -1)) < 0)
		return err == -EAGAIN || err == -ENOBUFS ? 1 : vfail("vdds_pub_loan", err);
	memcpy(buf, line, MSG_LEN);
	if ((err = vdds_pub_publish(pub, buf, MSG_LEN)) < 0)
		return vfail("vdds_pub_publish", err);
	return 0;
}

/* The stop message must get through, whatever the policy: retried. */
static int publish_stop(vdds_pub *pub)
{
	int rc;

	while ((rc = publish_one(pub, STOP)) == 1)
		bench_sleep_ns(10000L);
	return rc;
}

static int await_subscribers(vdds_pub *pub, long want)
{
	struct vdds_pub_stats st;
	int err;

	for (int t = 0; t < CONNECT_TRIES; t++) {
		if ((err = vdds_pub_stats(pub, &st)) < 0)
			return vfail("vdds_pub_stats", err);
		if (st.subscribers == (uint32_t)want)
			return 0;
		bench_sleep_ns(1000000L);
	}
	fprintf(stderr, "fanout: only %u of %ld subscribers connected\n", st.subscribers, want);
	return -1;
}

/* Offer samples until the count or the time is reached, then the stop
 * message. Returns how many were published (the stop message included), or
 * -1; *refused counts the samples the policy refused a slot. */
static long publish_all(const struct config *cfg, vdds_pub *pub, uint64_t t0, long *refused)
{
	uint64_t limit = (uint64_t)cfg->millis * 1000000u;
	long i;
	int rc;

	*refused = 0;
	for (i = 0; cfg->messages == 0 || i < cfg->messages; i++) {
		if (cfg->millis > 0 && (i & 63) == 0 && bench_now_ns() - t0 >= limit)
			break;
		if ((rc = publish_one(pub, (uint64_t)i)) < 0)
			return -1;
		*refused += rc;
		if (cfg->pace_us > 0)
			bench_sleep_ns(cfg->pace_us * 1000L);
	}
	return publish_stop(pub) < 0 ? -1 : i + 1 - *refused;
}

struct measure {
	long published; /* the stop message included */
	long refused;   /* loans refused by the policy: samples dropped */
	uint64_t t0, t1;
	uint64_t cpu_ns; /* the publisher process (RUSAGE_SELF), from t0 to t1 */
	uint64_t syscr, syscw;
	struct vdds_pub_stats st;
	long topic_bytes, lane_bytes;
};

/* User plus system time of this process (every thread, no children). */
static int cpu_ns(uint64_t *ns)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0) {
		perror("fanout: getrusage");
		return -1;
	}
	*ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	      ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
	return 0;
}

static int run_publisher(const struct config *cfg, struct measure *m)
{
	struct vdds_pub_opts o = { .overflow = (uint32_t)cfg->overflow }; /* else the defaults */
	struct vdds_pub_stats st0;
	uint64_t r0 = 0, w0 = 0, r1 = 0, w1 = 0, c0 = 0, c1 = 0;
	vdds_pub *pub = NULL;
	int err, rc = -1;

	if ((err = vdds_pub_open(&pub, TOPIC, &o)) < 0)
		return vfail("vdds_pub_open", err);
	if (await_subscribers(pub, cfg->subs) < 0)
		goto out;
	m->topic_bytes = mapped_bytes("memfd:vdds-topic");
	m->lane_bytes = mapped_bytes("memfd:vdds-lane");
	if ((err = vdds_pub_stats(pub, &st0)) < 0) {
		vfail("vdds_pub_stats", err);
		goto out;
	}
	if (m->topic_bytes < 0 || m->lane_bytes < 0 || io_counts(&r0, &w0) < 0 || cpu_ns(&c0) < 0)
		goto out;
	m->t0 = bench_now_ns();
	m->published = publish_all(cfg, pub, m->t0, &m->refused);
	m->t1 = bench_now_ns();
	if (m->published < 0 || io_counts(&r1, &w1) < 0 || cpu_ns(&c1) < 0)
		goto out;
	if ((err = vdds_pub_stats(pub, &m->st)) < 0) {
		vfail("vdds_pub_stats", err);
		goto out;
	}
	m->st.wakeups -= st0.wakeups;
	m->st.dropped -= st0.dropped;
	m->st.blocked -= st0.blocked;
	m->st.blocked_ns -= st0.blocked_ns;
	m->cpu_ns = c1 - c0;
	m->syscr = r1 - r0;
	m->syscw = w1 - w0;
	rc = 0;
out:
	vdds_pub_close(pub);
	return rc;
}

/* ------------------------------------------------------------------ main */

static int parse_overflow(const char *s, int *overflow)
{
	for (size_t k = 0; k < sizeof(overflow_names) / sizeof(overflow_names[0]); k++)
		if (strcmp(s, overflow_names[k]) == 0) {
			*overflow = (int)k;
			return 0;
		}
	return -1;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "subs", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "messages", required_argument, NULL, 'm' },
		{ "millis", required_argument, NULL, 't' },
		{ "pace-us", required_argument, NULL, 'p' },
		{ "overflow", required_argument, NULL, 'o' },
		{ "slow-us", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, ok;

	*cfg = (struct config){ .subs = 1, .millis = 1000 };
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		ok = 1;
		if (opt == 's')
			ok = bench_parse_long(optarg, 1, MAX_SUBS, &cfg->subs) == 0;
		else if (opt == 'w' && strcmp(optarg, "busy") == 0)
			cfg->busy = 1;
		else if (opt == 'w' && strcmp(optarg, "sleep") == 0)
			cfg->busy = 0;
		else if (opt == 'm')
			ok = bench_parse_long(optarg, 1, 1000000000L, &cfg->messages) == 0;
		else if (opt == 't')
			ok = bench_parse_long(optarg, 1, 600000L, &cfg->millis) == 0;
		else if (opt == 'p')
			ok = bench_parse_long(optarg, 0, 1000000L, &cfg->pace_us) == 0;
		else if (opt == 'o')
			ok = parse_overflow(optarg, &cfg->overflow) == 0;
		else if (opt == 'u')
			ok = bench_parse_long(optarg, 0, 1000000L, &cfg->slow_us) == 0;
		else
			ok = 0;
		if (!ok)
			goto usage;
	}
	if (optind == argc) {
		if (cfg->messages > 0)
			cfg->millis = 0; /* --messages wins */
		return 0;
	}
usage:
	fprintf(stderr,
		"usage: %s [--subs N] [--wait busy|sleep] [--messages M | --millis T]\n"
		"          [--pace-us P] [--overflow block|drop|fail] [--slow-us S]\n"
		"  --subs      subscriber processes, 1..%d (default 1)\n"
		"  --wait      busy: busy_poll spin on take; sleep: vdds_sub_wait (default)\n"
		"  --messages  offer M samples of %d B, or\n"
		"  --millis    offer samples for T ms (default 1000)\n"
		"  --pace-us   sleep P us after each sample (default 0)\n"
		"  --overflow  the publisher's policy when no slot is free: block (default),\n"
		"              drop (DROP_OLDEST) or fail (FAIL; a refused sample is dropped)\n"
		"  --slow-us   one subscriber sleeps S us after each sample (it waits by\n"
		"              sleeping whatever --wait says; default 0: none is slow)\n",
		argv[0], MAX_SUBS, MSG_LEN);
	return -1;
}

static int collect(const struct config *cfg, int fd, const int *pids, struct sub_result *res)
{
	int rc = 0;

	for (long k = 0; k < cfg->subs; k++) {
		ssize_t n = read(fd, &res[k], sizeof(res[k]));

		if (n != (ssize_t)sizeof(res[k])) {
			fprintf(stderr, "fanout: %s\n",
				n < 0 ? strerror(errno) : "a subscriber ended without its result");
			rc = -1;
			break;
		}
	}
	for (long k = 0; k < cfg->subs; k++) {
		if (rc < 0)
			bench_kill(pids[k]);
		if (bench_reap(pids[k], "subscriber") < 0)
			rc = -1;
	}
	return rc;
}

/* What the subscribers' results add up to. */
struct totals {
	uint64_t end_ns; /* the last stop message taken */
	uint64_t slow_received, slow_lost;
	uint64_t fast_lost; /* lost by all the others together */
};

/* Every subscriber got every sample published or was told it lost it, its
 * seq jumping by exactly as many; and only DROP_OLDEST loses any. */
static int check(const struct config *cfg, const struct measure *m, const struct sub_result *res,
		 struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (long k = 0; k < cfg->subs; k++) {
		const struct sub_result *r = &res[k];

		if (r->received + r->lost != (uint64_t)m->published || r->missed != r->lost ||
		    (cfg->overflow != VDDS_OVERFLOW_DROP_OLDEST && r->lost != 0)) {
			fprintf(stderr,
				"fanout: a%s subscriber took %" PRIu64 " of %ld, lost %" PRIu64
				" (seq jumped by %" PRIu64 " in %" PRIu64 " gaps)%s\n",
				r->slow ? " slow" : "", r->received, m->published, r->lost,
				r->missed, r->gaps,
				cfg->overflow != VDDS_OVERFLOW_DROP_OLDEST
					? ": BLOCK and FAIL lose nothing"
					: "");
			return -1;
		}
		if (r->end_ns > t->end_ns)
			t->end_ns = r->end_ns;
		if (r->slow) {
			t->slow_received = r->received;
			t->slow_lost = r->lost;
		} else {
			t->fast_lost += r->lost;
		}
	}
	return 0;
}

/* One line of key=value. msgs_per_s: until the last subscriber had the stop
 * message; pub_msgs_per_s: the publisher's own rate (they differ by what a
 * slow subscriber still had to take). cpu_ns_per_msg: the publisher
 * process's CPU time (user + system) per sample published. */
static void report(const struct config *cfg, const struct measure *m, const struct totals *t)
{
	double secs = (double)(t->end_ns - m->t0) / 1e9;
	double pub_secs = (double)(m->t1 - m->t0) / 1e9;
	double msgs = (double)m->published;

	printf("subs=%ld wait=%s msgs=%ld seconds=%.3f msgs_per_s=%.0f deliveries_per_s=%.0f"
	       " wakeups_per_msg=%.3f syscr_per_msg=%.3f syscw_per_msg=%.3f"
	       " topic_bytes=%ld lane_bytes=%ld",
	       cfg->subs, cfg->busy ? "busy" : "sleep", m->published, secs, msgs / secs,
	       msgs * (double)cfg->subs / secs, (double)m->st.wakeups / msgs,
	       (double)m->syscr / msgs, (double)m->syscw / msgs, m->topic_bytes,
	       m->lane_bytes / cfg->subs);
	printf(" overflow=%s slow_us=%ld pace_us=%ld pub_seconds=%.3f pub_msgs_per_s=%.0f "
	       "cpu_ns_per_msg=%.0f"
	       " cpu_load=%.3f blocked_per_msg=%.3f blocked_ns_per_msg=%.0f dropped=%" PRIu64
	       " refused=%ld slow_received=%" PRIu64 " slow_lost=%" PRIu64 " fast_lost=%" PRIu64
	       "\n",
	       overflow_names[cfg->overflow], cfg->slow_us, cfg->pace_us, pub_secs, msgs / pub_secs,
	       (double)m->cpu_ns / msgs, (double)m->cpu_ns / 1e9 / pub_secs,
	       (double)m->st.blocked / msgs, (double)m->st.blocked_ns / msgs, m->st.dropped,
	       m->refused, t->slow_received, t->slow_lost, t->fast_lost);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct measure m;
	struct sub_result res[MAX_SUBS];
	struct totals tot;
	char dir[PATH_MAX] = "";
	int pids[MAX_SUBS], res_pipe[2] = { -1, -1 };
	long started = 0;
	int two_cpus, rc = 1;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	memset(&m, 0, sizeof(m));
	if (bench_make_rundir(dir, sizeof(dir)) < 0)
		return 1;
	if (pipe2(res_pipe, O_CLOEXEC) < 0) {
		perror("fanout: pipe2");
		goto out;
	}
	/* The publisher on CPU 0, the subscribers on CPU 1: the same placement
	 * every run (unpinned, results swing by 10x with the scheduler's
	 * choices); and subscribers first, before the publisher has threads. */
	two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (two_cpus && bench_pin_cpu(0) < 0)
		goto out;
	for (; started < cfg.subs; started++) {
		struct sub_arg a = { .cfg = &cfg,
				     .result_fd = res_pipe[1],
				     .cpu = two_cpus ? 1 : -1,
				     .slow = started == 0 && cfg.slow_us > 0 };

		pids[started] = bench_fork(sub_main, &a);
		if (pids[started] < 0)
			break;
	}
	if (close(res_pipe[1]) < 0)
		perror("fanout: close");
	res_pipe[1] = -1;
	if (started < cfg.subs || run_publisher(&cfg, &m) < 0) {
		for (long k = 0; k < started; k++)
			bench_kill(pids[k]);
		for (long k = 0; k < started; k++)
			bench_reap(pids[k], "subscriber");
		goto out;
	}
	if (collect(&cfg, res_pipe[0], pids, res) < 0 || check(&cfg, &m, res, &tot) < 0)
		goto out;
	report(&cfg, &m, &tot);
	rc = fflush(stdout) == EOF ? 1 : 0;
out:
	if (res_pipe[0] >= 0 && close(res_pipe[0]) < 0)
		perror("fanout: close");
	bench_remove_rundir(dir);
	return rc;
}
