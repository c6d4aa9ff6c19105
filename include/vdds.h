/* vdds.h — the whole public API of vdds: zero-copy publish/subscribe between
 * processes on one Linux host, over a shared-memory ring with eventfd wakeups.
 *
 * Conventions that hold for every function below:
 *  - Every int-returning call returns 0 (or a non-negative value where stated)
 *    on success and a negative errno on failure; vdds_strerror() names it.
 *  - Handles are opaque. A handle is used by one thread at a time; different
 *    handles may be used from different threads freely.
 *  - A child created by fork() must not use its parent's handles; it opens its
 *    own. Every file descriptor vdds creates is O_CLOEXEC.
 *  - The library never prints, never aborts on peer data, and keeps no global
 *    mutable state except the publisher service thread (see vdds_pub_open).
 */
#ifndef VDDS_H
#define VDDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VDDS_API __attribute__((visibility("default")))
#else
#define VDDS_API
#endif

#define VDDS_VERSION_MAJOR 0
#define VDDS_VERSION_MINOR 1
#define VDDS_VERSION_PATCH 0

/* Longest topic name, in bytes, without the terminating NUL. A topic name is
 * made of [A-Za-z0-9_.-], does not start with '.', and is not empty. */
#define VDDS_TOPIC_MAX 64
/* Longest type name a publisher may declare, without the terminating NUL. */
#define VDDS_TYPE_NAME_MAX 63
/* Most subscribers one publisher can serve at once. */
#define VDDS_MAX_SUBSCRIBERS 64

typedef struct vdds_pub vdds_pub;
typedef struct vdds_sub vdds_sub;

/* ---------------------------------------------------------------- publisher */

/* Publisher options. Zero-initialise, then set what you need: every zero
 * field takes the default named beside it. */
struct vdds_pub_opts {
	size_t slot_size;         /* payload bytes per slot; default 4096 */
	uint32_t slot_count;      /* slots in the topic (>= 2); default 64 */
	uint32_t max_subscribers; /* 1..VDDS_MAX_SUBSCRIBERS; default 32 */
	const char *type_name;    /* optional; subscribers naming a type must match */
	uint32_t type_size;       /* optional; subscribers naming a size must match */
	bool no_service_thread;   /* true: the application serves vdds_pub_fd()
				 * itself and calls vdds_pub_dispatch() */
	bool group_access;        /* also accept subscribers of another uid whose
			       * primary or supplementary groups include `group`;
			       * the socket is then made 0660 and given to that
			       * group. Default: the same uid (and root) only. */
	uint32_t group;           /* the gid for group_access */
};

/* Counters a publisher keeps about itself; see vdds_pub_stats(). */
struct vdds_pub_stats {
	uint32_t slot_count;   /* slots in the topic */
	uint32_t free_slots;   /* slots neither loaned nor held by a subscriber */
	uint32_t loaned_slots; /* slots loaned to the application */
	uint32_t subscribers;  /* subscribers currently connected */
	uint64_t published;    /* samples published since open */
	uint64_t wakeups;      /* eventfd writes made to wake sleeping subscribers */
	uint64_t disconnects;  /* subscribers gone: hung up or cut off */
	uint64_t kicked;       /* of which cut off for breaking the protocol */
};

/* Open topic `topic` for publishing. Creates the topic's shared memory, and
 * listens on <dir>/<topic>.sock, where <dir> is $VDDS_DIR, else
 * $XDG_RUNTIME_DIR/vdds, else /tmp/vdds-<uid>; the directory is created 0700
 * and refused (-EACCES) if another user owns it or group or others may write
 * to it (whoever can write it could impersonate a publisher).
 *
 * Unless opts->no_service_thread is set, one background thread per process
 * (started with the first such publisher, stopped with the last) accepts
 * subscribers and notices when they go away. With no_service_thread, nothing
 * happens until the application calls vdds_pub_dispatch() when vdds_pub_fd()
 * is readable (or the publisher blocks in vdds_pub_loan(), which serves it too).
 *
 * opts may be NULL for defaults. On success *pub is set.
 * Errors: -EINVAL (NULL pointer, bad topic name, bad option), -EEXIST (the
 * topic already has a live publisher), -EACCES (runtime directory refused),
 * -ENAMETOOLONG (socket path too long), -ENOMEM, or a system errno. */
VDDS_API int vdds_pub_open(vdds_pub **pub, const char *topic, const struct vdds_pub_opts *opts);

/* Loan a free slot to write a sample into; *buf points to opts.slot_size
 * writable bytes in shared memory. The slot stays the caller's until it is
 * passed to vdds_pub_publish() or vdds_pub_discard().
 * When no slot is free, waits until a subscriber releases one: timeout_ms < 0
 * waits forever, 0 does not wait, > 0 waits at most that long. The wait sleeps
 * on an eventfd; it never spins.
 * Errors: -EINVAL, -EAGAIN (timeout_ms == 0 and no free slot), -ETIMEDOUT. */
