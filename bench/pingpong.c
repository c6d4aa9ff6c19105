/* pingpong.c — two-process ping-pong round-trip latency of vdds (five ways of
 * waiting) and of what it is measured against (the raw mechanisms, and
 * iceoryx when built with it); one line out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "pingpong.h"

static const struct pp_mech *const mechs[] = {
	&pp_eventfd,    &pp_epoll,         &pp_epoll_set,     &pp_epoll_read, &pp_uring_poll,
	&pp_spin,       &pp_sem,           &pp_pipe,          &pp_unix,       &pp_vdds_wait,
	&pp_vdds_epoll, &pp_vdds_ws_uring, &pp_vdds_ws_epoll, &pp_vdds_spin,
#ifdef VDDS_BENCH_IOX
	&pp_iox_ws,     &pp_iox_spin,
#endif
};
#define N_MECHS (sizeof(mechs) / sizeof(mechs[0]))

/* ------------------------------------------------ helpers for mechanisms */

int pp_fail(const char *what)
{
	fprintf(stderr, "pingpong[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
	return -1;
}

int pp_write8(int fd, uint64_t v, const char *what)
{
	ssize_t n;

	do
		n = write(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(v))
		return 0;
	if (n >= 0)
		errno = EIO; /* short write */
	return pp_fail(what);
}

int pp_read8(int fd, uint64_t *v, const char *what)
{
	ssize_t n;

	do
		n = read(fd, v, sizeof(*v));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(*v))
		return 0;
	if (n >= 0)
		errno = EIO; /* short read or EOF */
	return pp_fail(what);
}

int pp_epoll_new(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);

	return ep < 0 ? pp_fail("epoll_create1") : ep;
}

int pp_epoll_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? pp_fail("epoll_ctl") : 0;
}

/* Wait for the member added with data 1; anything else is an error. */
int pp_epoll_wait1(int ep, const char *what)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pp_fail(what);
	if (n != 1 || ev.data.u64 != 1 || !(ev.events & EPOLLIN)) {
		fprintf(stderr, "pingpong: %s: unexpected event 0x%x\n", what, ev.events);
		return -1;
	}
	return 0;
}

static void exit_hung(int sig)
{
	static const char msg[] = "pingpong: exit handlers hung; leaving without them\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do about it */
	}
	_exit(0);
}

/* Leave with rc through exit(), for a PP_EXIT_HANDLERS mechanism. Its
 * handlers may hang (iceoryx 2.0.3's keep-alive thread now and then waits
 * forever for RouDi's answer), so they get 10 s, after the result is safe. */
static _Noreturn void pp_leave(int rc)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = exit_hung;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		perror("pingpong: sigaction");
	alarm(10);
	exit(rc);
}

/* ------------------------------------------------------------- arguments */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s --mode MODE [--iters N] [--warmup N] [--cpus same|cross]\n"
		"          [--payload BYTES]\n"
		"  --mode     what carries the ping and the pong, one of:\n"
		"            ",
		argv0);
	for (size_t m = 0; m < N_MECHS; m++)
		fprintf(stderr, " %s", mechs[m]->name);
	fprintf(stderr,
		"\n"
		"  --iters    measured round trips (default 100000)\n"
		"  --warmup   unmeasured round trips first (default 1000)\n"
		"  --cpus     same: both processes on CPU 0; cross: CPU 0 and 1\n"
		"             (spin modes: cross only)\n"
		"  --payload  bytes per message, 8 .. 64 MiB (vdds-*, iox-* only; default 64);\n"
		"             only the first %d bytes are written and read\n",
		BENCH_TOUCH);
}

static const struct pp_mech *find_mech(const char *name)
{
	for (size_t m = 0; m < N_MECHS; m++)
		if (strcmp(name, mechs[m]->name) == 0)
			return mechs[m];
	return NULL;
}

static int parse_args(int argc, char **argv, struct pp_config *cfg)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "payload", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long payload = -1;
	int opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->iters = 100000;
	cfg->warmup = 1000;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			cfg->mech = find_mech(optarg);
			if (cfg->mech == NULL) {
				fprintf(stderr, "pingpong: unknown mode '%s'\n", optarg);
				return -1;
			}
			break;
		case 'n':
			if (bench_parse_long(optarg, 1, 100000000L, &cfg->iters) < 0)
				goto bad;
			break;
		case 'w':
			if (bench_parse_long(optarg, 0, 100000000L, &cfg->warmup) < 0)
				goto bad;
			break;
		case 'c':
			if (strcmp(optarg, "same") != 0 && strcmp(optarg, "cross") != 0)
				goto bad;
			cfg->cross = strcmp(optarg, "cross") == 0;
			break;
		case 'p':
			if (bench_parse_long(optarg, 8, 64L << 20, &payload) < 0)
				goto bad;
			break;
		case 'h': usage(argv[0]); exit(0);
		default: /* getopt_long has said what was wrong */ return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pingpong: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (cfg->mech == NULL) {
		fprintf(stderr, "pingpong: --mode is required\n");
		return -1;
	}
	if (payload >= 0 && !(cfg->mech->flags & PP_PAYLOAD)) {
		fprintf(stderr, "pingpong: --payload applies to vdds-* and iox-* modes only\n");
		return -1;
	}
	if (cfg->mech->flags & PP_PAYLOAD)
		cfg->payload = payload >= 0 ? (size_t)payload : 64;
	return 0;
