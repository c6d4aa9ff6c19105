/* pub.c — the publisher's entry points, vdds_pub_*, and its data path. Loan
 * and publish run on the application's thread without locks; they look at
 * the control side's work (pub_lane.c) only when an atomic flag says there is
 * some. Resources are made in pub_make.c, subscribers served in pub_ctl.c. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "fdlimit.h"
#include "internal.h"
#include "kick.h"
#include "pub_internal.h"
#include "rundir.h"

#define MAX_SLOT_COUNT (1u << 20)
#define MAX_SLOT_SIZE (1ull << 32)

_Static_assert(VDDS_MAX_SUBSCRIBERS <= VDDS__MAX_LANES, "a lane per subscriber");

/* -EINVAL for a NULL argument: which one. */
static __attribute__((noinline, cold)) int null_arg(const void *first, const char *first_name,
						    const char *second_name)
{
	return vdds__detail_setf(-EINVAL, "%s: NULL", first ? second_name : first_name);
}

/* -EINVAL for a buffer that is no loaned slot of ours. */
static __attribute__((noinline, cold)) int not_loaned(void)
{
	return vdds__detail_setf(-EINVAL, "buf: not a slot loaned from this publisher");
}

/* -EINVAL for vdds_pub_fd/vdds_pub_dispatch on a publisher without them. */
static __attribute__((noinline, cold)) int served_by_thread(void)
{
	return vdds__detail_setf(-EINVAL, "pub: served by the service thread "
					  "(no fd or dispatch without no_service_thread)");
}

/* What a zero option asks for: resolved here once, so that the rest of the
 * publisher reads the options as they are. */
#define DEFAULT_SLOT_SIZE 4096
#define DEFAULT_SLOT_COUNT 64
#define DEFAULT_MAX_SUBS 32

static void resolve_defaults(struct vdds_pub_opts *o)
{
	o->slot_size = o->slot_size ? o->slot_size : DEFAULT_SLOT_SIZE;
	o->slot_count = o->slot_count ? o->slot_count : DEFAULT_SLOT_COUNT;
	o->max_subscribers = o->max_subscribers ? o->max_subscribers : DEFAULT_MAX_SUBS;
}

/* The options with their defaults resolved: -EINVAL with the detail naming
 * the option at fault and what it must be. */
static int check_opts(const struct vdds_pub_opts *o)
{
	if (o->slot_size > MAX_SLOT_SIZE)
		return vdds__detail_setf(-EINVAL, "slot_size %zu: at most %llu", o->slot_size,
					 MAX_SLOT_SIZE);
	if (o->slot_count > MAX_SLOT_COUNT || o->slot_count == 1)
		return vdds__detail_setf(-EINVAL, "slot_count %u: 2..%u (0: default %u)",
					 o->slot_count, MAX_SLOT_COUNT, DEFAULT_SLOT_COUNT);
	if (o->max_subscribers > VDDS_MAX_SUBSCRIBERS)
		return vdds__detail_setf(-EINVAL, "max_subscribers %u: at most %u",
					 o->max_subscribers, VDDS_MAX_SUBSCRIBERS);
	if (o->overflow > VDDS__OVERFLOW_MAX)
		return vdds__detail_setf(-EINVAL, "overflow %u: not an enum vdds_overflow",
					 o->overflow);
	if (o->history > o->slot_count / 2)
		return vdds__detail_setf(-EINVAL, "history %u: at most slot_count / 2 = %u",
					 o->history, o->slot_count / 2);
	if (o->type_name && strlen(o->type_name) > VDDS_TYPE_NAME_MAX)
		return vdds__detail_setf(-EINVAL, "type_name: longer than %d bytes",
					 VDDS_TYPE_NAME_MAX);
	return 0;
}

int vdds_pub_open(vdds_pub **pubp, const char *topic, const struct vdds_pub_opts *opts)
{
	struct vdds_pub_opts o = { 0 };
	int err;

	vdds__detail_clear();
	if (!pubp)
		return null_arg(pubp, "pub", "");
	if ((err = vdds__topic_name_check(topic)) < 0)
		return err;
	*pubp = NULL;
	if (opts && (err = vdds__reserve_check("vdds_pub_opts", opts,
					       offsetof(struct vdds_pub_opts, vdds__reserved),
					       sizeof(*opts))) < 0)
		return err;
	if (opts)
		o = *opts;
	resolve_defaults(&o);
	if ((err = check_opts(&o)) < 0)
		return err;

	struct vdds_pub *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->topic_fd = p->lock_fd = p->listen_fd = p->ctl_epfd = p->timer_fd = -1;
	pthread_mutex_init(&p->mu, NULL);
	/* first: a fork() from another thread while we open leaves the child
	 * nothing of what is made below */
	vdds__pub_fork_add(p);
	p->threaded = !o.no_service_thread;
	if ((err = vdds__pub_make(p, topic, &o)) < 0 || (err = vdds__pub_serve_start(p)) < 0 ||
	    (err = vdds__pub_go_live(p)) < 0)
		goto err_destroy;
	*pubp = p;
	return 0;

err_destroy:
	vdds__pub_destroy(p);
	return vdds__fd_limit_detail(err, "published topic",
				     o.no_service_thread ? VDDS__FDS_PER_SELF_SERVED_PUB
							 : VDDS__FDS_PER_PUB);
}

