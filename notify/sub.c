/* sub.c — the subscriber: vdds_sub_* entry points and the data path (take,
 * release, wait, the adaptive spin) while samples come. Its pollable fd,
 * the fd contract's part of take and wait, and the publisher's fate are in
 * sub_fd.c, reconnecting in sub_reconnect.c, around sub_internal.h. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "fdlimit.h"
#include "internal.h"
#include "proto.h"
#include "rundir.h"
#include "sub_internal.h"

/* -------------------------------------------------------------- lifetime */

void vdds_sub_close(vdds_sub *s)
{
	if (!s)
		return;
	if (vdds__fork_foreign(&s->fk)) {
		/* the parent's: its descriptors and memory are not ours to touch */
		vdds__sub_forget_in_child(s);
		return;
	}
	/* first: a waitset still holding s would use it after the free below,
	 * and (io_uring) keep its socket open, so that the publisher would
	 * not see it leave */
	vdds__waitset_forget(&s->memberships);
	vdds__fork_remove(&s->fk);
	vdds__sub_link_close(&s->link);
	while (s->retired) {
		struct vdds__sub_link *old = s->retired;

		s->retired = old->next;
		vdds__sub_link_close(old);
		free(old);
	}
	vdds__sub_reconnect_stop(s);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}

/* -EINVAL for a NULL argument: which one. */
static __attribute__((noinline, cold)) int null_arg(const void *first, const char *first_name,
						    const char *second_name)
{
	return vdds__detail_setf(-EINVAL, "%s: NULL", first ? second_name : first_name);
}

/* -EINVAL for releasing a sample this subscriber does not hold. */
static __attribute__((noinline, cold)) int not_held(const struct vdds_sample *sample)
{
	return vdds__detail_setf(-EINVAL, "sample: slot %u of epoch %u not held (released twice?)",
				 sample->slot, sample->epoch);
}

int vdds_sub_open(vdds_sub **subp, const char *topic, const struct vdds_sub_opts *opts)
{
	static const struct vdds_sub_opts defaults;
	int err;

	vdds__detail_clear();
	if (!subp)
		return null_arg(subp, "sub", "");
	if ((err = vdds__topic_name_check(topic)) < 0)
		return err;
	*subp = NULL;
	opts = opts ? opts : &defaults;
	if ((err = vdds__reserve_check("vdds_sub_opts", opts,
				       offsetof(struct vdds_sub_opts, vdds__reserved),
				       sizeof(*opts))) < 0)
		return err;
	if (opts->type_name && strlen(opts->type_name) > VDDS_TYPE_NAME_MAX)
		return vdds__detail_setf(-EINVAL, "type_name: longer than %d bytes",
					 VDDS_TYPE_NAME_MAX);
	struct vdds_sub *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->link.sock = s->link.data_efd = -1;
	s->epfd = s->watch_fd = s->retry_fd = s->dial.sock = -1;
	/* first: a fork() from another thread while we open leaves the child
	 * nothing of what is made below */
	vdds__sub_fork_add(s);
	s->busy_poll = opts->busy_poll;
	s->reconnect = opts->reconnect;
	snprintf(s->target.topic, sizeof(s->target.topic), "%s", topic);
	if (opts->type_name)
		snprintf(s->target.type_name, sizeof(s->target.type_name), "%s", opts->type_name);
	s->target.type_size = opts->type_size;
	s->target.publisher_uid = opts->publisher_uid;
	s->target.hello_flags = opts->no_history ? VDDS__HELLO_NO_HISTORY : 0;
	s->max_held = opts->max_held;
	s->spin_ns = opts->spin_ns;
	if ((err = vdds__sub_link_open(&s->link, &s->target)) < 0)
		goto err_close;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		err = -errno;
		goto err_close;
	}
	if ((err = vdds__sub_watch_link(s)) < 0)
		goto err_close;
	*subp = s;
	return 0;

err_close:
	vdds_sub_close(s);
	return vdds__fd_limit_detail(err, "subscription", VDDS__FDS_PER_SUB);
}

struct vdds__member **vdds__sub_memberships(vdds_sub *s)
{
	return &s->memberships;
}

/* ------------------------------------------------------------- data path */

int vdds_sub_take(vdds_sub *s, struct vdds_sample *sample)
{
	if (!s || !sample)
		return null_arg(s, "sub", "sample");
	if (s->max_held && s->link.core.n_held >= s->max_held && !s->detached)
		return vdds__sub_take_refused(s);
	if (!s->detached) {
		int err = vdds__sub_take_now(s, sample);

		if (err == 0 && vdds__sub_fd_mode(s))
			vdds__sub_took_in_fd_mode(s);
		if (err != -EAGAIN)
			return err;
	}
	return vdds__sub_take_empty(s, sample);
}

/* The release met the publisher's pub_wait: tell its control side, which
 * wakes the blocked loan. Never blocks: EAGAIN means our earlier WAKE is
 * still unread, which wakes it as well; a publisher gone is learned from the
 * hang-up. */
