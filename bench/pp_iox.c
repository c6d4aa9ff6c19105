/* pp_iox.c — Eclipse iceoryx 2.0 in the ping-pong, through its C binding,
 * waited on two ways: its WaitSet, or a busy-poll take; for comparison with
 * vdds on the same harness. Built only with iceoryx; needs iox-roudi up. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"

#include "pingpong.h"

#define CONNECT_TRIES 5000 /* 1 ms apart: RouDi's discovery is not instant */

struct iox_side {
	int spin; /* 0: WaitSet, 1: busy-poll take */
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
};

static int iox_fail(const char *what)
{
	fprintf(stderr, "pingpong[%d]: iceoryx: %s\n", (int)getpid(), what);
	return -1;
}

/* Both directions connected before the first ping, or it is lost. */
static int await_connected(struct iox_side *x)
{
	for (int t = 0; t < CONNECT_TRIES; t++) {
		if (iox_sub_get_subscription_state(x->sub) == SubscribeState_SUBSCRIBED &&
		    iox_pub_has_subscribers(x->pub))
			return 0;
		bench_sleep_ns(1000000L);
	}
	return iox_fail("never connected (is iox-roudi up?)");
}

static int iox_open(struct pp_side *s, int spin)
{
	char name[64];
	iox_pub_options_t po;
	iox_sub_options_t so;
	/* the storages are large: not on the stack */
	struct iox_side *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return iox_fail("out of memory");
	x->spin = spin;
	s->st = x;
	/* one runtime per process, named for the run and the side */
	snprintf(name, sizeof(name), "%s-%s", s->prefix, s->is_a ? "a" : "b");
	iox_runtime_init(name);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	x->pub = iox_pub_init(&x->pub_storage, "vdds-bench", s->prefix, s->is_a ? "ping" : "pong",
			      &po);
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.historyRequest = 0;
	x->sub = iox_sub_init(&x->sub_storage, "vdds-bench", s->prefix, s->is_a ? "pong" : "ping",
			      &so);
	if (x->pub == NULL || x->sub == NULL)
		return iox_fail("publisher or subscriber init failed");
	if (await_connected(x) < 0)
		return -1;
	if (spin)
		return 0;
	x->ws = iox_ws_init(&x->ws_storage);
	if (iox_ws_attach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA, 0, NULL) !=
	    WaitSetResult_SUCCESS)
		return iox_fail("WaitSet attach failed");
	return 0;
}

static int iox_send(struct pp_side *s, uint64_t i)
{
	struct iox_side *x = s->st;
	void *chunk;
	int r = iox_pub_loan_chunk(x->pub, &chunk, (uint32_t)s->cfg->payload);

	if (r != AllocationResult_SUCCESS) {
		fprintf(stderr, "pingpong[%d]: iceoryx: loan of %zu bytes failed (%d)\n",
			(int)getpid(), s->cfg->payload, r);
		return -1;
	}
	bench_fill_line(chunk, i, s->cfg->payload); /* as for vdds */
	iox_pub_publish_chunk(x->pub, chunk);
	return 0;
}

static int iox_recv(struct pp_side *s, uint64_t i)
{
	struct iox_side *x = s->st;
	iox_notification_info_t infos[2];
	uint64_t missed, got;
	const void *chunk;
	int r;

	while ((r = iox_sub_take_chunk(x->sub, &chunk)) != ChunkReceiveResult_SUCCESS) {
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			fprintf(stderr, "pingpong[%d]: iceoryx: take failed (%d)\n", (int)getpid(),
				r);
			return -1;
		}
		if (!x->spin)
			iox_ws_wait(x->ws, infos, 2, &missed);
	}
	memcpy(&got, chunk, sizeof(got));
	iox_sub_release_chunk(x->sub, chunk);
	if (got != i) {
		fprintf(stderr, "pingpong[%d]: iceoryx: got %" PRIu64 ", want %" PRIu64 "\n",
			(int)getpid(), got, i);
		return -1;
	}
	return 0;
}

static void iox_close(struct pp_side *s)
{
	struct iox_side *x = s->st;

	if (x == NULL)
		return;
	if (x->ws != NULL) {
		iox_ws_detach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(x->ws);
	}
	if (x->sub != NULL)
		iox_sub_deinit(x->sub);
	if (x->pub != NULL)
		iox_pub_deinit(x->pub);
	free(x);
	s->st = NULL;
}

static int open_ws(struct pp_side *s)
{
	return iox_open(s, 0);
}
static int open_spin(struct pp_side *s)
{
	return iox_open(s, 1);
}

/* PP_EXIT_HANDLERS: iceoryx deregisters from RouDi in its exit handlers */
#define IOX_MECH(nm, fl, op)                                                                       \
	{                                                                                          \
		.name = (nm), .flags = PP_PAYLOAD | PP_EXIT_HANDLERS | (fl), .open = (op),         \
		.send = iox_send, .recv = iox_recv, .close = iox_close                             \
	}

const struct pp_mech pp_iox_ws = IOX_MECH("iox-ws", 0, open_ws);
const struct pp_mech pp_iox_spin = IOX_MECH("iox-spin", PP_CROSS_ONLY, open_spin);
