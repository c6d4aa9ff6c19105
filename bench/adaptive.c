/* adaptive.c — the adaptive wait (vdds_sub_opts.spin_ns) under a steady stream (issue #14):
 * a publisher paced by a busy-wait loop (default every 10 us: 100 kHz) on CPU 0, one
 * subscriber on CPU 1 that busy-polls, or waits in vdds_sub_wait() or a waitset with a given
 * spin_ns. Per case: delivery latency (the publisher's clock read right before publish -> the
 * subscriber's right after take returns), p50/p99, and the subscriber's CPU time per message
 * (CLOCK_PROCESS_CPUTIME_ID, the precise sum behind getrusage), each also as a ratio to the
 * busy-poll case of the same invocation (which runs first); then, when asked, the CPU the
 * subscriber burns over a silence of the publisher (it stays connected, sends nothing).
 * Usage: vdds_adaptive [--cases LIST] [--messages N] [--period-ns P] [--idle-ms MS]
 *   LIST: comma-separated busy | wait:SPIN_NS | ws:SPIN_NS; default
 *   busy,wait:0,wait:2000,wait:10000,wait:50000,ws:0,ws:2000,ws:10000,ws:50000
 * One line per case on stdout. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "vdds.h"

#define TOPIC "adaptive"
#define WARMUP 2000        /* messages before the measured ones */
#define CONNECT_TRIES 5000 /* 1 ms apart */
#define MAX_CASES 16

enum how { HOW_BUSY, HOW_WAIT, HOW_WS };
static const char *const how_name[] = { "busy", "wait", "ws" };

/* What a message says, beside its publish stamp. */
enum { MSG_WARM, MSG_MEASURED, MSG_LAST, MSG_STOP };

struct msg {
	uint64_t stamp_ns; /* CLOCK_MONOTONIC right before vdds_pub_publish */
	uint64_t kind;
};

struct config {
	long messages;
	long period_ns;
	long idle_ms;
};

struct tcase {
	enum how how;
	uint32_t spin_ns;
};

/* What the subscriber sends back to the publisher's process. */
struct sub_result {
	uint64_t p50_ns, p99_ns, max_ns;
	uint64_t received; /* measured messages */
	uint64_t cpu_ns;   /* over the measured messages */
	uint64_t wall_ns;  /* first to last measured take */
	uint64_t idle_cpu_ns, idle_wall_ns;
	uint64_t wakes; /* waits that returned with nothing taken yet (slept or spun) */
	char backend[16];
};

struct sub_arg {
	const struct config *cfg;
	const struct tcase *tc;
	int result_fd;
};