void vdds_pub_close(vdds_pub *p)
{
	if (!p)
		return;
	/* a waitset must not poll our control fd once it is closed (io_uring
	 * would hold it open) nor keep a member naming us; not in a child of
	 * fork(), whose waitsets (an io_uring ring above all) are the parent's */
	if (!vdds__fork_foreign(&p->fk))
		vdds__waitset_forget(&p->memberships);
	vdds__pub_destroy(p);
}

struct vdds__member **vdds__pub_memberships(vdds_pub *p)
{
	return &p->memberships;
}

/* Without a service thread, waiting is also when we serve subscribers (the
 * one holding our slots may be the one that just died, or its WAKE may be
 * queued): sleep on our own epoll set. Returns 0, or -ETIMEDOUT. */
static int wait_serving(struct vdds_pub *p, int ms)
{
	struct pollfd pfd = { .fd = p->ctl_epfd, .events = POLLIN };
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n > 0)
		vdds__pub_control(p);
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Sleep until the control side bumps ret_word past `seen` (a WAKE came, or a
 * lane left), or the deadline: on its futex (pub_lane.c) when the service
 * thread serves us, serving ourselves when not. Returns 0, or -ETIMEDOUT. */
static int wait_for_return(struct vdds_pub *p, uint32_t seen, int timeout_ms, uint64_t deadline)
{
	struct timespec ts, *at = NULL;

	if (timeout_ms > 0) {
		if (vdds__ms_left(deadline) == 0)
			return -ETIMEDOUT;
		ts.tv_sec = (time_t)(deadline / 1000000000u);
		ts.tv_nsec = (long)(deadline % 1000000000u);
		at = &ts;
	}
	if (!p->threaded)
		return wait_serving(p, timeout_ms > 0 ? vdds__ms_left(deadline) : -1);
	return vdds__pub_loan_sleep(p, seen, at);
}

/* BLOCK, and no slot is free: sleep until one comes back. Each round asks
 * only the subscriber that has the oldest slot still queued to wake us, if
 * one has (vdds__pubcore_arm_wait), so a slot held by several usually costs
 * one wakeup, not one per holder. Its release sends a WAKE on its socket, which the control
 * side turns into a bump of ret_word (wait_for_return). */
static __attribute__((noinline)) int loan_wait(struct vdds_pub *p, int timeout_ms)
{
	uint64_t start = vdds__now_ns();
	uint64_t deadline = timeout_ms > 0 ? start + (uint64_t)timeout_ms * 1000000ull : 0;
	int id;

	for (;;) {
		/* acquire: read before asking, so a WAKE for this request bumps
		 * it past what we sleep on; pairs with vdds__pub_wake_loan */
		uint32_t seen = vdds__load_acquire(&p->ret_word);

		/* ask a releasing subscriber to wake us, then look again: a slot
		 * returned before it could see the request is found here */
		vdds__pubcore_arm_wait(&p->core);
		/* full fence: pub_wait stores before the release ring loads,
		 * the mirror of vdds__subcore_release */
		vdds__fence();
		uint64_t returned = p->core.returned;

		if ((id = vdds__pubcore_loan(&p->core)) >= 0)
			break;
		/* slots came back but none is free: the holders are not those we
		 * chose from, and the one we asked may have released before it
		 * saw the request (found by tests/model/slotwait.pml): choose
		 * again rather than sleep */
		if (p->core.returned != returned)
			continue;
		/* looking for slots may have found a broken lane: cut it off
		 * now, not when this wait ends */
		vdds__pub_cut_off_broken(p);
		int err = wait_for_return(p, seen, timeout_ms, deadline);

		vdds__pub_apply_control(p);
		vdds__pub_cut_off_broken(p);
		if ((id = vdds__pubcore_loan(&p->core)) >= 0)
			break;
		if (err < 0) {
			id = err;
			break;
		}
	}
	vdds__pubcore_disarm_wait(&p->core);
	p->blocked++;
	p->blocked_ns += vdds__now_ns() - start;
	return id;
}

/* No slot is free: what the overflow policy says. Returns a slot id or the
 * error loan returns. */
static __attribute__((noinline)) int loan_overflow(struct vdds_pub *p, int timeout_ms)
{
	switch (p->core.overflow) {
	case VDDS_OVERFLOW_DROP_OLDEST: {
		int err = vdds__pubcore_steal(&p->core);

		return err < 0 ? err : vdds__pubcore_loan(&p->core);
	}
	case VDDS_OVERFLOW_FAIL: return -EAGAIN;
	default: return timeout_ms != 0 ? loan_wait(p, timeout_ms) : -EAGAIN;
	}
}