bad:
	fprintf(stderr, "pingpong: bad value '%s'\n", optarg);
	return -1;
}

/* --------------------------------------------------------------- one side */

struct run {
	struct pp_config cfg;
	char prefix[32];
	void *shared;
	int a2b[2], b2a[2];
	uint64_t *samples;
};

static int run_side(struct run *r, int is_a)
{
	const struct pp_mech *m = r->cfg.mech;
	struct barrier b = { .rd = is_a ? r->b2a[0] : r->a2b[0],
			     .wr = is_a ? r->a2b[1] : r->b2a[1] };
	struct pp_side s = {
		.cfg = &r->cfg, .is_a = is_a, .b = &b, .prefix = r->prefix, .shared = r->shared
	};
	long total = r->cfg.warmup + r->cfg.iters;
	int rc = -1;

	if (bench_pin_cpu(is_a || !r->cfg.cross ? 0 : 1) < 0)
		return -1;
	if (m->open(&s) < 0 || bench_barrier_sync(&b, "ready") < 0)
		goto out;
	for (long i = 0; i < total; i++) {
		uint64_t t0 = 0;

		if (is_a) {
			t0 = bench_now_ns();
			if (m->send(&s, (uint64_t)i) < 0)
				goto out;
		}
		if (m->recv(&s, (uint64_t)i) < 0)
			goto out;
		if (!is_a) {
			if (m->send(&s, (uint64_t)i) < 0)
				goto out;
		} else if (i >= r->cfg.warmup) {
			r->samples[i - r->cfg.warmup] = bench_now_ns() - t0;
		}
	}
	if (bench_barrier_sync(&b, "done") < 0)
		goto out;
	rc = 0;
out:
	m->close(&s);
	return rc;
}

static int side_b(void *arg)
{
	struct run *r = arg;

	/* Close A's ends, so that a dead A reads as EOF, not a hang. */
	if (close(r->a2b[1]) < 0 || close(r->b2a[0]) < 0) {
		perror("pingpong: close");
		return -1;
	}
	if (r->cfg.mech->flags & PP_EXIT_HANDLERS)
		pp_leave(run_side(r, 0) < 0 ? 1 : 0);
	return run_side(r, 0);
}

/* ------------------------------------------------------------------- main */

static int run_pair(struct run *r)
{
	int child, rc;

	if (pipe2(r->a2b, O_CLOEXEC) < 0 || pipe2(r->b2a, O_CLOEXEC) < 0)
		return pp_fail("pipe2");
	child = bench_fork(side_b, r);
	if (child < 0)
		return -1;
	if (close(r->a2b[0]) < 0 || close(r->b2a[1]) < 0) {
		perror("pingpong: close");
		bench_kill(child);
	}
	rc = run_side(r, 1);
	if (rc < 0)
		bench_kill(child);
	if (bench_reap(child, "side B") < 0)
		rc = -1;
	if (close(r->a2b[1]) < 0 || close(r->b2a[0]) < 0)
		rc = pp_fail("close");
	return rc;
}

int main(int argc, char **argv)
{
	static struct run r;
	char dir[PATH_MAX] = "";
	int rc = 1;

	if (parse_args(argc, argv, &r.cfg) < 0) {
		usage(argv[0]);
		return 2;
	}
	if ((r.cfg.mech->flags & PP_CROSS_ONLY) && !r.cfg.cross) {
		fprintf(stderr,
			"pingpong: %s spins: on one CPU every wait costs a "
			"scheduler tick; use --cpus cross\n",
			r.cfg.mech->name);
		return 2;
	}
	if (r.cfg.cross && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "pingpong: --cpus cross needs two CPUs: skipped\n");
		return 77; /* CTest's SKIP_RETURN_CODE */
	}
	r.samples = calloc((size_t)r.cfg.iters, sizeof(*r.samples));
	if (r.samples == NULL) {
		fprintf(stderr, "pingpong: out of memory for %ld samples\n", r.cfg.iters);
		return 1;
	}
	/* Fault the pages in now, not during the measurement. */
	memset(r.samples, 0xff, (size_t)r.cfg.iters * sizeof(*r.samples));
	snprintf(r.prefix, sizeof(r.prefix), "vb%d", (int)getpid());
	if (bench_make_rundir(dir, sizeof(dir)) < 0)
		goto out;
	if (r.cfg.mech->prepare != NULL && r.cfg.mech->prepare(&r.shared, r.prefix) < 0)
		goto out;
	if (run_pair(&r) < 0)
		goto out;
	printf("mode=%s cpus=%s payload=%zu iters=%ld", r.cfg.mech->name,
	       r.cfg.cross ? "cross" : "same", r.cfg.payload, r.cfg.iters);
	bench_print_percentiles(r.samples, r.cfg.iters);
	printf("\n");
	rc = fflush(stdout) == EOF ? 1 : 0;
out:
	if (r.shared != NULL && r.cfg.mech->release != NULL)
		r.cfg.mech->release(r.shared);
	if (dir[0] != '\0')
		bench_remove_rundir(dir);
	free(r.samples);
	if (r.cfg.mech->flags & PP_EXIT_HANDLERS)
		pp_leave(rc);
	return rc;
}