static int vfail(const char *what, int err)
{
	fprintf(stderr, "adaptive[%d]: %s: %s (%d)\n", (int)getpid(), what, vdds_strerror(err),
		err);
	return -1;
}

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0) {
		perror("adaptive: clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* ------------------------------------------------------------ subscriber */

struct waiter {
	enum how how;
	vdds_sub *sub;
	vdds_waitset *ws;
};

/* take() said -EAGAIN: wait the case's way (busy: take again at once). */
static int wait_once(struct waiter *w)
{
	struct vdds_event ev;
	int err = 0;

	if (w->how == HOW_WAIT)
		err = vdds_sub_wait(w->sub, -1);
	else if (w->how == HOW_WS)
		err = vdds_waitset_wait(w->ws, &ev, 1, -1);
	return err < 0 ? vfail(w->how == HOW_WS ? "vdds_waitset_wait" : "vdds_sub_wait", err) : 0;
}

/* Take the next message; *kind and *lat_ns say what it was and how late. */
static int next_msg(struct waiter *w, uint64_t *kind, uint64_t *lat_ns, uint64_t *wakes)
{
	struct vdds_sample s;
	struct msg m;
	int err;

	while ((err = vdds_sub_take(w->sub, &s)) == -EAGAIN) {
		if (w->how != HOW_BUSY)
			++*wakes;
		if (wait_once(w) < 0)
			return -1;
	}
	if (err < 0)
		return vfail("vdds_sub_take", err);
	uint64_t now = bench_now_ns();

	memcpy(&m, s.data, sizeof(m));
	*kind = m.kind;
	*lat_ns = now - m.stamp_ns;
	if ((err = vdds_sub_release(w->sub, &s)) < 0)
		return vfail("vdds_sub_release", err);
	return 0;
}

static int sub_loop(struct waiter *w, const struct config *cfg, struct sub_result *res)
{
	uint64_t *lat = calloc((size_t)cfg->messages, sizeof(*lat));
	uint64_t kind = MSG_WARM, l, cpu0 = 0, wall0 = 0, dummy = 0;
	long n = 0;
	int rc = -1;

	if (lat == NULL) {
		fprintf(stderr, "adaptive: out of memory\n");
		return -1;
	}
	memset(lat, 0xff, (size_t)cfg->messages * sizeof(*lat)); /* fault in now */
	while (kind == MSG_WARM)
		if (next_msg(w, &kind, &l, &dummy) < 0)
			goto out;
	cpu0 = cpu_now_ns(); /* the first measured message was just taken */
	wall0 = bench_now_ns();
	lat[n++] = l;
	while (kind != MSG_LAST) {
		if (next_msg(w, &kind, &l, &res->wakes) < 0)
			goto out;
		if (n < cfg->messages)
			lat[n++] = l;
	}
	res->cpu_ns = cpu_now_ns() - cpu0;
	res->wall_ns = bench_now_ns() - wall0;
	res->received = (uint64_t)n;
	/* the silence: from the last message to the stop message */
	cpu0 = cpu_now_ns();
	wall0 = bench_now_ns();
	if (next_msg(w, &kind, &l, &dummy) < 0)
		goto out;
	res->idle_cpu_ns = cpu_now_ns() - cpu0;
	res->idle_wall_ns = bench_now_ns() - wall0;
	if (kind != MSG_STOP) {
		fprintf(stderr, "adaptive: message kind %" PRIu64 " after the last\n", kind);
		goto out;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	res->p50_ns = lat[(n - 1) / 2];
	res->p99_ns = lat[(n * 99 + 99) / 100 - 1];
	res->max_ns = lat[n - 1];
	rc = 0;
out:
	free(lat);
	return rc;
}

static int sub_main(void *argp)
{
	const struct sub_arg *a = argp;
	struct vdds_sub_opts o;
	struct sub_result res;
	struct waiter w = { .how = a->tc->how };
	int err = -ENOENT, rc = -1;

	memset(&res, 0, sizeof(res));
	memset(&o, 0, sizeof(o));
	o.busy_poll = w.how == HOW_BUSY;
	o.spin_ns = a->tc->spin_ns;
	if (bench_pin_cpu(1) < 0)
		return -1;
	for (int t = 0; t < CONNECT_TRIES && err == -ENOENT; t++) {
		err = vdds_sub_open(&w.sub, TOPIC, &o);
		if (err == -ENOENT)
			bench_sleep_ns(1000000L);
	}
	if (err < 0)
		return vfail("vdds_sub_open", err);
	snprintf(res.backend, sizeof(res.backend), "%s", "-");
	if (w.how == HOW_WS) {
		if ((err = vdds_waitset_new(&w.ws)) < 0 ||
		    (err = vdds_waitset_add_sub(w.ws, w.sub, NULL)) < 0) {
			vfail("waitset", err);
			goto out;
		}
		snprintf(res.backend, sizeof(res.backend), "%s", vdds_waitset_backend(w.ws));
	}
	if (sub_loop(&w, a->cfg, &res) < 0)
		goto out;
	/* one write of less than PIPE_BUF: atomic */
	if (write(a->result_fd, &res, sizeof(res)) != (ssize_t)sizeof(res)) {
		perror("adaptive: write result");
		goto out;
	}
	rc = 0;
out:
	vdds_waitset_free(w.ws);
	vdds_sub_close(w.sub);
	return rc;
}

/* ------------------------------------------------------------- publisher */

static int publish(vdds_pub *pub, uint64_t kind)
{
	struct msg m = { .kind = kind };
	void *buf;
	int err;

	if ((err = vdds_pub_loan(pub, &buf, -1)) < 0)
		return vfail("vdds_pub_loan", err);
	m.stamp_ns = bench_now_ns();
	memcpy(buf, &m, sizeof(m));
	if ((err = vdds_pub_publish(pub, buf, sizeof(m))) < 0)
		return vfail("vdds_pub_publish", err);
	return 0;
}

static int await_subscriber(vdds_pub *pub)
{
	struct vdds_pub_stats st;
	int err;

	for (int t = 0; t < CONNECT_TRIES; t++) {
		if ((err = vdds_pub_stats(pub, &st)) < 0)
			return vfail("vdds_pub_stats", err);
		if (st.subscribers >= 1)
			return 0;
		bench_sleep_ns(1000000L);
	}
	fprintf(stderr, "adaptive: the subscriber never came\n");
	return -1;
}

/* One message per tick of `period` from start: a busy-wait on the clock (a
 * 10 us clock_nanosleep oversleeps by tens of us on this VM). A publisher
 * that was kept off its CPU past a tick skips to the next tick instead of
 * catching up in a burst, so messages are never closer than one period; the
 * rate printed is what was achieved. */
static int pub_stream(vdds_pub *pub, const struct config *cfg, uint64_t *wakeups)
{
	struct vdds_pub_stats st;
	long total = WARMUP + cfg->messages;
	uint64_t period = (uint64_t)cfg->period_ns, start = bench_now_ns(), tick = 0, now;
	uint64_t w0 = 0;

	for (long i = 0; i < total; i++) {
		while ((now = bench_now_ns()) < start + tick * period)
			;
		tick = period ? (now - start) / period + 1 : 0;
		if (i == WARMUP) {
			if (vdds_pub_stats(pub, &st) < 0)
				return -1;
			w0 = st.wakeups;
		}
		if (publish(pub, i < WARMUP      ? MSG_WARM
				 : i + 1 < total ? MSG_MEASURED
						 : MSG_LAST) < 0)
			return -1;
	}
	if (vdds_pub_stats(pub, &st) < 0)
		return -1;
	*wakeups = st.wakeups - w0;
	if (cfg->idle_ms > 0)
		bench_sleep_ns(cfg->idle_ms * 1000000L);
	return publish(pub, MSG_STOP);
}

static void print_case(const struct tcase *tc, const struct config *cfg, const struct sub_result *r,
		       uint64_t wakeups, const struct sub_result *busy)
{
	double cpu_msg = (double)r->cpu_ns / (double)r->received;

	printf("mode=%s spin_ns=%u backend=%s period_ns=%ld msgs=%" PRIu64 " rate_hz=%.0f"
	       " p50_ns=%" PRIu64 " p99_ns=%" PRIu64 " max_ns=%" PRIu64
	       " cpu_ns_per_msg=%.0f cpu_share=%.3f waits_per_msg=%.3f pub_wakeups_per_msg=%.3f",
	       how_name[tc->how], tc->spin_ns, r->backend, cfg->period_ns, r->received,
	       (double)r->received * 1e9 / (double)r->wall_ns, r->p50_ns, r->p99_ns, r->max_ns,
	       cpu_msg, (double)r->cpu_ns / (double)r->wall_ns,
	       (double)r->wakes / (double)r->received, (double)wakeups / (double)r->received);
	if (busy != NULL && busy->p50_ns > 0 && busy->cpu_ns > 0)
		printf(" lat_p50_vs_busy=%.3f lat_p99_vs_busy=%.3f cpu_vs_busy=%.3f",
		       (double)r->p50_ns / (double)busy->p50_ns,
		       (double)r->p99_ns / (double)busy->p99_ns,
		       cpu_msg / ((double)busy->cpu_ns / (double)busy->received));
	if (cfg->idle_ms > 0)
		printf(" idle_ms=%.0f idle_cpu_us=%.1f", (double)r->idle_wall_ns / 1e6,
		       (double)r->idle_cpu_ns / 1e3);
	printf("\n");
	fflush(stdout);
}

static int run_case(const struct config *cfg, const struct tcase *tc, struct sub_result *res,
		    uint64_t *pub_wakeups)
{
	int fds[2], child, rc = -1;
	struct sub_arg a = { .cfg = cfg, .tc = tc };
	vdds_pub *pub = NULL;
	int err;

	if (pipe(fds) < 0) {
		perror("adaptive: pipe");
		return -1;
	}
	a.result_fd = fds[1];
	if ((err = vdds_pub_open(&pub, TOPIC, NULL)) < 0) { /* default options */
		vfail("vdds_pub_open", err);
		goto out_pipe;
	}
	child = bench_fork(sub_main, &a);
	if (child < 0)
		goto out_pub;
	if (await_subscriber(pub) < 0 || pub_stream(pub, cfg, pub_wakeups) < 0) {
		bench_kill(child);
		bench_reap(child, "subscriber");
		goto out_pub;
	}
	if (bench_reap(child, "subscriber") < 0)
		goto out_pub;
	if (read(fds[0], res, sizeof(*res)) != (ssize_t)sizeof(*res) || res->received == 0) {
		fprintf(stderr, "adaptive: no result from the subscriber\n");
		goto out_pub;
	}
	res->backend[sizeof(res->backend) - 1] = '\0';
	rc = 0;
out_pub:
	vdds_pub_close(pub);
out_pipe:
	close(fds[0]);
	close(fds[1]);
	return rc;
}

static int parse_cases(char *list, struct tcase *tc, int *n)
{
	char *save = NULL;

	*n = 0;
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		long spin = 0;
		char *colon = strchr(t, ':');

		if (*n == MAX_CASES)
			return -1;
		if (colon != NULL) {
			*colon = '\0';
			if (bench_parse_long(colon + 1, 0, 1000000000L, &spin) < 0)
				return -1;
		}
		if (strcmp(t, "busy") == 0 && colon == NULL)
			tc[*n].how = HOW_BUSY;
		else if (strcmp(t, "wait") == 0 && colon != NULL)
			tc[*n].how = HOW_WAIT;
		else if (strcmp(t, "ws") == 0 && colon != NULL)
			tc[*n].how = HOW_WS;
		else
			return -1;
		tc[(*n)++].spin_ns = (uint32_t)spin;
	}
	return *n > 0 ? 0 : -1;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--cases LIST] [--messages N] [--period-ns P] [--idle-ms MS]\n"
		"  --cases      comma-separated busy | wait:SPIN_NS | ws:SPIN_NS (default\n"
		"               busy,wait:0,wait:2000,wait:10000,wait:50000,ws:0,ws:2000,\n"
		"               ws:10000,ws:50000); ratios are to the first busy case\n"
		"  --messages   measured messages per case (default 50000, after %d warm-up)\n"
		"  --period-ns  publish every P ns, busy-wait paced (default 10000: 100 kHz)\n"
		"  --idle-ms    then stay silent MS ms and report the subscriber's CPU (default "
		"0)\n",
		argv0, WARMUP);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cases", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'n' },
		{ "period-ns", required_argument, NULL, 'p' },
		{ "idle-ms", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char deflist[] = "busy,wait:0,wait:2000,wait:10000,wait:50000,ws:0,ws:2000,ws:10000,"
			 "ws:50000";
	struct config cfg = { .messages = 50000, .period_ns = 10000, .idle_ms = 0 };
	struct tcase tc[MAX_CASES];
	struct sub_result busy, r;
	char dir[PATH_MAX] = "";
	char *list = deflist;
	int n_cases, opt, have_busy = 0, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int ok = 1;

		switch (opt) {
		case 'c': list = optarg; break;
		case 'n': ok = bench_parse_long(optarg, 1, 100000000L, &cfg.messages) == 0; break;
		case 'p': ok = bench_parse_long(optarg, 0, 1000000000L, &cfg.period_ns) == 0; break;
		case 'i': ok = bench_parse_long(optarg, 0, 60000L, &cfg.idle_ms) == 0; break;
		case 'h': usage(argv[0]); return 0;
		default: usage(argv[0]); return 2;
		}
		if (!ok) {
			fprintf(stderr, "adaptive: bad value '%s'\n", optarg);
			return 2;
		}
	}
	if (optind < argc || parse_cases(list, tc, &n_cases) < 0) {
		usage(argv[0]);
		return 2;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "adaptive: needs two CPUs: skipped\n");
		return 77; /* CTest's SKIP_RETURN_CODE */
	}
	if (bench_make_rundir(dir, sizeof(dir)) < 0 || bench_pin_cpu(0) < 0)
		goto out;
	memset(&busy, 0, sizeof(busy));
	for (int i = 0; i < n_cases; i++) {
		uint64_t wakeups = 0;

		if (run_case(&cfg, &tc[i], &r, &wakeups) < 0)
			goto out;
		print_case(&tc[i], &cfg, &r, wakeups, have_busy ? &busy : NULL);
		if (tc[i].how == HOW_BUSY && !have_busy) {
			busy = r;
			have_busy = 1;
		}
	}
	rc = 0;
out:
	if (dir[0] != '\0')
		bench_remove_rundir(dir);
	return rc;
}
