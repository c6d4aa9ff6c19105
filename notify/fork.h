/* fork.h — what a child of fork() (without exec) keeps of vdds: nothing that
 * could keep its parent's publishers or subscriptions alive (issue #26).
 *
 * Every open handle is registered here. One pthread_atfork child handler
 * closes, in the child, every descriptor of every registered handle (lock
 * files, listening and connection sockets, memfds, eventfds, epoll sets,
 * timers) and marks the handle forked; the memory the handles map is
 * MADV_DONTFORK where it is mapped, so the child has none of it. A forked
 * handle answers every call with -ECHILD, and closing it frees only its
 * private memory: nothing is unlinked, nothing sent. So a parent that dies
 * is seen to die by its peers exactly as without the child, and a child
 * that closes an inherited handle (a destructor run at exit()) does nothing
 * to its parent's topic.
 *
 * The prepare handler takes the service thread's lock (service.c: it is in
 * no callback while forking, so every publisher's connection list is whole)
 * and then each handle's own lock if it has one (a publisher's mu, in that
 * order: svc_mu before mu), so the child never walks a list half changed.
 * A handle another thread is using at the moment of fork() (against the
 * one-thread-per-handle rule) may leave the child a descriptor made in that
 * very call. */
#ifndef VDDS_FORK_H
#define VDDS_FORK_H

#include <sys/types.h>

struct vdds__forkable;

struct vdds__fork_ops {
	void (*lock)(struct vdds__forkable *f);   /* before fork; may be NULL */
	void (*unlock)(struct vdds__forkable *f); /* after, in the parent; may be NULL */
	/* in the child, single-threaded: close every descriptor, mark the
	 * handle, and undo lock. Must only make async-signal-safe calls. */
	void (*child)(struct vdds__forkable *f);
};

struct vdds__forkable {
	const struct vdds__fork_ops *ops;
	pid_t pid;  /* the process that made the handle */
	int forked; /* set in the child by the handler */
	struct vdds__forkable *prev, *next;
};

/* Register a handle (its pid is taken now), and forget it (before it is
 * freed; not in a child, which forgot them all). */
void vdds__fork_add(struct vdds__forkable *f, const struct vdds__fork_ops *ops);
void vdds__fork_remove(struct vdds__forkable *f);

/* 1 if the handle belongs to another process: a child of fork(), marked by
 * the handler, or (a clone that ran no handler) made under another pid.
 * For slow paths: it may make a system call. */
int vdds__fork_foreign(const struct vdds__forkable *f);

/* Install the handlers (once per process): the service thread calls this
 * too, so that its state is reset in a child whoever came first. */
void vdds__fork_init(void);

#endif
