/* pub_lane.c — a subscriber lane's lifetime on the publisher side, and its
 * hand-over between the control side (which makes lanes and learns of
 * hang-ups) and the data path (which attaches, detaches and frees them); and
 * the futex pair by which the control side wakes a loan blocked for a slot
 * (a WAKE came, or a lane left). */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kick.h"
#include "pub_internal.h"
#include "segment.h"

/* ------------------------------------- a blocked loan's futex (pub.c) */

int vdds__pub_loan_sleep(struct vdds_pub *p, uint32_t seen, const struct timespec *at)
{
	vdds__store_relaxed(&p->ret_sleeping, 1);
	/* full fence: ret_sleeping store before the kernel's ret_word load;
	 * pairs with vdds__pub_wake_loan's bump, fence, ret_sleeping load */
	vdds__fence();
	/* an absolute CLOCK_MONOTONIC deadline (BITSET); EAGAIN: bumped already */
	long r = syscall(SYS_futex, &p->ret_word, FUTEX_WAIT_BITSET_PRIVATE, seen, at, NULL,
			 FUTEX_BITSET_MATCH_ANY);
	int err = r < 0 ? errno : 0;

	vdds__store_relaxed(&p->ret_sleeping, 0);
	return err == ETIMEDOUT ? -ETIMEDOUT : 0;
}

