/* pingpong.c — two-process ping-pong round-trip latency: vdds against the raw
 * blocking-wakeup baselines it is built from (eventfd read, eventfd in epoll). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "vdds.h"

enum mode { MODE_EVENTFD, MODE_EPOLL, MODE_VDDS };

static const char *const mode_names[] = { "eventfd", "epoll", "vdds" };

struct config {
	enum mode mode;
	long iters;
	long warmup;
	int cross;      /* 0: both on CPU 0; 1: A on CPU 0, B on CPU 1 */
	size_t payload; /* bytes published per message (vdds mode) */
};

/* The two pipes that order start-up and shut-down between A and B. */
struct barrier {
	int rd;
	int wr;
};

/* How long a subscriber keeps retrying while the other side's publisher is
 * not there yet, and how long a publisher waits to see its subscriber. */
#define CONNECT_TRIES 2000
#define CONNECT_SLEEP_NS 1000000L /* 1 ms: 2 s in all */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--mode eventfd|epoll|vdds] [--iters N] [--warmup N]\n"
		"          [--cpus same|cross] [--payload BYTES]\n"
		"  --mode     what carries the ping and the pong (default vdds)\n"
		"  --iters    measured round trips (default 100000)\n"
		"  --warmup   unmeasured round trips first (default 1000)\n"
		"  --cpus     same: both processes on CPU 0; cross: CPU 0 and 1\n"
		"  --payload  bytes per vdds message, >= 8 (vdds only; default 8)\n",
		argv0);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
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
	int opt, found;
	long v;

	cfg->mode = MODE_VDDS;
	cfg->iters = 100000;
	cfg->warmup = 1000;
	cfg->cross = 0;
	cfg->payload = 8;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			found = 0;
			for (int m = 0; m < 3; m++) {
				if (strcmp(optarg, mode_names[m]) == 0) {
					cfg->mode = (enum mode)m;
					found = 1;
				}
			}
			if (!found) {
				fprintf(stderr, "pingpong: unknown mode '%s'\n", optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_long(optarg, 1, 100000000L, &cfg->iters) < 0) {
				fprintf(stderr, "pingpong: bad --iters '%s'\n", optarg);
				return -1;
			}
			break;
		case 'w':
			if (parse_long(optarg, 0, 100000000L, &cfg->warmup) < 0) {
				fprintf(stderr, "pingpong: bad --warmup '%s'\n", optarg);
				return -1;
			}
			break;
		case 'c':
			if (strcmp(optarg, "same") == 0) {
				cfg->cross = 0;
			} else if (strcmp(optarg, "cross") == 0) {
				cfg->cross = 1;
			} else {
				fprintf(stderr, "pingpong: --cpus is same or cross, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'p':
			if (parse_long(optarg, 8, 64L << 20, &v) < 0) {
				fprintf(stderr, "pingpong: bad --payload '%s' (8 .. 64 MiB)\n",
					optarg);
				return -1;
			}
			cfg->payload = (size_t)v;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default: /* getopt_long has said what was wrong */
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pingpong: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (cfg->mode != MODE_VDDS && cfg->payload != 8) {
		fprintf(stderr, "pingpong: --payload applies to --mode vdds only\n");
		return -1;
	}
	return 0;
}

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "pingpong: sched_setaffinity(CPU %d): %s\n", cpu,
			strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; checked anyway. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		perror("pingpong: clock_gettime");
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Rendezvous: tell the peer we got here, then wait until it has too. */
static int barrier_sync(const struct barrier *b, const char *what)
{
	char c = 'x';
	ssize_t n;

	do
		n = write(b->wr, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "pingpong: barrier '%s': write: %s\n", what,
			n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	do
		n = read(b->rd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "pingpong: barrier '%s': read: %s\n", what,
			n < 0 ? strerror(errno) : "peer went away");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ raw eventfd */

static int efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(one)) {
		fprintf(stderr, "pingpong: eventfd write: %s\n",
			n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static int efd_wait_read(int fd)
{
	uint64_t v;
	ssize_t n;

	do
		n = read(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(v)) {
		fprintf(stderr, "pingpong: eventfd read: %s\n",
			n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	if (v != 1) {
		fprintf(stderr, "pingpong: eventfd read %" PRIu64 ", expected 1\n", v);
		return -1;
	}
	return 0;
}

/* Edge-triggered and never read: every eventfd write queues one event, which
 * is how vdds waits internally. */
static int epoll_setup(int efd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = efd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		perror("pingpong: epoll_create1");
		return -1;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) {
		perror("pingpong: epoll_ctl");
		close(ep);
		return -1;
	}
	return ep;
}

static int epoll_wait_one(int ep, int efd)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "pingpong: epoll_wait: %s\n",
			n < 0 ? strerror(errno) : "returned no event");
		return -1;
	}
	if (ev.data.fd != efd || !(ev.events & EPOLLIN)) {
		fprintf(stderr, "pingpong: epoll_wait: unexpected event 0x%x\n",
			ev.events);
		return -1;
	}
	return 0;
}

/* One side of the raw modes: `tx` is the peer's eventfd, `rx` our own. */
static int raw_side(const struct config *cfg, int is_a, int tx, int rx,
		    const struct barrier *b, uint64_t *samples)
{
	long total = cfg->warmup + cfg->iters;
	int ep = -1;
	int rc = -1;

	if (cfg->mode == MODE_EPOLL) {
		ep = epoll_setup(rx);
		if (ep < 0)
			return -1;
	}
	if (barrier_sync(b, "ready") < 0)
		goto out;

	for (long i = 0; i < total; i++) {
		uint64_t t0 = 0;

		if (is_a) {
			t0 = now_ns();
			if (efd_signal(tx) < 0)
				goto out;
		}
		if ((ep >= 0 ? epoll_wait_one(ep, rx) : efd_wait_read(rx)) < 0)
			goto out;
		if (is_a) {
			if (i >= cfg->warmup)
				samples[i - cfg->warmup] = now_ns() - t0;
		} else if (efd_signal(tx) < 0) {
			goto out;
		}
	}
	if (barrier_sync(b, "done") < 0)
		goto out;
	rc = 0;
out:
	if (ep >= 0)
		close(ep);
	return rc;
}

/* ------------------------------------------------------------------- vdds */

static int vdds_fail(const char *what, int err)
{
	fprintf(stderr, "pingpong[%d]: %s: %s (%d)\n", (int)getpid(), what,
		vdds_strerror(err), err);
	return -1;
}

static int sub_connect(vdds_sub **sub, const char *topic)
{
	int err = -ENOENT;

	for (int t = 0; t < CONNECT_TRIES; t++) {
		err = vdds_sub_open(sub, topic, NULL);
		if (err != -ENOENT)
			break;
		sleep_ns(CONNECT_SLEEP_NS);
	}
	if (err < 0)
		return vdds_fail("vdds_sub_open", err);
	return 0;
}

/* Do not send the first ping before our publisher counts the peer's
 * subscriber, or that message could go to nobody. */
static int pub_await_subscriber(vdds_pub *pub)
{
	struct vdds_pub_stats st;
	int err;

	for (int t = 0; t < CONNECT_TRIES; t++) {
		err = vdds_pub_stats(pub, &st);
		if (err < 0)
			return vdds_fail("vdds_pub_stats", err);
		if (st.subscribers >= 1)
			return 0;
		sleep_ns(CONNECT_SLEEP_NS);
	}
	fprintf(stderr, "pingpong[%d]: publisher never saw its subscriber\n",
		(int)getpid());
	return -1;
}

static int vdds_send(vdds_pub *pub, uint64_t counter, size_t len)
{
	void *buf;
	int err;

	err = vdds_pub_loan(pub, &buf, -1);
	if (err < 0)
		return vdds_fail("vdds_pub_loan", err);
	memcpy(buf, &counter, sizeof(counter));
	err = vdds_pub_publish(pub, buf, len);
	if (err < 0)
		return vdds_fail("vdds_pub_publish", err);
	return 0;
}

static int vdds_recv(vdds_sub *sub, uint64_t expect, size_t len,
		     long *spurious)
{
	struct vdds_sample s;
	uint64_t got;
	int err;

	for (;;) {
		err = vdds_sub_wait(sub, -1);
		if (err < 0)
			return vdds_fail("vdds_sub_wait", err);
		err = vdds_sub_take(sub, &s);
		if (err == 0)
			break;
		if (err != -EAGAIN)
			return vdds_fail("vdds_sub_take", err);
		/* wait() said "take now" but there was nothing: tolerated,
		 * counted and reported, since the contract says it should not. */
		(*spurious)++;
	}
	memcpy(&got, s.data, sizeof(got));
	if (got != expect || s.len != len || s.seq != expect + 1) {
		fprintf(stderr,
			"pingpong[%d]: mismatch: counter %" PRIu64 " (want %" PRIu64
			"), len %zu (want %zu), seq %" PRIu64 " (want %" PRIu64 ")\n",
			(int)getpid(), got, expect, s.len, len, s.seq, expect + 1);
		return -1;
	}
	err = vdds_sub_release(sub, &s);
	if (err < 0)
		return vdds_fail("vdds_sub_release", err);
	return 0;
}

static int vdds_side(const struct config *cfg, int is_a, const char *prefix,
		     const struct barrier *b, uint64_t *samples)
{
	struct vdds_pub_opts popts;
	char tx_topic[VDDS_TOPIC_MAX + 1], rx_topic[VDDS_TOPIC_MAX + 1];
	vdds_pub *pub = NULL;
	vdds_sub *sub = NULL;
	long total = cfg->warmup + cfg->iters;
	long spurious = 0;
	int err, rc = -1;

	snprintf(tx_topic, sizeof(tx_topic), "%s-%s", prefix, is_a ? "ping" : "pong");
	snprintf(rx_topic, sizeof(rx_topic), "%s-%s", prefix, is_a ? "pong" : "ping");

	memset(&popts, 0, sizeof(popts));
	if (cfg->payload > 4096) /* the default slot holds 4096 */
		popts.slot_size = cfg->payload;
	err = vdds_pub_open(&pub, tx_topic, &popts);
	if (err < 0)
		return vdds_fail("vdds_pub_open", err);
	if (barrier_sync(b, "publishers open") < 0)
		goto out;
	if (sub_connect(&sub, rx_topic) < 0)
		goto out;
	if (pub_await_subscriber(pub) < 0)
		goto out;
	if (barrier_sync(b, "subscribers connected") < 0)
		goto out;

	for (long i = 0; i < total; i++) {
		uint64_t t0 = 0;

		if (is_a) {
			t0 = now_ns();
			if (vdds_send(pub, (uint64_t)i, cfg->payload) < 0)
				goto out;
		}
		if (vdds_recv(sub, (uint64_t)i, cfg->payload, &spurious) < 0)
			goto out;
		if (is_a) {
			if (i >= cfg->warmup)
				samples[i - cfg->warmup] = now_ns() - t0;
		} else if (vdds_send(pub, (uint64_t)i, cfg->payload) < 0) {
			goto out;
		}
	}
	if (barrier_sync(b, "done") < 0)
		goto out;
	rc = 0;
out:
	if (spurious > 0)
		fprintf(stderr, "pingpong[%d]: %ld vdds_sub_wait() returns had "
			"nothing to take\n", (int)getpid(), spurious);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
	return rc;
}

/* ---------------------------------------------------------------- results */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n): the smallest value with at least
 * per_mille/1000 of the samples at or below it. */
static uint64_t percentile(const uint64_t *v, long n, long per_mille)
{
	long rank = (n * per_mille + 999) / 1000;

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static void report(const struct config *cfg, uint64_t *samples)
{
	long n = cfg->iters;

	qsort(samples, (size_t)n, sizeof(*samples), cmp_u64);
	printf("mode=%s cpus=%s payload=%zu iters=%ld min=%" PRIu64 " p50=%" PRIu64
	       " p99=%" PRIu64 " p99.9=%" PRIu64 " max=%" PRIu64 "\n",
	       mode_names[cfg->mode], cfg->cross ? "cross" : "same", cfg->payload,
	       n, samples[0], percentile(samples, n, 500),
	       percentile(samples, n, 990), percentile(samples, n, 999),
	       samples[n - 1]);
}

/* --------------------------------------------------------------- processes */

static int run_side(const struct config *cfg, int is_a, const char *prefix,
		    int efd_ping, int efd_pong, const struct barrier *b,
		    uint64_t *samples)
{
	if (pin_to_cpu(is_a || !cfg->cross ? 0 : 1) < 0)
		return -1;
	if (cfg->mode == MODE_VDDS)
		return vdds_side(cfg, is_a, prefix, b, samples);
	/* A sends on ping and waits on pong; B the reverse. */
	return raw_side(cfg, is_a, is_a ? efd_ping : efd_pong,
			is_a ? efd_pong : efd_ping, b, samples);
}

/* A fresh private runtime directory, so concurrent runs never share topics. */
static int make_rundir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, size, "%s/vdds-bench-XXXXXX", tmp) >= size) {
		fprintf(stderr, "pingpong: TMPDIR too long\n");
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "pingpong: mkdtemp(%s): %s\n", dir, strerror(errno));
		return -1;
	}
	if (setenv("VDDS_DIR", dir, 1) < 0) {
		perror("pingpong: setenv VDDS_DIR");
		return -1;
	}
	return 0;
}

