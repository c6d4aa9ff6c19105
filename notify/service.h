/* service.h — the one background thread per process that does the control
 * work of every publisher not opened with no_service_thread: accepting,
 * handshakes, hang-ups, WAKEs, timeouts. It is the only global mutable state
 * in vdds: started with the first publisher that joins, stopped and joined
 * with the last.
 *
 * It owns one epoll set and one eventfd for the whole process, so a
 * publisher costs no fd of its own for being served (issue #14): each
 * publisher registers its listening socket and every subscriber socket as a
 * *watch* (an fd, a callback, and optionally a deadline), and pokes its
 * watch from the data path instead of writing an eventfd of its own. The
 * thread turns the nearest deadline into its epoll_wait timeout.
 *
 * Lock order: svc_mu (here) before any publisher's p->mu. Callbacks run with
 * svc_mu held and may call the *_locked functions below; nothing holding a
 * publisher's p->mu may call into this file. */
#ifndef VDDS_SERVICE_H
#define VDDS_SERVICE_H

#include <stdint.h>

/* A watch, by index and generation: an id whose watch was removed finds
 * nothing (events fetched before a removal are dropped). 0 is no watch. */
typedef uint64_t vdds__svc_id;

/* Bits given to a callback besides epoll's: its deadline passed; it was
 * poked. (epoll uses neither.) */
#define VDDS__SVC_DEADLINE (1u << 26)
#define VDDS__SVC_POKED (1u << 27)

/* Control work for one watch: must not block. */
typedef void vdds__service_fn(void *arg, uint32_t events);

/* A poke from the data path, without locks the control side holds: one per
 * publisher, naming the watch to call with VDDS__SVC_POKED. */
struct vdds__svc_poke {
	vdds__svc_id id;
	int queued; /* under the poke lock */
	struct vdds__svc_poke *next;
};

/* A publisher joins (the thread starts with the first) or leaves (the last
 * stops and joins it). join returns 0 or -errno. */
int vdds__service_join(void);
void vdds__service_leave(void);

/* Hold svc_mu around *_locked calls made outside a callback; while it is
 * held the thread is in no callback. */
void vdds__service_lock(void);
void vdds__service_unlock(void);

/* Watch fd for events (level-triggered) and call fn(arg, events) when it is
 * ready. Returns 0 and *id, or -errno. */
int vdds__service_add_locked(int fd, uint32_t events, vdds__service_fn *fn, void *arg,
			     vdds__svc_id *id);
/* Change what a watch waits for (0: nothing, for now). */
void vdds__service_modify_locked(vdds__svc_id id, uint32_t events);
/* Stop watching; the fd is the caller's to close. Its callback is not
 * called again, for events already fetched either. */
void vdds__service_remove_locked(vdds__svc_id id);
/* Call the watch's fn with VDDS__SVC_DEADLINE at CLOCK_MONOTONIC
 * deadline_ns, once (0: none). */
void vdds__service_set_deadline_locked(vdds__svc_id id, uint64_t deadline_ns);

/* From the data path (any thread holding no vdds lock): have the thread
 * call pk->id's fn with VDDS__SVC_POKED soon. Cheap when already queued. */
void vdds__service_poke(struct vdds__svc_poke *pk);
/* Forget a queued poke: before the poke's owner is freed. svc_mu held. */
void vdds__service_unpoke_locked(struct vdds__svc_poke *pk);

/* fork.c's pthread_atfork handlers: hold the service's locks across fork();
 * release them in the parent; in the child, where the thread does not
 * exist, start with no service. */
void vdds__service_atfork_prepare(void);
void vdds__service_atfork_parent(void);
void vdds__service_atfork_child(void);

#endif