int vdds_pub_loan(vdds_pub *p, void **buf, int timeout_ms)
{
	if (!p || !buf)
		return null_arg(p, "pub", "buf");
	if (vdds__pub_apply_control(p) < 0)
		return -ECHILD;
	int id = vdds__pubcore_loan(&p->core);

	if (id < 0)
		id = loan_overflow(p, timeout_ms);
	vdds__pub_cut_off_broken(p);
	vdds__pub_snapshot(p);
	if (id < 0)
		return id; /* -EAGAIN, -ETIMEDOUT, -ENOBUFS */
	*buf = vdds__pubcore_slot_data(&p->core, (uint32_t)id);
	return 0;
}

int vdds_pub_publish(vdds_pub *p, void *buf, size_t len)
{
	if (!p || !buf)
		return null_arg(p, "pub", "buf");
	int id = vdds__pubcore_loaned_id(&p->core, buf);

	if (id < 0)
		return not_loaned();
	if (len > p->core.slot_size)
		return -EMSGSIZE;
	if (vdds__pub_apply_control(p) < 0)
		return -ECHILD;
	vdds__pubcore_publish(&p->core, (uint32_t)id, len, vdds__now_ns());
	/* full fence: the ring pushes (release stores) before the wake_gen
	 * loads; pairs with the subscriber's arm, fence, re-check */
	vdds__fence();
	for (uint32_t i = 0; i < p->core.n_lanes; i++) {
		struct vdds__lane_pub *lp = p->core.lanes[i];

		if (vdds__lane_pub_wants_wake(lp)) {
			vdds__kick(vdds__pub_lane_of(lp)->data_efd);
			p->wakeups++;
		}
	}
	vdds__pub_cut_off_broken(p);
	vdds__pub_snapshot(p);
	return 0;
}

int vdds_pub_discard(vdds_pub *p, void *buf)
{
	if (!p || !buf)
		return null_arg(p, "pub", "buf");
	if (p->fk.forked)
		return -ECHILD;
	int id = vdds__pubcore_loaned_id(&p->core, buf);

	if (id < 0)
		return not_loaned();
	vdds__pubcore_discard(&p->core, (uint32_t)id);
	vdds__pub_snapshot(p);
	return 0;
}

int vdds_pub_write(vdds_pub *p, const void *data, size_t len, int timeout_ms)
{
	void *buf;

	if (!p || (!data && len))
		return p ? vdds__detail_setf(-EINVAL, "data: NULL with len %zu", len)
			 : null_arg(p, "pub", "");
	if (len > p->core.slot_size)
		return -EMSGSIZE;
	int err = vdds_pub_loan(p, &buf, timeout_ms);

	if (err < 0)
		return err;
	if (len)
		memcpy(buf, data, len);
	return vdds_pub_publish(p, buf, len);
}

int vdds_pub_fd(vdds_pub *p)
{
	if (p && p->fk.forked)
		return -ECHILD;
	if (!p)
		return null_arg(p, "pub", "");
	/* the service thread's publishers have no control fd of their own */
	return !p->threaded ? p->ctl_epfd : served_by_thread();
}

int vdds_pub_dispatch(vdds_pub *p)
{
	if (!p || p->threaded)
		return p ? served_by_thread() : null_arg(p, "pub", "");
	if (p->fk.forked)
		return -ECHILD;
	vdds__pub_control(p);
	vdds__pub_apply_control(p);
	vdds__pubcore_reclaim(&p->core);
	vdds__pub_cut_off_broken(p);
	vdds__pub_snapshot(p);
	return 0;
}

int vdds_pub_stats(vdds_pub *p, struct vdds_pub_stats *st)
{
	if (!p || !st)
		return null_arg(p, "pub", "stats");
	if (p->fk.forked)
		return -ECHILD;
	vdds__pub_apply_control(p);
	vdds__pubcore_reclaim(&p->core);
	vdds__pub_cut_off_broken(p);
	vdds__pub_snapshot(p);
	memset(st, 0, sizeof(*st));
	vdds__pub_made_stats(p, st);
	st->slot_count = p->core.slot_count;
	st->free_slots = p->core.n_free;
	st->loaned_slots = p->core.n_loaned;
	st->subscribers = p->core.n_lanes;
	st->published = p->core.seq;
	st->wakeups = p->wakeups;
	st->delivered = p->core.delivered;
	st->dropped = p->core.dropped;
	st->blocked = p->blocked;
	st->blocked_ns = p->blocked_ns;
	for (uint32_t i = 0; i < p->core.n_lanes; i++) {
		if (p->core.lanes[i]->held > st->largest_held) {
			st->largest_held = p->core.lanes[i]->held;
			st->largest_lane = p->core.lanes[i]->id;
		}
	}
	pthread_mutex_lock(&p->mu);
	st->disconnects = p->disconnects;
	st->kicked = p->kicked;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int vdds_pub_set_note(vdds_pub *p, const char *note)
{
	if (!p)
		return null_arg(p, "pub", "");
	if (p->fk.forked)
		return -ECHILD;
	pthread_mutex_lock(&p->mu);
	snprintf(p->note, sizeof(p->note), "%s", note ? note : "");
	for (char *c = p->note; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int vdds__pub_is_self_served(const vdds_pub *p)
{
	return !p->threaded;
}