static void remove_rundir(const char *dir)
{
	/* vdds leaves its sockets and lock files behind; nothing else is here. */
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL) {
		fprintf(stderr, "pingpong: opendir(%s): %s\n", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0)
			fprintf(stderr, "pingpong: unlink %s/%s: %s\n", dir,
				e->d_name, strerror(errno));
	}
	if (closedir(d) < 0)
		fprintf(stderr, "pingpong: closedir(%s): %s\n", dir, strerror(errno));
	if (rmdir(dir) < 0)
		fprintf(stderr, "pingpong: rmdir(%s): %s\n", dir, strerror(errno));
}

static int close_pair(int fds[2])
{
	int rc = 0;

	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0 && close(fds[i]) < 0) {
			perror("pingpong: close");
			rc = -1;
		}
		fds[i] = -1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char dir[PATH_MAX] = "";
	char prefix[32];
	int a2b[2] = { -1, -1 }, b2a[2] = { -1, -1 };
	int efd_ping = -1, efd_pong = -1;
	uint64_t *samples = NULL;
	pid_t child;
	int status, rc = 1;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage(argv[0]);
		return 2;
	}
	if (cfg.cross && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "pingpong: --cpus cross needs two CPUs\n");
		return 2;
	}
	samples = calloc((size_t)cfg.iters, sizeof(*samples));
	if (samples == NULL) {
		fprintf(stderr, "pingpong: out of memory for %ld samples\n", cfg.iters);
		return 1;
	}
	/* Fault the pages in now, not during the measurement. */
	memset(samples, 0xff, (size_t)cfg.iters * sizeof(*samples));

	snprintf(prefix, sizeof(prefix), "pp%d", (int)getpid());
	if (cfg.mode == MODE_VDDS) {
		if (make_rundir(dir, sizeof(dir)) < 0)
			goto out;
	} else {
		efd_ping = eventfd(0, EFD_CLOEXEC);
		efd_pong = eventfd(0, EFD_CLOEXEC);
		if (efd_ping < 0 || efd_pong < 0) {
			perror("pingpong: eventfd");
			goto out;
		}
	}
	if (pipe2(a2b, O_CLOEXEC) < 0 || pipe2(b2a, O_CLOEXEC) < 0) {
		perror("pingpong: pipe2");
		goto out;
	}
	fflush(stdout);
	child = fork();
	if (child < 0) {
		perror("pingpong: fork");
		goto out;
	}
	if (child == 0) {
		struct barrier b = { .rd = a2b[0], .wr = b2a[1] };

		/* If A dies, B must not wait for a ping forever. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
			perror("pingpong: prctl(PR_SET_PDEATHSIG)");
			_exit(1);
		}
		if (getppid() == 1)
			_exit(1);
		/* Close the ends A uses, so a dead A reads as EOF, not a hang. */
		if (close(a2b[1]) < 0 || close(b2a[0]) < 0) {
			perror("pingpong: close");
			_exit(1);
		}
		_exit(run_side(&cfg, 0, prefix, efd_ping, efd_pong, &b, NULL) < 0
			      ? 1 : 0);
	}

	{
		struct barrier b = { .rd = b2a[0], .wr = a2b[1] };
		int side_rc;

		if (close(a2b[0]) < 0 || close(b2a[1]) < 0) {
			perror("pingpong: close");
			kill(child, SIGKILL);
		}
		a2b[0] = b2a[1] = -1;
		side_rc = run_side(&cfg, 1, prefix, efd_ping, efd_pong, &b, samples);
		if (side_rc < 0)
			kill(child, SIGKILL);
		while (waitpid(child, &status, 0) < 0) {
			if (errno != EINTR) {
				perror("pingpong: waitpid");
				goto out;
			}
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (side_rc == 0) {
				if (WIFSIGNALED(status))
					fprintf(stderr, "pingpong: B killed by signal %d\n",
						WTERMSIG(status));
				else
					fprintf(stderr, "pingpong: B exited with %d\n",
						WEXITSTATUS(status));
			}
			goto out;
		}
		if (side_rc < 0)
			goto out;
	}
	report(&cfg, samples);
	rc = 0;
out:
	if (close_pair(a2b) < 0 || close_pair(b2a) < 0)
		rc = 1;
	if (efd_ping >= 0)
		close(efd_ping);
	if (efd_pong >= 0)
		close(efd_pong);
	if (dir[0] != '\0')
		remove_rundir(dir);
	free(samples);
	return rc;
}