VDDS_API int vdds_pub_loan(vdds_pub *pub, void **buf, int timeout_ms);

/* Publish the first len bytes of a loaned slot to every connected subscriber.
 * On success the slot is no longer the caller's. On failure the caller still
 * holds the loan.
 * Errors: -EINVAL (buf is not a slot loaned from this publisher),
 * -EMSGSIZE (len > slot size). */
VDDS_API int vdds_pub_publish(vdds_pub *pub, void *buf, size_t len);

/* Give a loaned slot back unpublished. Errors: -EINVAL. */
VDDS_API int vdds_pub_discard(vdds_pub *pub, void *buf);

/* Copy convenience: loan (with timeout_ms as in vdds_pub_loan), copy len
 * bytes of data, publish. Errors: those of loan and publish. */
VDDS_API int vdds_pub_write(vdds_pub *pub, const void *data, size_t len, int timeout_ms);

/* A file descriptor that becomes readable when the publisher has control work:
 * a subscriber connecting or going away. For applications that use
 * no_service_thread: watch it in any event loop and call vdds_pub_dispatch().
 * Returns the fd (owned by the publisher) or -EINVAL. */
VDDS_API int vdds_pub_fd(vdds_pub *pub);

/* Do the publisher's pending control work without blocking: accept and
 * handshake new subscribers, reclaim the slots of those that went away.
 * Returns 0 or a negative errno (-EINVAL). Must not be called for a publisher
 * that has the service thread. */
VDDS_API int vdds_pub_dispatch(vdds_pub *pub);

/* Fill *stats. Also reclaims slots returned since the last call. */
VDDS_API int vdds_pub_stats(vdds_pub *pub, struct vdds_pub_stats *stats);

/* Stop publishing: subscribers see -EPIPE once they have taken what was
 * delivered; their shared memory stays mapped until they close. Frees
 * everything; pub must not be used again. NULL is a no-op. */
VDDS_API void vdds_pub_close(vdds_pub *pub);

/* --------------------------------------------------------------- subscriber */

struct vdds_sub_opts {
	const char *type_name;  /* optional: must equal the publisher's */
	uint32_t type_size;     /* optional (0 = any): must equal the publisher's */
	bool busy_poll;         /* true: for spin loops. vdds_sub_take() enters
				* the kernel only once per 4096 empty takes, to
				* look for the publisher's death. The fd contract
				* below then does not hold; vdds_sub_wait() and
				* waitsets still work. */
	bool reconnect;         /* when the publisher goes away (not when it cuts
				* us off), wait for the next publisher of the
				* topic instead of reporting -EPIPE: take()
				* returns -EAGAIN meanwhile and the fd becomes
				* readable when one appears (inotify on the
				* runtime directory; no polling). Samples then
				* carry the next epoch and seq starts anew. */
	uint32_t publisher_uid; /* also trust a runtime directory owned by this
				 * uid (a publisher's, with group_access); by
				 * default only one owned by you or by root */
};

/* One received sample: a read-only view into shared memory, valid until it is
 * passed to vdds_sub_release(). Writing through data faults (SIGSEGV). */
struct vdds_sample {
	const void *data;
	size_t len;
	uint64_t seq;          /* the publisher's count: 1, 2, ...; from its
				* join on a subscriber sees every one */
	uint64_t timestamp_ns; /* CLOCK_MONOTONIC at publish */
	uint32_t epoch;        /* which publisher: 0, then +1 per reconnect */
	uint32_t slot;         /* internal: which slot; do not change */
};

/* Subscribe to topic `topic` (see vdds_pub_open for the directory).
 * opts may be NULL. The subscriber receives what is published after it joins.
 * Errors: -EINVAL, -ENOENT (no publisher), -EACCES (publisher refuses this
 * user), -EPROTO (version, type name or type size mismatch), -ENOSPC (the
 * publisher has its maximum number of subscribers), -EBADMSG (the publisher
 * answered something malformed), or a system errno. */
VDDS_API int vdds_sub_open(vdds_sub **sub, const char *topic, const struct vdds_sub_opts *opts);

/* Take the next sample, if any, without blocking.
 * Returns 0 and fills *sample; -EAGAIN when nothing is waiting; -EPIPE when
 * the publisher is gone and everything it delivered has been taken (when its
 * death is first learned here, -EAGAIN may come once more before -EPIPE);
 * -EBADMSG when the publisher cut this subscriber off or broke the protocol;
 * -EINVAL for NULL arguments.
 *
 * The fd contract: once vdds_sub_take() has returned -EAGAIN, vdds_sub_fd()
 * becomes readable when a sample arrives or the publisher goes away, and not
 * before (unless opts.busy_poll). While the subscriber is in a waitset, the
 * waitset reports it instead and take() skips the system call the contract
 * costs. */
VDDS_API int vdds_sub_take(vdds_sub *sub, struct vdds_sample *sample);

/* Return a taken sample's slot to the publisher. After this, sample->data must
 * not be read. Errors: -EINVAL (NULL, or a sample not held: double release). */
