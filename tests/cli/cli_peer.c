/* cli_peer.c — the publishers and subscribers the `vdds` command's tests run
 * against, each logging exactly what it published or received (hex, one
 * payload per line) so that a test compares bytes, not impressions.
 *   cli_peer pub TOPIC[,TOPIC...] [--count N] [--rate HZ] [--size B] [--slots N]
 *                [--wait-subs K] [--type NAME] [--log FILE] [--linger]
 *     publishes N samples, alternating between the topics, payload i of a
 *     length and bytes derived from i (NUL, newlines, '\' and high bytes too)
 *     or of exactly B bytes; --linger stays until killed.
 *   cli_peer sub TOPIC[,TOPIC...] [--count N] [--hold K] [--log FILE] [--ready FILE]
 *                [--stay]
 *     waits for the topics to appear, receives N samples in all (one waitset),
 *     logging "topic hex publish_ns arrival_ns" per line; keeps the first K
 *     unreleased; then touches FILE and, with --hold or --stay, stays until
 *     killed. (pub logs "topic hex publish_ns 0".) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vdds.h"

#define MAX_TOPICS 8

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "cli_peer: %s: %s\n", what, err ? vdds_strerror(err) : "failed");
	exit(1);
}

static int split(char *list, char **out)
{
	int n = 0;

	for (char *t = strtok(list, ","); t && n < MAX_TOPICS; t = strtok(NULL, ","))
		out[n++] = t;
	return n;
}

static size_t payload(uint64_t i, size_t size, unsigned char *buf)
{
	size_t len = size ? size : 1 + (size_t)(i * 37 % 200);

	for (size_t k = 0; k < len; k++)
		buf[k] = (unsigned char)(i * 131 + k * 7);
	return len;
}

static void log_hex(FILE *f, const char *topic, const unsigned char *p, size_t len, uint64_t t1,
		    uint64_t t2)
{
	if (!f)
		return;
	fprintf(f, "%s ", topic);
	for (size_t k = 0; k < len; k++)
		fprintf(f, "%02x", p[k]);
	if (len == 0)
		fputc('-', f);
	fprintf(f, " %llu %llu\n", (unsigned long long)t1, (unsigned long long)t2);
}

static int run_pub(int n, char **topics, long count, double rate, size_t size, unsigned slots,
		   unsigned wait_subs, const char *type, FILE *log, int linger)
{
	vdds_pub *pub[MAX_TOPICS];
	struct vdds_pub_opts o = { .slot_size = size > 4096 ? size : 4096,
				   .slot_count = slots,
				   .type_name = type };
	unsigned char *buf = malloc(o.slot_size);
	int err;

	for (int t = 0; t < n; t++)
		if ((err = vdds_pub_open(&pub[t], topics[t], &o)) < 0)
			die("vdds_pub_open", err);
	for (int t = 0; t < n; t++) {
		struct vdds_pub_stats st;

		while (vdds_pub_stats(pub[t], &st) == 0 && st.subscribers < wait_subs)
			usleep(2000);
	}
	uint64_t t0 = now_ns();

	for (long i = 0; i < count; i++) {
		int t = (int)(i % n);
		size_t len = payload((uint64_t)i + 1, size, buf);

		if (rate > 0)
			sleep_until(t0 + (uint64_t)((double)i * 1e9 / rate));
		if ((err = vdds_pub_write(pub[t], buf, len, -1)) < 0)
			die("vdds_pub_write", err);
		log_hex(log, topics[t], buf, len, now_ns(), 0);
	}
	if (log)
		fclose(log);
	while (linger)
		pause();
	for (int t = 0; t < n; t++)
		vdds_pub_close(pub[t]);
	free(buf);
	return 0;
}

static int run_sub(int n, char **topics, long count, long hold, FILE *log, const char *ready,
		   int stay)
{
	vdds_sub *sub[MAX_TOPICS];
	vdds_waitset *ws;
	struct vdds_sample *held = calloc((size_t)hold + 1, sizeof(*held));
	int err;
	long got = 0;

	for (int t = 0; t < n; t++) {
		for (int tries = 0;
		     (err = vdds_sub_open(&sub[t], topics[t], NULL)) == -ENOENT && tries < 3000;
		     tries++)
			usleep(5000);
		if (err < 0)
			die("vdds_sub_open", err);
	}
	if ((err = vdds_waitset_new(&ws)) < 0)
		die("vdds_waitset_new", err);
	for (int t = 0; t < n; t++)
		if ((err = vdds_waitset_add_sub(ws, sub[t], topics[t])) < 0)
			die("vdds_waitset_add_sub", err);
	while (got < count) {
		struct vdds_event ev[MAX_TOPICS];
		int k = vdds_waitset_wait(ws, ev, MAX_TOPICS, 30000);

		if (k < 0)
			die("vdds_waitset_wait", k);
		for (int e = 0; e < k; e++) {
			int t = 0;
			struct vdds_sample s;

			while (strcmp(topics[t], ev[e].user))
				t++;
			while (got < count && (err = vdds_sub_take(sub[t], &s)) == 0) {
				log_hex(log, topics[t], s.data, s.len, s.timestamp_ns, now_ns());
				if (got < hold)
					held[got] = s;
				else
					vdds_sub_release(sub[t], &s);
				got++;
			}
			if (err == -EPIPE || err == -EBADMSG)
				die("publisher gone before the count", err);
		}
	}
	if (log)
		fclose(log);
	if (ready)
		close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	while (hold > 0 || stay)
		pause();
	for (int t = 0; t < n; t++) {
		vdds_waitset_remove(ws, vdds_sub_fd(sub[t]));
		vdds_sub_close(sub[t]);
	}
	vdds_waitset_free(ws);
	free(held);
	return 0;
}

int main(int argc, char **argv)
{
	char *topics[MAX_TOPICS];
	long count = 1, hold = 0;
	double rate = 0;
	size_t size = 0;
	unsigned slots = 0, wait_subs = 0;
	const char *type = NULL, *ready = NULL;
	FILE *log = NULL;
	int linger = 0;

	if (argc < 3 || (strcmp(argv[1], "pub") && strcmp(argv[1], "sub"))) {
		fprintf(stderr, "usage: cli_peer pub|sub TOPIC[,TOPIC...] [options]\n");
		return 2;
	}
	int n = split(argv[2], topics);

	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(a, "--linger") || !strcmp(a, "--stay")) {
			linger = 1;
			continue;
		}
		i++;
		if (!strcmp(a, "--count"))
			count = atol(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--size"))
			size = (size_t)atol(v);
		else if (!strcmp(a, "--slots"))
			slots = (unsigned)atoi(v);
		else if (!strcmp(a, "--wait-subs"))
			wait_subs = (unsigned)atoi(v);
		else if (!strcmp(a, "--type"))
			type = v;
		else if (!strcmp(a, "--hold"))
			hold = atol(v);
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "--log") && !(log = fopen(v, "we")))
			die(v, 0);
		else if (!strcmp(a, "--log"))
			setvbuf(log, NULL, _IOFBF,
				1 << 22); /* written at the end, not while timed */
		else if (strcmp(a, "--log"))
			die(a, EINVAL);
	}
	if (!strcmp(argv[1], "pub"))
		return run_pub(n, topics, count, rate, size, slots, wait_subs, type, log, linger);
	return run_sub(n, topics, count, hold, log, ready, linger);
}
