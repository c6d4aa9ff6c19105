/* iox_pingpong.c — the same two-process ping-pong over Eclipse iceoryx 2.0's C
 * binding (WaitSet or busy-poll take), for comparison; needs iox-roudi up. */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"

#include "common.h"

#define CONNECT_TRIES 5000 /* 1 ms apart: RouDi's discovery is not instant */

struct config {
	int spin; /* 0: WaitSet, 1: busy-poll take */
	long iters, warmup;
	int cross;
	long payload;
};

struct side {
	const struct config *cfg;
	int is_a;
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
};

static int open_side(struct side *s, const char *prefix)
{
	char name[64];
	iox_pub_options_t po;
	iox_sub_options_t so;

	snprintf(name, sizeof(name), "%s-%s", prefix, s->is_a ? "a" : "b");
	iox_runtime_init(name);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	s->pub = iox_pub_init(&s->pub_storage, "vdds-bench", prefix, s->is_a ? "ping" : "pong",
			      &po);
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.historyRequest = 0;
	s->sub = iox_sub_init(&s->sub_storage, "vdds-bench", prefix, s->is_a ? "pong" : "ping",
			      &so);
	if (s->pub == NULL || s->sub == NULL) {
		fprintf(stderr, "iox_pingpong: publisher or subscriber init failed\n");
		return -1;
	}
	/* Both directions connected before the first ping, or it is lost. */
	for (int t = 0; t < CONNECT_TRIES; t++) {
		if (iox_sub_get_subscription_state(s->sub) == SubscribeState_SUBSCRIBED &&
		    iox_pub_has_subscribers(s->pub))
			break;
		if (t == CONNECT_TRIES - 1) {
			fprintf(stderr, "iox_pingpong: never connected (is iox-roudi up?)\n");
			return -1;
		}
		bench_sleep_ns(1000000L);
	}
	if (!s->cfg->spin) {
		s->ws = iox_ws_init(&s->ws_storage);
		if (iox_ws_attach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS) {
			fprintf(stderr, "iox_pingpong: WaitSet attach failed\n");
			return -1;
		}
	}
	return 0;
}

static void close_side(struct side *s)
{
	if (s->ws != NULL) {
		iox_ws_detach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(s->ws);
	}
	if (s->sub != NULL)
		iox_sub_deinit(s->sub);
	if (s->pub != NULL)
		iox_pub_deinit(s->pub);
}

static void shutdown_hung(int sig)
{
	static const char msg[] = "iox_pingpong: iceoryx's exit handlers hung; leaving without\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do about it */
	}
	_exit(0);
}

/* Leave through exit(): iceoryx deregisters from RouDi in its exit handlers
 * (else RouDi later tries to kill a process long gone). Those handlers join
 * iceoryx's keep-alive thread, which now and then waits forever for RouDi's
 * answer (seen with 2.0.3), so they get 10 s, after the result is safe. */
static _Noreturn void leave(int rc)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = shutdown_hung;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		perror("iox_pingpong: sigaction");
	alarm(10);
	exit(rc);
}

static int send_msg(struct side *s, uint64_t i)
{
	void *chunk;
	int r = iox_pub_loan_chunk(s->pub, &chunk, (uint32_t)s->cfg->payload);

	if (r != AllocationResult_SUCCESS) {
		fprintf(stderr, "iox_pingpong: loan of %ld bytes failed (%d)\n", s->cfg->payload,
			r);
		return -1;
	}
	bench_fill_line(chunk, i, (size_t)s->cfg->payload); /* as for vdds */
	iox_pub_publish_chunk(s->pub, chunk);
	return 0;
}

static int recv_msg(struct side *s, uint64_t i)
{
	iox_notification_info_t infos[2];
	uint64_t missed, got;
	const void *chunk;
	int r;

	while ((r = iox_sub_take_chunk(s->sub, &chunk)) != ChunkReceiveResult_SUCCESS) {
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			fprintf(stderr, "iox_pingpong: take failed (%d)\n", r);
			return -1;
		}
		if (!s->cfg->spin)
			iox_ws_wait(s->ws, infos, 2, &missed);
	}
	memcpy(&got, chunk, sizeof(got));
	iox_sub_release_chunk(s->sub, chunk);
	if (got != i) {
		fprintf(stderr, "iox_pingpong: got %" PRIu64 ", want %" PRIu64 "\n", got, i);
		return -1;
	}
	return 0;
}

struct run {
	struct config cfg;
	char prefix[32];
	int a2b[2], b2a[2];
	uint64_t *samples;
};