VDDS_API int vdds_sub_release(vdds_sub *sub, const struct vdds_sample *sample);

/* Block until a sample can be taken or the publisher is gone.
 * timeout_ms < 0 waits forever, 0 only checks. Signals do not cut it short.
 * Returns 0 (take now), -ETIMEDOUT, -EPIPE (publisher gone, nothing left),
 * -EBADMSG (cut off), -EINVAL. */
VDDS_API int vdds_sub_wait(vdds_sub *sub, int timeout_ms);

/* The subscriber's pollable file descriptor (owned by the subscriber), for
 * epoll, poll, io_uring or any event loop: see the fd contract at
 * vdds_sub_take(). Returns the fd or -EINVAL. */
VDDS_API int vdds_sub_fd(vdds_sub *sub);

/* The type name the topic's publisher declared (vdds_pub_opts.type_name), ""
 * if none, or while a reconnecting subscriber has no publisher. The string is
 * the subscriber's and stays valid until the next call on it. NULL for NULL. */
VDDS_API const char *vdds_sub_type_name(vdds_sub *sub);

/* Disconnect; every sample still held is released. NULL is a no-op. */
VDDS_API void vdds_sub_close(vdds_sub *sub);

/* ------------------------------------------------------------------ waitset */

/* A waitset waits on many subscribers, publishers and other file descriptors
 * in one call. It uses io_uring (multishot poll; SINGLE_ISSUER and
 * DEFER_TASKRUN where the kernel has them) and falls back to epoll where
 * io_uring cannot be used (ENOSYS, EPERM from seccomp, kernel.io_uring_disabled).
 * VDDS_BACKEND=epoll or VDDS_BACKEND=io_uring in the environment forces one.
 * A waitset is used by one thread: the one that first waits on it (io_uring
 * binds the ring to it). Members must be removed before they are closed. A
 * subscriber in a waitset is reported by it; its own vdds_sub_fd() is then
 * not kept readable-exactly-when (see vdds_sub_take). */
typedef struct vdds_waitset vdds_waitset;

enum vdds_event_kind {
	VDDS_EVENT_SUB = 1, /* take from this subscriber (until -EAGAIN / -EPIPE) */
	VDDS_EVENT_PUB = 2, /* call vdds_pub_dispatch() on this publisher */
	VDDS_EVENT_FD = 3,  /* the fd is ready: see events */
};

struct vdds_event {
	int kind;        /* enum vdds_event_kind */
	int fd;          /* the key the member was added under (see remove) */
	uint32_t events; /* poll(2) bits: POLLIN for subscribers and publishers */
	void *user;      /* the pointer given when the member was added */
};

/* Create a waitset. Errors: -EINVAL, -ENOMEM, or the errno of both backends
 * failing (-EPERM, -ENOSYS...). */
VDDS_API int vdds_waitset_new(vdds_waitset **ws);

/* Add a subscriber: reported while a sample can be taken or its publisher is
 * gone. Errors: -EINVAL, -EEXIST (already in this waitset), -ENOMEM. */
VDDS_API int vdds_waitset_add_sub(vdds_waitset *ws, vdds_sub *sub, void *user);

/* Add a publisher opened with no_service_thread: reported when it has
 * control work for vdds_pub_dispatch(). -EINVAL for a publisher that has the
 * service thread; -EEXIST, -ENOMEM. */
VDDS_API int vdds_waitset_add_pub(vdds_waitset *ws, vdds_pub *pub, void *user);

/* Add any file descriptor, watched for `events` (POLLIN, POLLOUT...), level
 * triggered. The fd stays the caller's. -EINVAL, -EEXIST, -ENOMEM. */
VDDS_API int vdds_waitset_add_fd(vdds_waitset *ws, int fd, uint32_t events, void *user);

/* Remove a member by its key: vdds_sub_fd(sub), vdds_pub_fd(pub), or the fd
 * given to vdds_waitset_add_fd(). -EINVAL, -ENOENT (not a member). */
VDDS_API int vdds_waitset_remove(vdds_waitset *ws, int fd);

/* Wait until at least one member is ready, then fill up to max events.
 * timeout_ms < 0 waits forever, 0 only checks. Returns the number of events
 * (>= 1), -ETIMEDOUT, or -EINVAL. Signals do not cut it short. */
VDDS_API int vdds_waitset_wait(vdds_waitset *ws, struct vdds_event *events, int max,
			       int timeout_ms);

/* "io_uring" or "epoll"; NULL for a NULL waitset. */
VDDS_API const char *vdds_waitset_backend(const vdds_waitset *ws);

/* Free the waitset (not its members). NULL is a no-op. */
VDDS_API void vdds_waitset_free(vdds_waitset *ws);

/* ------------------------------------------------------------------- common */

/* A static description of a vdds error code (negative or positive errno). */
VDDS_API const char *vdds_strerror(int err);

/* The library's version at run time, as "MAJOR.MINOR.PATCH". */
VDDS_API const char *vdds_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VDDS_H */
