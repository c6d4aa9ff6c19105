/* fds.c — file descriptors per topic (issue #14): one process opens N
 * publishers, another N subscriptions, one to each; each counts
 * /proc/self/fd before and after and prints the cost per topic and per
 * subscription, and the publisher again once every subscriber is connected
 * (what each subscriber costs the publisher's process).
 * Usage: vdds_fds [--topics N] [--self-served] (default 1000 topics, with the
 * service thread; --self-served: no_service_thread publishers, which the
 * publishers' process then serves with vdds_pub_dispatch()). RLIMIT_NOFILE's
 * soft limit is raised to the hard one first; VDDS_DIR is a fresh temporary
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vdds.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static void raise_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static bool self_served;

static void topic_name(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "fds_%d", i);
}

/* The publishers' process: open them, say so on `ready`, wait for the
 * subscribers (a byte on `go`), count again, close. */
static int run_publishers(int n, int ready, int go)
{
	vdds_pub **pubs = calloc((size_t)n, sizeof(vdds_pub *));
	char name[32], byte = 1;
	int before = count_fds(), err = 0;

	struct vdds_pub_opts o = { .no_service_thread = self_served };

	for (int i = 0; i < n && !err; i++) {
		topic_name(name, sizeof(name), i);
		if ((err = vdds_pub_open(&pubs[i], name, &o)) < 0)
			fprintf(stderr, "vdds_pub_open %s: %s (%s)\n", name, vdds_strerror(err),
				vdds_last_error_detail());
	}
	int after = count_fds();

	printf("publisher process:  %d topics: %d -> %d fds: %.2f per topic\n", n, before, after,
	       (double)(after - before) / n);
	fflush(stdout);
	if (write(ready, &byte, 1) != 1)
		err = err ? err : -EPIPE;
	/* self-served: serve every publisher until the parent says go */
	for (struct pollfd pfd = { .fd = go, .events = POLLIN }; self_served;) {
		for (int i = 0; i < n; i++)
			if (pubs[i])
				vdds_pub_dispatch(pubs[i]);
		if (poll(&pfd, 1, 1) != 0)
			break;
	}
	if (read(go, &byte, 1) != 1)
		err = err ? err : -EPIPE;
	for (int i = 0; self_served && i < n; i++) /* the last WELCOMEs */
		if (pubs[i])
			vdds_pub_dispatch(pubs[i]);
	struct vdds_pub_stats st;
	int subs = 0;

	for (int i = 0; i < n; i++) /* also lets each adopt its subscriber */
		if (pubs[i] && vdds_pub_stats(pubs[i], &st) == 0)
			subs += (int)st.subscribers;
	int connected = count_fds();

	printf("publisher process:  %d subscribers connected: %d -> %d fds: %.2f per subscriber\n",
	       subs, after, connected, subs ? (double)(connected - after) / subs : 0.0);
	fflush(stdout);
	if (write(ready, &byte, 1) != 1)
		err = err ? err : -EPIPE;
	for (int i = 0; i < n; i++)
		vdds_pub_close(pubs[i]);
	free(pubs);
	return err ? 1 : 0;
}

/* The subscribers' process: open them, say so on `ready`, hold them until
 * `go` closes. */
static int run_subscribers(int n, int ready, int go)
{
	vdds_sub **subs = calloc((size_t)n, sizeof(vdds_sub *));
	char name[32];
	int before = count_fds(), err = 0;

	for (int i = 0; i < n && !err; i++) {
		topic_name(name, sizeof(name), i);
		if ((err = vdds_sub_open(&subs[i], name, NULL)) < 0)
			fprintf(stderr, "vdds_sub_open %s: %s (%s)\n", name, vdds_strerror(err),
				vdds_last_error_detail());
		else
			vdds_sub_fd(subs[i]); /* the fd an event loop would watch */
	}
	int after = count_fds();

	printf("subscriber process: %d subscriptions: %d -> %d fds: %.2f per subscription\n", n,
	       before, after, (double)(after - before) / n);
	fflush(stdout);
	char byte = 1;

	if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) < 0)
		err = err ? err : -EPIPE;
	for (int i = 0; i < n; i++)
		vdds_sub_close(subs[i]);
	free(subs);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	int n = 1000;
	char dir[] = "/tmp/vdds-fds-XXXXXX";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--topics") == 0 && i + 1 < argc) {
			n = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--self-served") == 0) {
			self_served = true;
		} else {
			fprintf(stderr, "usage: vdds_fds [--topics N] [--self-served]\n");
			return 2;
		}
	}
	if (n <= 0 || !mkdtemp(dir))
		return 2;
	setenv("VDDS_DIR", dir, 1);
	raise_limit();
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	printf("RLIMIT_NOFILE: %llu (hard %llu)\n", (unsigned long long)rl.rlim_cur,
	       (unsigned long long)rl.rlim_max);
	fflush(stdout);
	/* pub_ready: the publishers are open, then have counted again;
	 * pub_go: count with the subscribers connected; sub_ready: the
	 * subscriptions are open; sub_go (closed): let them go */
	int pub_ready[2], pub_go[2], sub_ready[2], sub_go[2], status, failed = 0;
	char byte = 1;

	if (pipe(pub_ready) < 0 || pipe(pub_go) < 0 || pipe(sub_ready) < 0 || pipe(sub_go) < 0)
		return 1;
	pid_t pub = fork();

	if (pub == 0)
		_exit(run_publishers(n, pub_ready[1], pub_go[0]));
	if (read(pub_ready[0], &byte, 1) != 1)
		failed = 1;
	pid_t sub = failed ? -1 : fork();

	if (sub == 0) {
		close(sub_go[1]);
		_exit(run_subscribers(n, sub_ready[1], sub_go[0]));
	}
	if (sub < 0 || read(sub_ready[0], &byte, 1) != 1 || write(pub_go[1], &byte, 1) != 1 ||
	    read(pub_ready[0], &byte, 1) != 1)
		failed = 1;
	close(sub_go[1]);
	close(pub_go[1]);
	if (sub > 0 && (waitpid(sub, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)))
		failed = 1;
	if (waitpid(pub, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		failed = 1;
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		failed = 1;
	return failed;
}
