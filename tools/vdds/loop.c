/* loop.c — the waiting loop of the commands that read one topic (echo, hz,
 * bw): its subscriber, SIGINT/SIGTERM and an optional tick in one waitset;
 * how each way of ending is reported. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop.h"

static int make_tick(int ms)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { .it_interval = { ms / 1000, (ms % 1000) * 1000000L },
				  .it_value = { ms / 1000, (ms % 1000) * 1000000L } };

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void stopped_by(int sig)
{
	fprintf(stderr, "vdds: stopped by %s\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Take everything there is. Returns -1 to go on waiting, or an exit code. */
static int drain(const struct cli_loop *l, vdds_sub *sub, void *ctx, uint64_t *last)
{
	struct vdds_sample s;
	int err;

	while ((err = vdds_sub_take(sub, &s)) == 0) {
		*last = cli_mono_ns();
		int stop = l->sample(ctx, &s);

		vdds_sub_release(sub, &s);
		if (ferror(stdout)) /* its reader went away, or the disk is full */
			return cli_flush_stdout();
		if (stop)
			return CLI_OK;
	}
	if (err == -EAGAIN)
		return -1;
	if (err == -EPIPE) {
		if (l->end)
			l->end(ctx);
		fprintf(stderr, "vdds: the publisher of '%s' went away\n", l->topic);
		return CLI_OK;
	}
	if (err == -EBADMSG)
		return cli_fail(CLI_RUNTIME, "the publisher of '%s' cut this subscriber off",
				l->topic);
	return cli_fail(CLI_RUNTIME, "'%s': %s", l->topic, cli_lib_error(err));
}

int cli_run_loop(const struct cli_loop *l, void *ctx)
{
	int sigfd = cli_signal_fd();
	int tick = -1, rc = CLI_RUNTIME;
	vdds_waitset *ws = NULL;
	vdds_sub *sub = NULL;

	if (sigfd < 0)
		return cli_fail(CLI_RUNTIME, "signalfd: %s", strerror(-sigfd));
	struct vdds_sub_opts o = { .reconnect = l->reconnect,
				   .type_name = l->type_name,
				   .type_size = l->type_size };
	int err = cli_subscribe_opts(l->topic, &o, sigfd, &sub);

	if (err != 0) {
		if (err > 0) /* a signal while waiting or connecting: done */
			stopped_by(cli_signal_read(sigfd));
		close(sigfd);
		return err > 0 ? CLI_OK : CLI_RUNTIME;
	}
	if (l->tick_ms > 0 && (tick = make_tick(l->tick_ms)) < 0) {
		rc = cli_fail(CLI_RUNTIME, "timerfd: %s", strerror(errno));
		goto out;
	}
	if ((err = vdds_waitset_new(&ws)) < 0 || (err = vdds_waitset_add_sub(ws, sub, sub)) < 0 ||
	    (err = vdds_waitset_add_fd(ws, sigfd, POLLIN, &sigfd)) < 0 ||
	    (tick >= 0 && (err = vdds_waitset_add_fd(ws, tick, POLLIN, &tick)) < 0)) {
		rc = cli_fail(CLI_RUNTIME, "waitset: %s", cli_lib_error(err));
		goto out;
	}
	uint64_t last = cli_mono_ns();

	/* whatever came before the subscriber joined the waitset */
	if ((rc = drain(l, sub, ctx, &last)) >= 0)
		goto out;
	for (;;) {
		struct vdds_event ev[4];
		int ms = -1;

		if (l->timeout_ms > 0) {
			uint64_t end = last + (uint64_t)l->timeout_ms * 1000000u,
				 now = cli_mono_ns();

			ms = now >= end ? 0 : (int)((end - now + 999999) / 1000000);
		}
		int n = vdds_waitset_wait(ws, ev, 4, ms);

		if (n == -ETIMEDOUT) {
			if (l->timeout_ms > 0 &&
			    cli_mono_ns() >= last + (uint64_t)l->timeout_ms * 1000000u) {
				rc = cli_fail(CLI_RUNTIME, "no sample on '%s' within %d ms",
					      l->topic, l->timeout_ms);
				goto out;
			}
			continue;
		}
		if (n < 0) {
			rc = cli_fail(CLI_RUNTIME, "waitset: %s", cli_lib_error(n));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].user == &sigfd) {
				int sig = cli_signal_read(sigfd);

				if (l->end)
					l->end(ctx);
				stopped_by(sig);
				rc = CLI_OK;
				goto out;
			}
			if (ev[i].user == &tick) {
				uint64_t ticks;

				if (read(tick, &ticks, sizeof(ticks)) > 0 && l->tick)
					l->tick(ctx);
				if (ferror(stdout)) {
					rc = cli_flush_stdout();
					goto out;
				}
				continue;
			}
			if ((rc = drain(l, sub, ctx, &last)) >= 0)
				goto out;
		}
	}
out:
	if (ws) {
		vdds_waitset_remove(ws, vdds_sub_fd(sub));
		vdds_waitset_free(ws);
	}
	vdds_sub_close(sub);
	if (tick >= 0)
		close(tick);
	close(sigfd);
	return rc;
}
