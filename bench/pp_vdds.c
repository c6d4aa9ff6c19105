/* pp_vdds.c — vdds in the ping-pong, waited on five ways: vdds_sub_wait(),
 * its fd in the user's own epoll, the waitset (io_uring, epoll), busy poll. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "pingpong.h"
#include "vdds.h"

/* A subscriber keeps retrying while the peer's publisher is not up yet, and
 * a publisher waits this long to see its subscriber: 2 s in all. */
#define CONNECT_TRIES 2000
#define CONNECT_SLEEP_NS 1000000L

enum how { HOW_WAIT, HOW_EPOLL, HOW_WS_URING, HOW_WS_EPOLL, HOW_SPIN };

struct vdds_side {
	enum how how;
	vdds_pub *pub;
	vdds_sub *sub;
	vdds_waitset *ws;
	int ep;        /* HOW_EPOLL: the user's epoll, holding vdds_sub_fd() */
	long spurious; /* wakeups with nothing to take */
};

static int vfail(const char *what, int err)
{
	fprintf(stderr, "pingpong[%d]: %s: %s (%d)\n", (int)getpid(), what, vdds_strerror(err),
		err);
	return -1;
}

static int sub_connect(struct vdds_side *v, const char *topic)
{
	struct vdds_sub_opts o;
	int err = -ENOENT;

	memset(&o, 0, sizeof(o));
	o.busy_poll = v->how == HOW_SPIN;
	for (int t = 0; t < CONNECT_TRIES && err == -ENOENT; t++) {
		err = vdds_sub_open(&v->sub, topic, &o);
		if (err == -ENOENT)
			bench_sleep_ns(CONNECT_SLEEP_NS);
	}
	return err < 0 ? vfail("vdds_sub_open", err) : 0;
}

/* Do not send the first ping before our publisher counts the peer's
 * subscriber, or that message could go to nobody. */
static int pub_await_subscriber(vdds_pub *pub)
{
	struct vdds_pub_stats st;
	int err;

	for (int t = 0; t < CONNECT_TRIES; t++) {
		err = vdds_pub_stats(pub, &st);
		if (err < 0)
			return vfail("vdds_pub_stats", err);
		if (st.subscribers >= 1)
			return 0;
		bench_sleep_ns(CONNECT_SLEEP_NS);
	}
	fprintf(stderr, "pingpong[%d]: publisher never saw its subscriber\n", (int)getpid());
	return -1;
}

/* The waiting machinery: a waitset on a forced backend, or the user's epoll. */
static int waiter_open(struct vdds_side *v)
{
	const char *want = v->how == HOW_WS_URING ? "io_uring" : "epoll";
	int err;

	if (v->how == HOW_EPOLL) {
		v->ep = pp_epoll_new();
		if (v->ep < 0)
			return -1;
		return pp_epoll_add(v->ep, vdds_sub_fd(v->sub), EPOLLIN, 1);
	}
	if (v->how != HOW_WS_URING && v->how != HOW_WS_EPOLL)
		return 0;
	if (setenv("VDDS_BACKEND", want, 1) < 0)
		return pp_fail("setenv VDDS_BACKEND");
	if ((err = vdds_waitset_new(&v->ws)) < 0)
		return vfail("vdds_waitset_new", err);
	if (strcmp(vdds_waitset_backend(v->ws), want) != 0) {
		fprintf(stderr, "pingpong: waitset backend is %s, not %s\n",
			vdds_waitset_backend(v->ws), want);
		return -1;
	}
	if ((err = vdds_waitset_add_sub(v->ws, v->sub, NULL)) < 0)
		return vfail("vdds_waitset_add_sub", err);
	return 0;
}

static int vdds_open(struct pp_side *s, enum how how)
{
	char tx[VDDS_TOPIC_MAX + 1], rx[VDDS_TOPIC_MAX + 1];
	struct vdds_pub_opts po;
	struct vdds_side *v = calloc(1, sizeof(*v));
	int err;

	if (v == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		return -1;
	}
	v->how = how;
	v->ep = -1;
	s->st = v;
	snprintf(tx, sizeof(tx), "%s-%s", s->prefix, s->is_a ? "ping" : "pong");
	snprintf(rx, sizeof(rx), "%s-%s", s->prefix, s->is_a ? "pong" : "ping");
	memset(&po, 0, sizeof(po));
	if (s->cfg->payload > 4096) /* the default slot holds 4096 */
		po.slot_size = s->cfg->payload;
	if ((err = vdds_pub_open(&v->pub, tx, &po)) < 0)
		return vfail("vdds_pub_open", err);
	if (bench_barrier_sync(s->b, "publishers open") < 0 || sub_connect(v, rx) < 0 ||
	    pub_await_subscriber(v->pub) < 0)
		return -1;
	return waiter_open(v);
}

