/* waitset.c — one thread serving eight topics through a vdds waitset; to be
 * self-contained it forks a child that publishes on all eight.
 * Usage: waitset [messages_per_topic]   (default 1000) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vdds.h>

#define TOPICS 8

struct topic {
	char name[VDDS_TOPIC_MAX + 1];
	vdds_sub *sub;
	long got;
};

/* The child: publish n samples on each topic, round robin, once each topic
 * has its subscriber. Returns the exit code. */
static int publish_all(struct topic *t, long n)
{
	vdds_pub *pubs[TOPICS];
	int err;

	for (int i = 0; i < TOPICS; i++) {
		if ((err = vdds_pub_open(&pubs[i], t[i].name, NULL)) < 0) {
			fprintf(stderr, "waitset (publisher): %s: %s\n", t[i].name,
				vdds_strerror(err));
			return 1;
		}
	}
	for (int i = 0; i < TOPICS; i++) {
		struct vdds_pub_stats st = { 0 };

		for (int tries = 0; tries < 1000 && st.subscribers == 0; tries++) {
			vdds_pub_stats(pubs[i], &st);
			usleep(10 * 1000);
		}
	}
	for (long k = 1; k <= n; k++)
		for (int i = 0; i < TOPICS; i++)
			if ((err = vdds_pub_write(pubs[i], &k, sizeof(k), 5000)) < 0) {
				fprintf(stderr, "waitset (publisher): write: %s\n",
					vdds_strerror(err));
				return 1;
			}
	/* closing tells the subscribers: they see -EPIPE after the last sample */
	for (int i = 0; i < TOPICS; i++)
		vdds_pub_close(pubs[i]);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	struct topic t[TOPICS] = { 0 };
	int err, open_topics = TOPICS;

	/* topic names unique to this run, so that two runs do not collide */
	for (int i = 0; i < TOPICS; i++)
		snprintf(t[i].name, sizeof(t[i].name), "waitset-%d-%d", (int)getpid(), i);
	/* fork before opening anything: a child must not use its parent's handles */
	pid_t child = fork();

	if (child < 0) {
		perror("waitset: fork");
		return 1;
	}
	if (child == 0)
		_exit(publish_all(t, n));

	vdds_waitset *ws;

	if ((err = vdds_waitset_new(&ws)) < 0) {
		fprintf(stderr, "waitset: %s\n", vdds_strerror(err));
		return 1;
	}
	printf("waitset: backend %s, %d topics, %ld messages each\n", vdds_waitset_backend(ws),
	       TOPICS, n);
	fflush(stdout);
	for (int i = 0; i < TOPICS; i++) {
		/* the publisher may not be up yet: try for ten seconds */
		for (int tries = 0;
		     (err = vdds_sub_open(&t[i].sub, t[i].name, NULL)) == -ENOENT && tries < 1000;
		     tries++)
			usleep(10 * 1000);
		if (err < 0 || (err = vdds_waitset_add_sub(ws, t[i].sub, &t[i])) < 0) {
			fprintf(stderr, "waitset: %s: %s\n", t[i].name, vdds_strerror(err));
			return 1;
		}
	}
	/* the loop: wait on all eight, take from whichever is ready until -EAGAIN */
	while (open_topics > 0) {
		struct vdds_event ev[TOPICS];
		int k = vdds_waitset_wait(ws, ev, TOPICS, 5000);

		if (k < 0) {
			fprintf(stderr, "waitset: wait: %s\n", vdds_strerror(k));
			break;
		}
		for (int e = 0; e < k; e++) {
			struct topic *tp = ev[e].user;
			struct vdds_sample s;

			while ((err = vdds_sub_take(tp->sub, &s)) == 0) {
				tp->got++;
				vdds_sub_release(tp->sub, &s);
			}
			/* done with a topic at n samples, or early on -EPIPE (publisher gone) */
			if (tp->got >= n || err != -EAGAIN) {
				vdds_waitset_remove(ws, vdds_sub_fd(tp->sub));
				open_topics--;
			}
		}
	}
	int ok = 1, status;

	for (int i = 0; i < TOPICS; i++) {
		printf("waitset: %s: %ld messages\n", t[i].name, t[i].got);
		ok &= t[i].got == n;
		vdds_sub_close(t[i].sub);
	}
	vdds_waitset_free(ws);
	waitpid(child, &status, 0);
	ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	printf("waitset: %s\n", ok ? "all received" : "FAILED");
	return ok ? 0 : 1;
}
