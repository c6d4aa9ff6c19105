/* pub_lane.c — a subscriber lane's lifetime on the publisher side, and its
 * hand-over between the control side (which makes lanes and learns of
 * hang-ups) and the data path (which attaches, detaches and frees them). */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kick.h"
#include "pub_internal.h"
#include "segment.h"

void vdds__pub_lane_free(struct vdds_pub *p, struct vdds__pub_lane *pl)
{
	pthread_mutex_lock(&p->mu);
	if (pl->all_prev)
		pl->all_prev->all_next = pl->all_next;
	else
		p->all = pl->all_next;
	if (pl->all_next)
		pl->all_next->all_prev = pl->all_prev;
	p->ids_in_use[pl->core.id / 64] &= ~(1ull << (pl->core.id % 64));
	pthread_mutex_unlock(&p->mu);
	vdds__lane_pub_fini(&pl->core);
	munmap(pl->core.shm, pl->core.shm_size);
	if (pl->lane_fd >= 0)
		close(pl->lane_fd);
	close(pl->data_efd);
	free(pl);
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
	*err = vdds__segment_seal(fd, VDDS_SEALS_LANE);
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

void vdds__pub_hand_over(struct vdds_pub *p, struct vdds__pub_lane *pl, int join)
{
	pthread_mutex_lock(&p->mu);
	if (join) {
		pl->join_next = p->joins;
		p->joins = pl;
	} else {
		pl->leave_next = p->leaves;
		p->leaves = pl;
		p->disconnects++;
	}
	/* release: the lists are complete before the data path sees the flag */
	vdds__store_release(&p->pending, 1);
	pthread_mutex_unlock(&p->mu);
	if (!join)
		vdds__pub_wake_loan(p); /* a loan waiting for slots may now get one */
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

	/* joins first: a lane's leave may come in the same batch as its join */
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
	while (leaves) {
		struct vdds__pub_lane *pl = leaves;

		leaves = pl->leave_next;
		vdds__pubcore_detach(&p->core, &pl->core);
		vdds__pub_lane_free(p, pl);
	}
}
