/* glib_sub.c — a subscriber in a GLib main loop: g_unix_fd_add() on
 * vdds_sub_fd() taking one sample per callback (the fd stays readable while
 * more wait), beside a one-second timer printing the message rate.
 * Usage: glib_sub [topic] [seconds]   (defaults: hello, 0 = until the publisher goes) */
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vdds.h>

struct app {
	vdds_sub *sub;
	GMainLoop *loop;
	unsigned long total, last_total, callbacks, empty;
	uint64_t last_seq;
	int out_of_order;
	long seconds, elapsed;
	int err; /* the last take's result */
};

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct app *a = data;
	struct vdds_sample s;

	(void)fd;
	(void)cond;
	a->callbacks++;
	a->err = vdds_sub_take(a->sub, &s);
	if (a->err == 0) {
		/* s.data: a read-only view into shared memory */
		if (a->last_seq && s.seq != a->last_seq + 1)
			a->out_of_order = 1;
		a->last_seq = s.seq;
		a->total++;
		vdds_sub_release(a->sub, &s);
		return G_SOURCE_CONTINUE;
	}
	if (a->err == -EAGAIN) {
		a->empty++;
		return G_SOURCE_CONTINUE;
	}
	g_main_loop_quit(a->loop); /* -EPIPE: the publisher went away */
	return G_SOURCE_REMOVE;
}

static gboolean on_second(gpointer data)
{
	struct app *a = data;

	printf("glib_sub: %lu msg/s (%lu in all)\n", a->total - a->last_total, a->total);
	fflush(stdout);
	a->last_total = a->total;
	if (a->seconds && ++a->elapsed >= a->seconds) {
		g_main_loop_quit(a->loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	const char *topic = argc > 1 ? argv[1] : "hello";
	struct app a = { .seconds = argc > 2 ? atol(argv[2]) : 0 };
	int err;

	/* the publisher may not be up yet: try for ten seconds */
	for (int tries = 0; (err = vdds_sub_open(&a.sub, topic, NULL)) == -ENOENT && tries < 100;
	     tries++)
		usleep(100 * 1000);
	if (err < 0) {
		fprintf(stderr, "glib_sub: cannot subscribe to '%s': %s\n", topic,
			vdds_strerror(err));
		return 1;
	}
	printf("glib_sub: subscribed to '%s'\n", topic);
	fflush(stdout);
	a.loop = g_main_loop_new(NULL, FALSE);
	g_unix_fd_add(vdds_sub_fd(a.sub), G_IO_IN, on_readable, &a);
	g_timeout_add_seconds(1, on_second, &a);
	g_main_loop_run(a.loop);
	g_main_loop_unref(a.loop);

	if (a.err == -EPIPE)
		printf("glib_sub: publisher gone; %lu samples %s; %lu callbacks, %lu found "
		       "nothing\n",
		       a.total, a.out_of_order ? "OUT OF ORDER" : "in order", a.callbacks, a.empty);
	else if (a.err == 0 || a.err == -EAGAIN)
		printf("glib_sub: %ld s done; %lu samples\n", a.seconds, a.total);
	else
		fprintf(stderr, "glib_sub: %s\n", vdds_strerror(a.err));
	vdds_sub_close(a.sub);
	return (a.err == -EPIPE || a.err == 0 || a.err == -EAGAIN) && !a.out_of_order ? 0 : 1;
}
