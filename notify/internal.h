/* internal.h — what the waitset (and vdds_sub_wait) needs from subscribers
 * and publishers, beyond the public API. */
#ifndef VDDS_INTERNAL_H
#define VDDS_INTERNAL_H

#include "vdds.h"

/* Before sleeping on a subscriber's fds: nonzero if take() has an answer now
 * (1: a sample waits, or its publisher is gone; -EBADMSG: it broke the
 * protocol), 0 if armed (a sample's arrival will write the data eventfd,
 * which wakes the subscriber's epoll set). */
int vdds__sub_prepare(vdds_sub *sub);
/* The fds to watch instead of vdds_sub_fd()'s contract: the subscriber's
 * epoll set (the fd vdds_sub_fd() returns; it holds the data eventfd, which
 * the subscriber no longer keeps open itself, and while reconnecting the
 * directory watch instead), and the connection socket (readable on hang-up;
 * -1 while reconnecting). Returns a number that changes whenever they do
 * (fd numbers alone may be reused). */
uint32_t vdds__sub_fds(const vdds_sub *sub, int *main_fd, int *sock);
/* A waitset starts (+1) or stops (-1) watching the subscriber; while any
 * does, take() leaves arming to it and skips the fd contract's syscall. */
void vdds__sub_watched(vdds_sub *sub, int delta);
/* The subscriber's key in a waitset: the number vdds_sub_fd() returns (its
 * epoll set), got without asking for the fd contract. */
int vdds__sub_key(const vdds_sub *sub);
/* Adaptive wait: spin on the ring for the subscriber's spin_ns; 1 if
 * something can be taken (or must be reported) now. */
int vdds__sub_spin(vdds_sub *sub);
uint32_t vdds__sub_spin_ns(const vdds_sub *sub);
/* The socket was readable: learn whether the publisher is gone. */
void vdds__sub_socket_event(vdds_sub *sub);
/* 1 if the publisher has no service thread (the application serves it). */
int vdds__pub_is_self_served(const vdds_pub *pub);

/* The waitsets a subscriber or publisher is in, as the list of its members
 * there (linked by vdds__member.handle_next): waitset.c keeps it, the handle
 * only holds its head, so that closing the handle can take it out of each. */
struct vdds__member;
struct vdds__member **vdds__sub_memberships(vdds_sub *sub);
struct vdds__member **vdds__pub_memberships(vdds_pub *pub);
/* Closing a handle: remove it from every waitset it is in, as
 * vdds_waitset_remove() would (waitset.c). */
void vdds__waitset_forget(struct vdds__member **memberships);

#endif
