/* epoll_sub.c — a subscriber inside a plain epoll loop: vdds_sub_fd() beside a
 * timerfd that prints the message rate every second.
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

/* Take until -EAGAIN (from then on the fd wakes us) or an error such as
 * -EPIPE; count what was taken. Returns the last take's result. */
static int take_all(vdds_sub *sub, unsigned long *count)
{
	struct vdds_sample s;
	int err;

	while ((err = vdds_sub_take(sub, &s)) == 0) {
		/* s.data is a read-only view into shared memory: use it here */
		(*count)++;
		vdds_sub_release(sub, &s);
	}
	return err;
}

int main(int argc, char **argv)
{
	const char *topic = argc > 1 ? argv[1] : "hello";
	long seconds = argc > 2 ? atol(argv[2]) : 0;
	unsigned long total = 0, last_total = 0;
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
	/* the fd contract: take until -EAGAIN first, then wait for the fd */
	err = take_all(sub, &total);
	for (long elapsed = 0; err == -EAGAIN && (seconds == 0 || elapsed < seconds);) {
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
				err = take_all(sub, &total);
			} else {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					elapsed += (long)ticks;
				printf("epoll_sub: %lu msg/s (%lu in all)\n", total - last_total,
				       total);
				fflush(stdout);
				last_total = total;
			}
		}
	}
	if (err == -EPIPE)
		printf("epoll_sub: publisher gone; %lu samples\n", total);
	else if (err == -EAGAIN)
		printf("epoll_sub: %ld s done; %lu samples\n", seconds, total);
	else
		fprintf(stderr, "epoll_sub: take: %s\n", vdds_strerror(err));
	close(tfd);
	close(ep);
	vdds_sub_close(sub);
	return err == -EPIPE || err == -EAGAIN ? 0 : 1;
}
