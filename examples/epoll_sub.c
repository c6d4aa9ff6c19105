/* epoll_sub.c — a subscriber inside a plain, level-triggered epoll loop:
 * vdds_sub_fd() beside a timerfd that prints the message rate every second.
 * Each readiness takes one sample; the fd stays readable while more wait.
 * Usage: epoll_sub [topic] [seconds]   (defaults: hello, 0 = until the publisher goes) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <vdds.h>

enum { TAG_SUB = 1, TAG_TIMER = 2 };

struct tally {
	unsigned long total, callbacks, empty;
	uint64_t last_seq;
	int out_of_order;
};

/* The fd is readable: take one sample (the fd stays readable while more
 * wait). Returns take's result: 0, -EAGAIN, or -EPIPE once the publisher is
 * gone and everything is taken. */
static int take_one(vdds_sub *sub, struct tally *t)
{
	struct vdds_sample s;
	int err = vdds_sub_take(sub, &s);

	t->callbacks++;
	if (err == 0) {
		/* s.data is a read-only view into shared memory: use it here */
		if (t->last_seq && s.seq != t->last_seq + 1)
			t->out_of_order = 1;
		t->last_seq = s.seq;
		t->total++;
		vdds_sub_release(sub, &s);
	} else if (err == -EAGAIN) {
		t->empty++;
		err = 0;
	}
	return err;
}

int main(int argc, char **argv)
{
	const char *topic = argc > 1 ? argv[1] : "hello";
	long seconds = argc > 2 ? atol(argv[2]) : 0;
	struct tally t = { 0 };
	unsigned long last_total = 0;
	vdds_sub *sub;
	int err;

	/* the publisher may not be up yet: try for ten seconds */
	for (int tries = 0; (err = vdds_sub_open(&sub, topic, NULL)) == -ENOENT && tries < 100;
	     tries++)
		usleep(100 * 1000);
	if (err < 0) {
		fprintf(stderr, "epoll_sub: cannot subscribe to '%s': %s\n", topic,
			vdds_strerror(err));
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec every_second = { { 1, 0 }, { 1, 0 } };
	struct epoll_event sub_ev = { .events = EPOLLIN, .data.u32 = TAG_SUB };
	struct epoll_event timer_ev = { .events = EPOLLIN, .data.u32 = TAG_TIMER };

	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every_second, NULL) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, vdds_sub_fd(sub), &sub_ev) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &timer_ev) < 0) {
		perror("epoll_sub: setup");
		return 1;
	}
	printf("epoll_sub: subscribed to '%s'\n", topic);
	fflush(stdout);
	err = 0;
	for (long elapsed = 0; err == 0 && (seconds == 0 || elapsed < seconds);) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("epoll_sub: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == TAG_SUB) {
				err = take_one(sub, &t);
			} else {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					elapsed += (long)ticks;
				printf("epoll_sub: %lu msg/s (%lu in all)\n", t.total - last_total,
				       t.total);
				fflush(stdout);
				last_total = t.total;
			}
		}
	}
	if (err == -EPIPE)
		printf("epoll_sub: publisher gone; %lu samples %s; %lu callbacks, %lu found "
		       "nothing\n",
		       t.total, t.out_of_order ? "OUT OF ORDER" : "in order", t.callbacks, t.empty);
	else if (err == 0)
		printf("epoll_sub: %ld s done; %lu samples\n", seconds, t.total);
	else
		fprintf(stderr, "epoll_sub: take: %s\n", vdds_strerror(err));
	close(tfd);
	close(ep);
	vdds_sub_close(sub);
	return (err == -EPIPE || err == 0) && !t.out_of_order ? 0 : 1;
}
