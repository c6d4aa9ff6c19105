/* death.c — how soon a waiting subscriber learns that its publisher died:
 * N times, a publisher process (default options, its slots all written once,
 * its service thread running) is SIGKILLed while the subscriber waits in one
 * of four ways (vdds_sub_wait, its fd in epoll, the waitset on io_uring and
 * on epoll); prints p50, p99 and max of kill-to-wake in microseconds.
 * Kill-to-wake runs from the killer's clock read right before kill() to the
 * subscriber's right after its wait returned (before any clean-up). The
 * killer is one long-lived process (no fork or exit of its own beside the
 * kill); the subscriber is the main process.
 * Usage: vdds_death [--kills N] [--mode wait|epoll|ws-uring|ws-epoll|all]
 *                   [--pin] [--slot-size B] [--extra-mib M] [--no-thread]
 *   --pin        killer and publisher on CPU 0, subscriber on CPU 1
 *   --slot-size  the publisher's slot size (64 slots; default 4096)
 *   --extra-mib  the publisher also maps and writes M MiB of its own
 *   --no-thread  the publisher has no service thread (no_service_thread) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "vdds.h"

#define TOPIC "death"
#define KILL_DELAY_US 2000 /* the subscriber is asleep by then */
#define WAIT_MS 10000

enum mode { WAIT, EPOLL, WS_URING, WS_EPOLL, N_MODES };
static const char *const mode_name[] = { "wait", "epoll", "ws-uring", "ws-epoll" };

struct config {
	int kills;
	int pin;
	long slot_size;
	long extra_mib;
	int no_thread;
};

/* What the killer and the subscriber share (MAP_SHARED). */
struct shared {
	_Atomic uint64_t killed_at; /* the killer's clock right before kill() */
};

/* A publisher that writes every slot once (as a running one has), says it is
 * up and then waits to be killed. */
static pid_t spawn_publisher(const struct config *cfg, int ready_fd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	struct vdds_pub_opts o;
	vdds_pub *pub;
	void *buf;

	prctl(PR_SET_NAME, "death-pub");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cfg->pin && bench_pin_cpu(0) < 0)
		_exit(1);
	memset(&o, 0, sizeof(o));
	o.slot_size = (size_t)cfg->slot_size;
	o.no_service_thread = cfg->no_thread;
	if (vdds_pub_open(&pub, TOPIC, &o) < 0)
		_exit(1);
	for (int i = 0; i < 64; i++) { /* the default 64 slots, no subscriber yet */
		if (vdds_pub_loan(pub, &buf, 0) < 0)
			_exit(1);
		memset(buf, i, (size_t)cfg->slot_size);
		if (vdds_pub_publish(pub, buf, (size_t)cfg->slot_size) < 0)
			_exit(1);
	}
	if (cfg->extra_mib > 0) {
		size_t len = (size_t)cfg->extra_mib << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);

		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 1, len);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	for (;;) {
		if (cfg->no_thread)
			vdds_pub_dispatch(pub); /* accept the subscriber */
		usleep(cfg->no_thread ? 1000 : 1000000);
	}
}

/* The killer: reads a pid from `cmd`, sleeps, notes the time, kills it. */
static int killer_main(int cmd, const struct config *cfg, struct shared *sh)
{
	pid_t victim;

	prctl(PR_SET_NAME, "death-kill");
	if (cfg->pin && bench_pin_cpu(0) < 0)
		return 1;
	while (read(cmd, &victim, sizeof(victim)) == (ssize_t)sizeof(victim)) {
		usleep(KILL_DELAY_US);
		atomic_store(&sh->killed_at, bench_now_ns());
		kill(victim, SIGKILL);
	}
	return 0;
}

/* The waiting machinery, made before the kill is asked for. */
struct waiter {
	enum mode m;
	vdds_sub *sub;
	int ep;
	vdds_waitset *ws;
};

static int waiter_open(struct waiter *w)
{
	struct epoll_event ev = { .events = EPOLLIN };

	w->ep = -1;
	w->ws = NULL;
	if (w->m == EPOLL) {
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		return w->ep < 0 ? -1 : epoll_ctl(w->ep, EPOLL_CTL_ADD, vdds_sub_fd(w->sub), &ev);
	}
	if (w->m == WAIT)
		return 0;
	setenv("VDDS_BACKEND", w->m == WS_URING ? "io_uring" : "epoll", 1);
	if (vdds_waitset_new(&w->ws) < 0)
		return -1;
	return vdds_waitset_add_sub(w->ws, w->sub, NULL);
}

static void waiter_close(struct waiter *w)
{
	if (w->ws != NULL) {
		vdds_waitset_remove(w->ws, vdds_sub_fd(w->sub));
		vdds_waitset_free(w->ws);
	}
	if (w->ep >= 0)
		close(w->ep);
}

/* Block the chosen way until the subscriber reports the publisher gone;
 * *woke is the clock right after the wait that brought the news returned. */
