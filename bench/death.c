/* death.c — how soon a waiting subscriber learns that its publisher died:
 * N times, a publisher process is SIGKILLed while the subscriber waits in one
 * of four ways (vdds_sub_wait, its fd in epoll, the waitset on io_uring and
 * on epoll); prints p50, p99 and max of kill-to-wake in microseconds.
 * Usage: vdds_death [--kills N] [--mode wait|epoll|ws-uring|ws-epoll|all] */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vdds.h"

#define TOPIC "death"
#define KILL_DELAY_US 2000 /* the subscriber is asleep by then */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum mode { WAIT, EPOLL, WS_URING, WS_EPOLL, N_MODES };
static const char *const mode_name[] = { "wait", "epoll", "ws-uring", "ws-epoll" };

/* A publisher that says it is up and then waits to be killed. */
static pid_t spawn_publisher(int ready_fd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	vdds_pub *pub;

	if (vdds_pub_open(&pub, TOPIC, NULL) < 0 || write(ready_fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Sleep, note the time, kill: the note is in shared memory. */
static pid_t spawn_killer(pid_t victim, _Atomic uint64_t *killed_at)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	usleep(KILL_DELAY_US);
	atomic_store(killed_at, now_ns());
	kill(victim, SIGKILL);
	_exit(0);
}

/* Block the chosen way until the subscriber reports the publisher gone. */
static int wait_for_death(vdds_sub *sub, enum mode m)
{
	struct vdds_sample s;

	if (m == WAIT)
		return vdds_sub_wait(sub, 10000) == -EPIPE ? 0 : -1;
	if (m == EPOLL) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = epoll_create1(EPOLL_CLOEXEC), err = -EAGAIN;

		epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(sub), &ev);
		/* the take that first learns of the death may say -EAGAIN once */
		for (int i = 0; i < 2 && err == -EAGAIN; i++)
			if (epoll_wait(ep, &ev, 1, 10000) == 1)
				err = vdds_sub_take(sub, &s);
		close(ep);
		return err == -EPIPE ? 0 : -1;
	}
	setenv("VDDS_BACKEND", m == WS_URING ? "io_uring" : "epoll", 1);
	vdds_waitset *ws;
	struct vdds_event ev;
	int err = -EAGAIN;

	if (vdds_waitset_new(&ws) < 0)
		return -1;
	if (vdds_waitset_add_sub(ws, sub, NULL) == 0)
		for (int i = 0; i < 2 && err == -EAGAIN; i++) /* as above */
			if (vdds_waitset_wait(ws, &ev, 1, 10000) == 1)
				err = vdds_sub_take(sub, &s);
	vdds_waitset_remove(ws, vdds_sub_fd(sub));
	vdds_waitset_free(ws);
	return err == -EPIPE ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int measure(enum mode m, int kills, _Atomic uint64_t *killed_at)
{
	uint64_t *lat = calloc((size_t)kills, sizeof(*lat));

	for (int i = 0; i < kills; i++) {
		int ready[2];
		char c;
		vdds_sub *sub;

		if (pipe(ready) < 0)
			return -1;
		pid_t pub = spawn_publisher(ready[1]);

		if (read(ready[0], &c, 1) != 1 || vdds_sub_open(&sub, TOPIC, NULL) < 0) {
			fprintf(stderr, "death: no publisher\n");
			return -1;
		}
		pid_t killer = spawn_killer(pub, killed_at);
		int err = wait_for_death(sub, m);
		uint64_t woke = now_ns();

		waitpid(killer, NULL, 0);
		waitpid(pub, NULL, 0);
		vdds_sub_close(sub);
		close(ready[0]);
		close(ready[1]);
		if (err < 0) {
			fprintf(stderr, "death: %s did not report the death\n", mode_name[m]);
			return -1;
		}
		lat[i] = woke - atomic_load(killed_at);
	}
	qsort(lat, (size_t)kills, sizeof(*lat), cmp_u64);
	printf("mode=%s kills=%d p50_us=%.1f p99_us=%.1f max_us=%.1f\n", mode_name[m], kills,
	       lat[kills / 2] / 1e3, lat[kills * 99 / 100] / 1e3, lat[kills - 1] / 1e3);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "kills", required_argument, NULL, 'k' },
						  { "mode", required_argument, NULL, 'm' },
						  { NULL, 0, NULL, 0 } };
	int kills = 1000, only = -1, opt;
	char dir[] = "/tmp/vdds-death-XXXXXX";

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'k') {
			kills = atoi(optarg);
		} else if (opt == 'm' && strcmp(optarg, "all") != 0) {
			for (int m = 0; m < N_MODES; m++)
				if (strcmp(optarg, mode_name[m]) == 0)
					only = m;
			if (only < 0) {
				fprintf(stderr, "death: unknown mode %s\n", optarg);
				return 2;
			}
		} else if (opt != 'm') {
			fprintf(stderr,
				"usage: %s [--kills N] [--mode wait|epoll|ws-uring|ws-epoll|all]\n",
				argv[0]);
			return 2;
		}
	}
	if (kills < 1 || !mkdtemp(dir) || setenv("VDDS_DIR", dir, 1) < 0)
		return 2;
	_Atomic uint64_t *killed_at = mmap(NULL, sizeof(*killed_at), PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (killed_at == MAP_FAILED)
		return 1;
	for (int m = 0; m < N_MODES; m++)
		if ((only < 0 || only == m) && measure((enum mode)m, kills, killed_at) < 0)
			return 1;
	rmdir(dir);
	return 0;
}
