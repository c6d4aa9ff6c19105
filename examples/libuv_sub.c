/* libuv_sub.c — a subscriber in a libuv loop: a uv_poll_t on vdds_sub_fd()
 * taking one sample per callback (the fd stays readable while more wait),
 * with a uv_timer_t printing the message rate every second.
 * Usage: libuv_sub [topic] [seconds]   (defaults: hello, 0 = until the publisher goes) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include <vdds.h>

struct app {
	vdds_sub *sub;
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned long total, last_total, callbacks, empty;
	uint64_t last_seq;
	int out_of_order;
	long seconds, elapsed;
	int err; /* the last take's result */
};

static void stop(struct app *a)
{
	uv_poll_stop(&a->poll);
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->poll, NULL);
	uv_close((uv_handle_t *)&a->timer, NULL);
}

/* One sample per callback: libuv calls again while more wait. */
static void on_readable(uv_poll_t *h, int status, int events)
{
	struct app *a = h->data;
	struct vdds_sample s;

	(void)events;
	if (status < 0) {
		fprintf(stderr, "libuv_sub: poll: %s\n", uv_strerror(status));
		a->err = -EIO;
		stop(a);
		return;
	}
	a->callbacks++;
	a->err = vdds_sub_take(a->sub, &s);
	if (a->err == 0) {
		/* s.data: a read-only view into shared memory */
		if (a->last_seq && s.seq != a->last_seq + 1)
			a->out_of_order = 1;
		a->last_seq = s.seq;
		a->total++;
		vdds_sub_release(a->sub, &s);
	} else if (a->err == -EAGAIN) {
		a->empty++;
	} else {
		stop(a); /* -EPIPE: the publisher went away */
	}
}

static void on_second(uv_timer_t *h)
{
	struct app *a = h->data;

	printf("libuv_sub: %lu msg/s (%lu in all)\n", a->total - a->last_total, a->total);
	fflush(stdout);
	a->last_total = a->total;
	if (a->seconds && ++a->elapsed >= a->seconds)
		stop(a);
}

int main(int argc, char **argv)
{
	const char *topic = argc > 1 ? argv[1] : "hello";
	struct app a = { .seconds = argc > 2 ? atol(argv[2]) : 0 };
	uv_loop_t *loop = uv_default_loop();
	int err;

	/* the publisher may not be up yet: try for ten seconds */
	for (int tries = 0; (err = vdds_sub_open(&a.sub, topic, NULL)) == -ENOENT && tries < 100;
	     tries++)
		usleep(100 * 1000);
	if (err < 0) {
		fprintf(stderr, "libuv_sub: cannot subscribe to '%s': %s\n", topic,
			vdds_strerror(err));
		return 1;
	}
	printf("libuv_sub: subscribed to '%s'\n", topic);
	fflush(stdout);
	a.poll.data = a.timer.data = &a;
	uv_poll_init(loop, &a.poll, vdds_sub_fd(a.sub));
	uv_timer_init(loop, &a.timer);
	uv_timer_start(&a.timer, on_second, 1000, 1000);
	uv_poll_start(&a.poll, UV_READABLE, on_readable);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);

	if (a.err == -EPIPE)
		printf("libuv_sub: publisher gone; %lu samples %s; %lu callbacks, %lu found "
		       "nothing\n",
		       a.total, a.out_of_order ? "OUT OF ORDER" : "in order", a.callbacks, a.empty);
	else if (a.err == 0 || a.err == -EAGAIN)
		printf("libuv_sub: %ld s done; %lu samples\n", a.seconds, a.total);
	else
		fprintf(stderr, "libuv_sub: %s\n", vdds_strerror(a.err));
	vdds_sub_close(a.sub);
	return (a.err == -EPIPE || a.err == 0 || a.err == -EAGAIN) && !a.out_of_order ? 0 : 1;
}
