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

/* Connect, say HELLO, check and map what WELCOME hands over, waiting for
 * room in the publisher's backlog and up to 5 s for its answer.
 * Returns 0 or -ENOENT (no publisher), -EACCES, -EPROTO, -ENOSPC, -EBUSY
 * (too many handshakes pending: the detail says whose), -EBADMSG,
 * -ETIMEDOUT, -errno. On failure l holds nothing. */
int vdds__sub_link_open(struct vdds__sub_link *l, const struct vdds__sub_target *t);

/* The same handshake without ever blocking: a "dial". Start it; then, each
 * time its socket is ready for vdds__sub_dial_events() (POLLOUT: HELLO to
 * send; POLLIN: the answer), step it, until it ends. Whoever drives it
 * chooses how long to wait, and may abort it at any time. */
enum { VDDS__DIAL_HELLO = 1, VDDS__DIAL_WELCOME = 2 };

struct vdds__sub_dial {
	int sock; /* -1: none */
	int state;
};

/* Connect (nonblock: without waiting for room in the backlog) and clear
 * vdds_last_error_detail(). 0: under way, d->sock is open; -ENOENT (no
 * publisher), -EAGAIN (nonblock, and its backlog is full: try later), -errno. */
int vdds__sub_dial_start(struct vdds__sub_dial *d, const struct vdds__sub_target *t, int nonblock);
/* Advance: 0 when l is made (the socket is now l's); -EINPROGRESS: wait for
 * the events; else the dial is over and closed, with vdds__sub_link_open's
 * errors (but -ETIMEDOUT, which is the driver's). */
int vdds__sub_dial_step(struct vdds__sub_dial *d, struct vdds__sub_link *l,
			const struct vdds__sub_target *t);
/* POLLOUT or POLLIN: on Linux the same bits as EPOLLOUT and EPOLLIN. */
uint32_t vdds__sub_dial_events(const struct vdds__sub_dial *d);
void vdds__sub_dial_abort(struct vdds__sub_dial *d);

/* Unmap and close everything the link holds. */
void vdds__sub_link_close(struct vdds__sub_link *l);

/* The runtime directory the target's publisher lives in. */
int vdds__sub_target_dir(const struct vdds__sub_target *t, char *dir, size_t cap);

#endif