static int wait_for_death(struct waiter *w, uint64_t *woke)
{
	struct vdds_sample s;
	int err = -EAGAIN;

	if (w->m == WAIT) {
		err = vdds_sub_wait(w->sub, WAIT_MS);
		*woke = bench_now_ns();
		return err == -EPIPE ? 0 : -1;
	}
	/* the take that first learns of the death may say -EAGAIN once */
	for (int i = 0; i < 2 && err == -EAGAIN; i++) {
		struct epoll_event ev;
		struct vdds_event vev;
		int n = w->m == EPOLL ? epoll_wait(w->ep, &ev, 1, WAIT_MS)
				      : vdds_waitset_wait(w->ws, &vev, 1, WAIT_MS);

		*woke = bench_now_ns();
		if (n == 1)
			err = vdds_sub_take(w->sub, &s);
	}
	return err == -EPIPE ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int one_kill(const struct config *cfg, enum mode m, int cmd, struct shared *sh,
		    uint64_t *lat)
{
	struct waiter w = { .m = m };
	uint64_t woke = 0;
	int ready[2], rc = -1;
	char c;

	if (pipe(ready) < 0)
		return -1;
	pid_t pub = spawn_publisher(cfg, ready[1]);

	if (pub < 0 || read(ready[0], &c, 1) != 1 || vdds_sub_open(&w.sub, TOPIC, NULL) < 0) {
		fprintf(stderr, "death: no publisher\n");
		goto out;
	}
	if (waiter_open(&w) < 0) {
		fprintf(stderr, "death: %s: cannot wait that way\n", mode_name[m]);
		goto out_sub;
	}
	if (write(cmd, &pub, sizeof(pub)) != (ssize_t)sizeof(pub))
		goto out_waiter;
	if (wait_for_death(&w, &woke) < 0) {
		fprintf(stderr, "death: %s did not report the death\n", mode_name[m]);
		goto out_waiter;
	}
	*lat = woke - atomic_load(&sh->killed_at);
	rc = 0;
out_waiter:
	waiter_close(&w);
out_sub:
	vdds_sub_close(w.sub);
out:
	if (pub > 0) {
		kill(pub, SIGKILL); /* already dead unless something failed */
		waitpid(pub, NULL, 0);
	}
	close(ready[0]);
	close(ready[1]);
	return rc;
}

static int measure(const struct config *cfg, enum mode m, int cmd, struct shared *sh)
{
	uint64_t *lat = calloc((size_t)cfg->kills, sizeof(*lat));
	int n = cfg->kills;

	if (lat == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		if (one_kill(cfg, m, cmd, sh, &lat[i]) < 0) {
			free(lat);
			return -1;
		}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	int i50 = (n - 1) / 2, i99 = (n * 99 + 99) / 100 - 1; /* nearest rank */

	printf("mode=%s kills=%d pin=%d slot_size=%ld extra_mib=%ld service_thread=%d"
	       " p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
	       mode_name[m], n, cfg->pin, cfg->slot_size, cfg->extra_mib, !cfg->no_thread,
	       (double)lat[i50] / 1e3, (double)lat[i99] / 1e3, (double)lat[n - 1] / 1e3);
	fflush(stdout);
	free(lat);
	return 0;
}

static int parse(int argc, char **argv, struct config *cfg, int *only)
{
	static const struct option longopts[] = {
		{ "kills", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pin", no_argument, NULL, 'p' },
		{ "slot-size", required_argument, NULL, 's' },
		{ "extra-mib", required_argument, NULL, 'x' },
		{ "no-thread", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (bench_parse_long(optarg, 1, 1000000L, &v) < 0)
				return -1;
			cfg->kills = (int)v;
			break;
		case 'm':
			if (strcmp(optarg, "all") == 0)
				break;
			for (int m = 0; m < N_MODES; m++)
				if (strcmp(optarg, mode_name[m]) == 0)
					*only = m;
			if (*only < 0)
				return -1;
			break;
		case 'p': cfg->pin = 1; break;
		case 's':
			if (bench_parse_long(optarg, 64, 1L << 30, &cfg->slot_size) < 0)
				return -1;
			break;
		case 'x':
			if (bench_parse_long(optarg, 0, 65536, &cfg->extra_mib) < 0)
				return -1;
			break;
		case 't': cfg->no_thread = 1; break;
		default: return -1;
		}
	}
	return optind < argc ? -1 : 0;
}

struct killer_arg {
	int cmd, cmd_wr;
	const struct config *cfg;
	struct shared *sh;
};

static int killer_entry(void *p)
{
	const struct killer_arg *a = p;

	close(a->cmd_wr); /* or the killer would never read EOF */
	return killer_main(a->cmd, a->cfg, a->sh);
}

int main(int argc, char **argv)
{
	struct config cfg = { .kills = 1000, .slot_size = 4096 };
	char dir[PATH_MAX] = "";
	int only = -1, cmd[2], killer, rc = 1;

	if (parse(argc, argv, &cfg, &only) < 0) {
		fprintf(stderr,
			"usage: %s [--kills N] [--mode wait|epoll|ws-uring|ws-epoll|all] [--pin]\n"
			"          [--slot-size B] [--extra-mib M] [--no-thread]\n",
			argv[0]);
		return 2;
	}
	if (cfg.pin && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "death: --pin needs two CPUs: skipped\n");
		return 77; /* CTest's SKIP_RETURN_CODE */
	}
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED || pipe2(cmd, O_CLOEXEC) < 0)
		return 1;
	struct killer_arg ka = { .cmd = cmd[0], .cmd_wr = cmd[1], .cfg = &cfg, .sh = sh };

	killer = bench_fork(killer_entry, &ka);
	if (killer < 0)
		return 1;
	close(cmd[0]);
	if (bench_make_rundir(dir, sizeof(dir)) < 0 || (cfg.pin && bench_pin_cpu(1) < 0))
		goto out;
	for (int m = 0; m < N_MODES; m++)
		if ((only < 0 || only == m) && measure(&cfg, (enum mode)m, cmd[1], sh) < 0)
			goto out;
	rc = 0;
out:
	close(cmd[1]); /* the killer reads EOF and exits */
	if (bench_reap(killer, "killer") < 0)
		rc = 1;
	if (dir[0] != '\0')
		bench_remove_rundir(dir);
	return rc;
}