static int vdds_send(struct pp_side *s, uint64_t i)
{
	struct vdds_side *v = s->st;
	void *buf;
	int err;

	if ((err = vdds_pub_loan(v->pub, &buf, -1)) < 0)
		return vfail("vdds_pub_loan", err);
	bench_fill_line(buf, i, s->cfg->payload);
	if ((err = vdds_pub_publish(v->pub, buf, s->cfg->payload)) < 0)
		return vfail("vdds_pub_publish", err);
	return 0;
}

/* vdds_sub_take() said -EAGAIN: block (or not, when spinning) the chosen way. */
static int wait_more(struct vdds_side *v)
{
	struct vdds_event ev;
	int err;

	if (v->how == HOW_EPOLL)
		return pp_epoll_wait1(v->ep, "epoll on vdds_sub_fd");
	if (v->how == HOW_WS_URING || v->how == HOW_WS_EPOLL) {
		err = vdds_waitset_wait(v->ws, &ev, 1, -1);
		return err < 0 ? vfail("vdds_waitset_wait", err) : 0;
	}
	if (v->how == HOW_WAIT)
		v->spurious++; /* wait() said "take now" but there was nothing */
	return 0;              /* HOW_SPIN: take again at once */
}

static int vdds_recv(struct pp_side *s, uint64_t i)
{
	struct vdds_side *v = s->st;
	struct vdds_sample smp;
	uint64_t got;
	int err;

	for (;;) {
		if (v->how == HOW_WAIT && (err = vdds_sub_wait(v->sub, -1)) < 0)
			return vfail("vdds_sub_wait", err);
		err = vdds_sub_take(v->sub, &smp);
		if (err == 0)
			break;
		if (err != -EAGAIN)
			return vfail("vdds_sub_take", err);
		if (wait_more(v) < 0)
			return -1;
	}
	memcpy(&got, smp.data, sizeof(got));
	if (got != i || smp.len != s->cfg->payload || smp.seq != i + 1) {
		fprintf(stderr,
			"pingpong[%d]: mismatch: counter %" PRIu64 " (want %" PRIu64
			"), len %zu (want %zu), seq %" PRIu64 "\n",
			(int)getpid(), got, i, smp.len, s->cfg->payload, smp.seq);
		return -1;
	}
	if ((err = vdds_sub_release(v->sub, &smp)) < 0)
		return vfail("vdds_sub_release", err);
	return 0;
}

static void vdds_close(struct pp_side *s)
{
	struct vdds_side *v = s->st;

	if (v == NULL)
		return;
	if (v->spurious > 0)
		fprintf(stderr,
			"pingpong[%d]: %ld vdds_sub_wait() returns had "
			"nothing to take\n",
			(int)getpid(), v->spurious);
	/* the waitset goes first: then its member need not be removed */
	vdds_waitset_free(v->ws);
	if (v->ep >= 0 && close(v->ep) < 0)
		perror("pingpong: close epoll");
	vdds_sub_close(v->sub);
	vdds_pub_close(v->pub);
	free(v);
	s->st = NULL;
}

static int open_wait(struct pp_side *s)
{
	return vdds_open(s, HOW_WAIT);
}
static int open_epoll(struct pp_side *s)
{
	return vdds_open(s, HOW_EPOLL);
}
static int open_ws_uring(struct pp_side *s)
{
	return vdds_open(s, HOW_WS_URING);
}
static int open_ws_epoll(struct pp_side *s)
{
	return vdds_open(s, HOW_WS_EPOLL);
}
static int open_spin(struct pp_side *s)
{
	return vdds_open(s, HOW_SPIN);
}

#define VDDS_MECH(nm, fl, op)                                                                      \
	{                                                                                          \
		.name = (nm), .flags = PP_PAYLOAD | (fl), .open = (op), .send = vdds_send,         \
		.recv = vdds_recv, .close = vdds_close                                             \
	}

const struct pp_mech pp_vdds_wait = VDDS_MECH("vdds-wait", 0, open_wait);
const struct pp_mech pp_vdds_epoll = VDDS_MECH("vdds-epoll", 0, open_epoll);
const struct pp_mech pp_vdds_ws_uring = VDDS_MECH("vdds-ws-uring", 0, open_ws_uring);
const struct pp_mech pp_vdds_ws_epoll = VDDS_MECH("vdds-ws-epoll", 0, open_ws_epoll);
const struct pp_mech pp_vdds_spin = VDDS_MECH("vdds-spin", PP_CROSS_ONLY, open_spin);
