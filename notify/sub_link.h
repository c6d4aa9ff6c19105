/* sub_link.h — one subscriber's connection to one publisher incarnation: the
 * socket and the mapped topic and lane. The data eventfd the WELCOME hands
 * over is held only until the subscriber's epoll set watches it (sub_fd.c):
 * a link keeps one fd, its socket. A subscriber with the
 * reconnect option goes through several; a link whose samples are still held
 * when its publisher died is kept ("retired") until they are released. */
#ifndef VDDS_SUB_LINK_H
#define VDDS_SUB_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "subcore.h"
#include "vdds.h"

struct vdds__sub_link {
	struct vdds__subcore core;
	void *topic_map, *lane_map;
	size_t topic_size, lane_size;
	int sock;
	int data_efd;                /* until vdds__sub_watch_link: then -1 */
	uint32_t epoch;              /* which incarnation: samples carry it */
	struct vdds__sub_link *next; /* in the retired list */
};

/* What a link is opened with. */
struct vdds__sub_target {
	char topic[VDDS_TOPIC_MAX + 1];
	char type_name[VDDS_TYPE_NAME_MAX + 1];
	uint32_t type_size;
	uint32_t publisher_uid;
	uint32_t hello_flags; /* VDDS_HELLO_* */
};

/* Connect, say HELLO, check and map what WELCOME hands over.
 * Returns 0 or -ENOENT (no publisher), -EACCES, -EPROTO, -ENOSPC, -EBADMSG,
 * -ETIMEDOUT, -errno. On failure l holds nothing. */
int vdds__sub_link_open(struct vdds__sub_link *l, const struct vdds__sub_target *t);

/* Unmap and close everything the link holds. */
void vdds__sub_link_close(struct vdds__sub_link *l);

/* The runtime directory the target's publisher lives in. */
int vdds__sub_target_dir(const struct vdds__sub_target *t, char *dir, size_t cap);

#endif