static int run_side(struct run *r, int is_a)
{
	struct barrier b = { .rd = is_a ? r->b2a[0] : r->a2b[0],
			     .wr = is_a ? r->a2b[1] : r->b2a[1] };
	static struct side s; /* the storages are large; static: closed at exit */
	long total = r->cfg.warmup + r->cfg.iters;
	int rc = -1;

	s.cfg = &r->cfg;
	s.is_a = is_a;
	if (bench_pin_cpu(is_a || !r->cfg.cross ? 0 : 1) < 0)
		return -1;
	if (open_side(&s, r->prefix) < 0 || bench_barrier_sync(&b, "ready") < 0)
		goto out;
	for (long i = 0; i < total; i++) {
		uint64_t t0 = is_a ? bench_now_ns() : 0;

		if (is_a && send_msg(&s, (uint64_t)i) < 0)
			goto out;
		if (recv_msg(&s, (uint64_t)i) < 0)
			goto out;
		if (!is_a && send_msg(&s, (uint64_t)i) < 0)
			goto out;
		if (is_a && i >= r->cfg.warmup)
			r->samples[i - r->cfg.warmup] = bench_now_ns() - t0;
	}
	if (bench_barrier_sync(&b, "done") < 0)
		goto out;
	rc = 0;
out:
	close_side(&s);
	return rc;
}

static int side_b(void *arg)
{
	struct run *r = arg;

	if (close(r->a2b[1]) < 0 || close(r->b2a[0]) < 0) {
		perror("iox_pingpong: close");
		return -1;
	}
	leave(run_side(r, 0) < 0 ? 1 : 0);
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "payload", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*cfg = (struct config){ .iters = 100000, .warmup = 1000, .payload = 64 };
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int ok = 1;

		if (opt == 'm' && strcmp(optarg, "iox-ws") == 0)
			cfg->spin = 0;
		else if (opt == 'm' && strcmp(optarg, "iox-spin") == 0)
			cfg->spin = 1;
		else if (opt == 'n')
			ok = bench_parse_long(optarg, 1, 100000000L, &cfg->iters) == 0;
		else if (opt == 'w')
			ok = bench_parse_long(optarg, 0, 100000000L, &cfg->warmup) == 0;
		else if (opt == 'c' &&
			 (strcmp(optarg, "same") == 0 || strcmp(optarg, "cross") == 0))
			cfg->cross = strcmp(optarg, "cross") == 0;
		else if (opt == 'p')
			ok = bench_parse_long(optarg, 8, 64L << 20, &cfg->payload) == 0;
		else
			ok = 0;
		if (!ok) {
			fprintf(stderr,
				"usage: %s --mode iox-ws|iox-spin [--iters N] "
				"[--warmup N] [--cpus same|cross] [--payload BYTES]\n",
				argv[0]);
			return -1;
		}
	}
	if (cfg->spin && !cfg->cross) {
		fprintf(stderr, "iox_pingpong: iox-spin spins: use --cpus cross\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct run r;
	int child, rc;

	if (parse_args(argc, argv, &r.cfg) < 0)
		return 2;
	r.samples = calloc((size_t)r.cfg.iters, sizeof(*r.samples));
	if (r.samples == NULL) {
		fprintf(stderr, "iox_pingpong: out of memory\n");
		return 1;
	}
	memset(r.samples, 0xff, (size_t)r.cfg.iters * sizeof(*r.samples));
	snprintf(r.prefix, sizeof(r.prefix), "vb%d", (int)getpid());
	if (pipe2(r.a2b, O_CLOEXEC) < 0 || pipe2(r.b2a, O_CLOEXEC) < 0) {
		perror("iox_pingpong: pipe2");
		return 1;
	}
	child = bench_fork(side_b, &r);
	if (child < 0)
		return 1;
	if (close(r.a2b[0]) < 0 || close(r.b2a[1]) < 0)
		perror("iox_pingpong: close");
	rc = run_side(&r, 1);
	if (rc < 0)
		bench_kill(child);
	if (bench_reap(child, "side B") < 0 || rc < 0)
		leave(1);
	printf("mode=%s cpus=%s payload=%ld iters=%ld", r.cfg.spin ? "iox-spin" : "iox-ws",
	       r.cfg.cross ? "cross" : "same", r.cfg.payload, r.cfg.iters);
	bench_print_percentiles(r.samples, r.cfg.iters);
	printf("\n");
	free(r.samples);
	leave(fflush(stdout) == EOF ? 1 : 0);
}