void vdds__pub_wake_loan(struct vdds_pub *p)
{
	/* only the control side writes ret_word: no read-modify-write needed.
	 * release: what it learned before (a lane's leave) is visible to the
	 * loan that sees the bump */
	vdds__store_release(&p->ret_word, vdds__load_relaxed(&p->ret_word) + 1);
	/* full fence: the bump before the ret_sleeping load; pairs with
	 * vdds__pub_loan_sleep */
	vdds__fence();
	if (p->threaded && vdds__load_relaxed(&p->ret_sleeping))
		syscall(SYS_futex, &p->ret_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* What a lane holds besides its place in p->all: pubcore's view, the
 * mapping, its fds. */
static void lane_release(struct vdds__pub_lane *pl)
{
	vdds__lane_pub_fini(&pl->core);
	munmap(pl->core.shm, pl->core.shm_size);
	if (pl->lane_fd >= 0)
		close(pl->lane_fd);
	close(pl->data_efd);
	free(pl);
}

/* Under mu. */
static void unlink_all(struct vdds_pub *p, struct vdds__pub_lane *pl)
{
	if (pl->all_prev)
		pl->all_prev->all_next = pl->all_next;
	else
		p->all = pl->all_next;
	if (pl->all_next)
		pl->all_next->all_prev = pl->all_prev;
}

/* The lane's id is not given back here: it went back when the subscriber
 * left (vdds__pub_hand_over), or the publisher is closing. */
void vdds__pub_lane_free(struct vdds_pub *p, struct vdds__pub_lane *pl)
{
	pthread_mutex_lock(&p->mu);
	unlink_all(p, pl);
	pthread_mutex_unlock(&p->mu);
	lane_release(pl);
}

static int take_id(struct vdds_pub *p, uint32_t *id)
{
	int err = -ENOSPC;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < p->max_subs; i++) {
		if (!(p->ids_in_use[i / 64] & (1ull << (i % 64)))) {
			p->ids_in_use[i / 64] |= 1ull << (i % 64);
			*id = i;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return err;
}

static void give_back_id(struct vdds_pub *p, uint32_t id)
{
	pthread_mutex_lock(&p->mu);
	p->ids_in_use[id / 64] &= ~(1ull << (id % 64));
	pthread_mutex_unlock(&p->mu);
}

/* Control side: a lane for a new subscriber. Returns it, or NULL with *err. */
struct vdds__pub_lane *vdds__pub_lane_new(struct vdds_pub *p, int *err)
{
	uint32_t id;

	if ((*err = take_id(p, &id)) < 0)
		return NULL;

	struct vdds__pub_lane *pl = calloc(1, sizeof(*pl));
	uint32_t ring_size = vdds__ring_size_for(p->core.slot_count);
	size_t size = vdds__lane_size(ring_size);
	void *map = NULL;
	int fd = pl ? vdds__segment_create("vdds-lane", size, &map) : -ENOMEM;

	if (fd < 0) {
		*err = fd;
		goto err_give_back_id;
	}
	*err = vdds__segment_seal(fd, VDDS__SEALS_LANE);
	int efd = *err ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0) {
		*err = *err ? *err : -errno;
		munmap(map, size);
		close(fd);
		goto err_give_back_id;
	}
	if ((*err = vdds__lane_pub_init(&pl->core, map, size, id, p->core.slot_count)) < 0) {
		munmap(map, size);
		close(fd);
		close(efd);
		goto err_give_back_id;
	}
	pl->lane_fd = fd;
	pl->data_efd = efd;
	pthread_mutex_lock(&p->mu);
	pl->all_next = p->all;
	if (p->all)
		p->all->all_prev = pl;
	p->all = pl;
	pthread_mutex_unlock(&p->mu);
	return pl;

err_give_back_id:
	free(pl);
	give_back_id(p, id);
	return NULL;
}

/* Under mu: take pl off the joins not yet adopted; 1 if it was there. */
static int unjoin(struct vdds_pub *p, struct vdds__pub_lane *pl)
{
	for (struct vdds__pub_lane **j = &p->joins; *j; j = &(*j)->join_next) {
		if (*j == pl) {
			*j = pl->join_next;
			return 1;
		}
	}
	return 0;
}

/* A subscriber leaving frees its place here, at once, on the control side
 * (the service thread, or vdds_pub_dispatch / a blocked loan serving
 * itself): its id goes back to ids_in_use, which is the subscriber limit,
 * and its conn, which introspection lists and counts, is dropped by the
 * caller. Only the slots it held wait for the data path, which owns the
 * free list and the reference counts: it detaches the lane and frees it at
 * its next call (vdds__pub_apply_control_slow), as before.
 *
 * Why the id may be reused before that: nothing on the data path is indexed
 * by it. pubcore's lanes[] is packed and holds pointers; each lane has its
 * own memory, fds and hold bitmap; the id is only a name, shown by
 * introspection (from the control side's conns, where the departed lane
 * is gone already) and by vdds_pub_stats' largest_lane (after it applies
 * the hand-overs). A newcomer that gets the id joins in the same hand-over
 * batch as the departure or a later one, and the data path applies a
 * batch's leaves before its joins, so no two attached lanes ever share an id
 * and no more than max_subs are ever attached (lanes[] has room for
 * VDDS__MAX_LANES).
 *
 * A lane the data path has not adopted yet (its join still in p->joins: a
 * publisher that makes no call adopts nothing) is unknown to the data path
 * and is freed here whole, mapping and eventfd included, so a quiet
 * publisher's resources do not grow with subscribers coming and going: what
 * waits for the data path is at most the lanes it had adopted. */
static void leave(struct vdds_pub *p, struct vdds__pub_lane *pl)
{
	int unadopted;

	pthread_mutex_lock(&p->mu);
	p->ids_in_use[pl->core.id / 64] &= ~(1ull << (pl->core.id % 64));
	p->disconnects++;
	unadopted = unjoin(p, pl);
	if (unadopted) {
		unlink_all(p, pl);
	} else {
		pl->leave_next = p->leaves;
		p->leaves = pl;
		/* release: the list is complete before the data path sees the flag */
		vdds__store_release(&p->pending, 1);
	}
	pthread_mutex_unlock(&p->mu);
	if (unadopted)
		lane_release(pl);
	vdds__pub_wake_loan(p); /* a loan waiting for slots may now get one */
}

void vdds__pub_hand_over(struct vdds_pub *p, struct vdds__pub_lane *pl, int join)
{
	if (!join) {
		leave(p, pl);
		return;
	}
	pthread_mutex_lock(&p->mu);
	pl->join_next = p->joins;
	p->joins = pl;
	/* release: the list is complete before the data path sees the flag */
	vdds__store_release(&p->pending, 1);
	pthread_mutex_unlock(&p->mu);
}

void vdds__pub_cut_off_broken_slow(struct vdds_pub *p)
{
	while (p->core.broken) {
		struct vdds__pub_lane *pl = vdds__pub_lane_of(p->core.broken);

		p->core.broken = pl->core.next;
		/* release: pairs with the acquire in the control side's sweep. The
		 * flag is all that crosses: the lane stays the data path's to free
		 * once the control side hands it back as a leave. */
		vdds__store_release(&pl->cut_off, 1);
	}
	vdds__pub_ask_control(p);
}

void vdds__pub_apply_control_slow(struct vdds_pub *p)
{
	/* a lane on core.broken may be among the leaves: hand it to the control
	 * side now, before it can be freed below */
	vdds__pub_cut_off_broken(p);
	pthread_mutex_lock(&p->mu);
	struct vdds__pub_lane *joins = p->joins, *leaves = p->leaves;

	p->joins = p->leaves = NULL;
	/* relaxed: under mu, and a stale 1 only costs one more look */
	vdds__store_relaxed(&p->pending, 0);
	pthread_mutex_unlock(&p->mu);

	/* leaves first: a lane that left before the data path adopted it is
	 * never among them (leave() frees it), and a newcomer reusing a
	 * departed lane's id comes in this batch or a later one: so attached
	 * lanes never outnumber max_subs nor share an id */
	while (leaves) {
		struct vdds__pub_lane *pl = leaves;

		leaves = pl->leave_next;
		vdds__pubcore_detach(&p->core, &pl->core);
		vdds__pub_lane_free(p, pl);
	}
	for (struct vdds__pub_lane *pl = joins; pl; pl = pl->join_next)
		vdds__pubcore_attach(&p->core, &pl->core);
	if (joins && p->core.hist_n) {
		/* full fence: the history's ring pushes before the wake_gen
		 * loads, as in vdds_pub_publish */
		vdds__fence();
		for (struct vdds__pub_lane *pl = joins; pl; pl = pl->join_next)
			if (pl->core.attached && pl->core.want_history &&
			    vdds__lane_pub_wants_wake(&pl->core))
				vdds__kick(pl->data_efd);
	}
}