static __attribute__((noinline)) void send_wake(struct vdds_sub *s)
{
	struct vdds__msg_wake m;

	vdds__msg_wake(&m);
	vdds__msg_send(s->link.sock, &m, sizeof(m), NULL, 0);
}

/* A sample of a publisher that has since gone: just forget it, and unmap that
 * publisher's memory with its last sample. Rare: kept out of release's
 * inline path (noinline), which stays as short as it was. */
static __attribute__((noinline)) int release_retired(struct vdds_sub *s,
						     const struct vdds_sample *sample)
{
	if (s->fk.forked)
		return -ECHILD; /* the handler left link.sock < 0 to come here */
	for (struct vdds__sub_link **pl = &s->retired; *pl; pl = &(*pl)->next) {
		struct vdds__sub_link *old = *pl;

		if (old->epoch != sample->epoch)
			continue;
		if (vdds__subcore_forget(&old->core, sample->slot) < 0)
			return not_held(sample);
		if (old->core.n_held == 0) {
			*pl = old->next;
			vdds__sub_link_close(old);
			free(old);
		}
		return 0;
	}
	return not_held(sample);
}

int vdds_sub_release(vdds_sub *s, const struct vdds_sample *sample)
{
	if (!s || !sample)
		return null_arg(s, "sub", "sample");
	if (sample->epoch != s->link.epoch || s->link.sock < 0)
		return release_retired(s, sample);
	int wake = vdds__subcore_release(&s->link.core, sample->slot, sample->seq);

	if (wake > 0)
		send_wake(s);
	if (s->starved && wake >= 0) {
		/* room to take again: the fd is readable if something waits */
		s->starved = 0;
		if (vdds__sub_fd_mode(s))
			vdds__sub_fd_sync(s);
	}
	return wake < 0 ? not_held(sample) : 0;
}

int vdds_sub_stats(vdds_sub *s, struct vdds_sub_stats *st)
{
	if (!s || !st)
		return null_arg(s, "sub", "stats");
	if (s->fk.forked)
		return -ECHILD;
	memset(st, 0, sizeof(*st));
	st->taken = s->taken_before;
	st->lost = s->lost_before;
	if (!s->detached) {
		st->taken += s->link.core.taken;
		st->lost += s->link.core.lost;
		st->held = s->link.core.n_held;
		st->queued = vdds__subcore_queued(&s->link.core);
	}
	for (const struct vdds__sub_link *old = s->retired; old; old = old->next)
		st->held += old->core.n_held;
	return 0;
}

static __attribute__((noinline)) int wait_slow(struct vdds_sub *s, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;

	for (;;) {
		int r = vdds__sub_prepare(s);

		if (r < 0)
			return r;
		if (r > 0) {
			/* ready: a sample, or the publisher gone with nothing left */
			if (s->gone && (s->detached || vdds__subcore_pending(&s->link.core) == 0))
				return s->gone;
			return 0;
		}
		int ms = timeout_ms;

		if (timeout_ms > 0)
			ms = vdds__ms_left(deadline);
		int timed_out;

		if (vdds__sub_fd_mode(s))
			vdds__sub_block_on_fd(s, ms, &timed_out);
		else
			vdds__sub_drain_fd(s, ms, &timed_out);
		if (!s->detached && vdds__subcore_pending(&s->link.core) > 0)
			return 0; /* the usual wakeup: straight back to take() */
		if (timed_out && timeout_ms >= 0)
			return -ETIMEDOUT;
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Adaptive wait: look at the ring for up to spin_ns; 1 if a sample came. The
 * clock is read once per 64 looks. */
static __attribute__((noinline)) int spin_for_sample(struct vdds_sub *s)
{
	uint64_t until = vdds__now_ns() + s->spin_ns;

	do {
		for (int i = 0; i < 64; i++) {
			if (vdds__subcore_pending(&s->link.core) != 0)
				return 1; /* a sample, or a broken lane: take says which */
			cpu_relax();
		}
	} while (vdds__now_ns() < until);
	return 0;
}

int vdds__sub_spin(vdds_sub *s)
{
	return s->spin_ns && !s->detached && !s->gone && spin_for_sample(s);
}

uint32_t vdds__sub_spin_ns(const vdds_sub *s)
{
	return s->spin_ns;
}

int vdds_sub_wait(vdds_sub *s, int timeout_ms)
{
	if (!s)
		return null_arg(s, "sub", "");
	if (s->max_held && s->link.core.n_held >= s->max_held && !s->detached)
		return -ENOBUFS;
	/* a sample is already waiting: no arming, no syscall */
	if (!s->detached && vdds__subcore_pending(&s->link.core) > 0)
		return 0;
	if (timeout_ms != 0 && vdds__sub_spin(s) && vdds__subcore_pending(&s->link.core) > 0)
		return 0;
	return wait_slow(s, timeout_ms);
}
