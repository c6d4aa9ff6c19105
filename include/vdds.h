/* vdds.h — the whole public API of vdds: zero-copy publish/subscribe between
 * processes on one Linux host, over a shared-memory ring with eventfd wakeups.
 *
 * Conventions that hold for every function below:
 *  - Every int-returning call returns 0 (or a non-negative value where stated)
 *    on success and a negative errno on failure; vdds_strerror() names it.
 *  - Handles are opaque. A handle is used by one thread at a time; different
 *    handles may be used from different threads freely.
 *  - A child created by fork() (without exec) keeps nothing of its parent's
 *    handles (publishers, subscribers and waitsets alike): a pthread_atfork
 *    handler closes every descriptor of every open handle in the child, and
 *    their shared memory (an io_uring waitset's rings too) is not inherited,
 *    so the
 *    parent's death is seen by its peers as if there were no child. In the
 *    child, every call on an inherited handle returns -ECHILD
 *    (vdds_sub_type_name() ""), and closing it frees its memory and does
 *    nothing else: no socket or lock file of the parent's is unlinked. The
 *    child opens its own. Every file descriptor vdds creates is O_CLOEXEC.
 *  - The library never prints, never aborts on peer data, and keeps no global
 *    mutable state except the publisher service thread (see vdds_pub_open)
 *    and the list of open handles that the fork handler walks.
 *  - One exception, per thread: the reason text of the last refused
 *    handshake (see vdds_last_error_detail).
 */
#ifndef VDDS_H
#define VDDS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* In C++, a function named like its struct (vdds_pub_stats) hides the
 * struct's implicit constructor, and -Wshadow says so. That is the C idiom
 * of this API, not a mistake (C++ writes `struct vdds_pub_stats st;`): keep
 * the header quiet for C++ programs built with -Wshadow. */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
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
#define VDDS_MAX_SUBSCRIBERS 256

typedef struct vdds_pub vdds_pub;
typedef struct vdds_sub vdds_sub;

/* ---------------------------------------------------------------- publisher */

/* Room to grow: each options and stats struct ends in a reserve, which a
 * later version takes new fields from (a zero there means what this version
 * does), so its size and every offset stay. Leave it zero: initialise the
 * struct with `= {0}` (C++: `{}`) or memset, as the options always asked.
 * The library refuses options with a nonzero byte in the part of the
 * reserve it knows nothing of (-EINVAL, and the detail says "vdds_pub_opts: unknown field set at offset
 * 48: a newer header?": a program built for a newer vdds fails at open, not
 * silently), and zeroes the reserve of the stats it fills. */
#define VDDS__RESERVED_WORDS 8

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
	uint32_t overflow;        /* enum vdds_overflow: what loan does when no
				 * slot is free; default VDDS_OVERFLOW_BLOCK */
	uint32_t history;         /* keep the last `history` samples and deliver
				 * them first to each subscriber that joins later
				 * (at the publisher's next vdds_pub_* call);
				 * at most slot_count / 2; default 0 */
	bool huge_pages;          /* put the topic's memory on huge pages
				   * (MFD_HUGETLB; its size rounded up to the
				   * huge page size), which spares big slots
				   * TLB misses. If they cannot be had (none
				   * reserved in vm.nr_hugepages, or this
				   * kernel cannot seal them), normal pages are
				   * used: vdds_pub_stats() says which and why. */
	uint64_t vdds__reserved[VDDS__RESERVED_WORDS]; /* zero: see above */
};

/* When loan finds no free slot:
 * BLOCK: wait for a subscriber to release one (up to loan's timeout).
 * DROP_OLDEST: never wait: take back the oldest sample still queued (delivered,
 *   not yet taken) for the subscriber holding the most slots, and reuse its
 *   slot. That subscriber's vdds_sub_stats().lost counts it, and its seq jumps
 *   by exactly as many. Samples already taken are never taken back: when every
 *   slot is held by taken samples, loan returns -ENOBUFS at once.
 * FAIL: return -EAGAIN at once, whatever the timeout. */
enum vdds_overflow {
	VDDS_OVERFLOW_BLOCK = 0,
	VDDS_OVERFLOW_DROP_OLDEST = 1,
	VDDS_OVERFLOW_FAIL = 2,
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
	uint64_t delivered;    /* samples put in subscribers' queues (history too) */
	uint64_t dropped;      /* DROP_OLDEST: queued samples taken back */
	uint64_t blocked;      /* BLOCK: loans that had to wait for a slot */
	uint64_t blocked_ns;   /* BLOCK: time loan spent waiting for a slot */
	uint32_t largest_held; /* slots held by the subscriber holding the most */
	uint32_t largest_lane; /* that subscriber's lane id (0 if none) */
	/* What came of opts.huge_pages:
	 *   asked and had:   huge_pages, huge_pages_err 0, note "2048 KiB pages";
	 *   asked, fell back to normal pages: !huge_pages, huge_pages_err the
	 *                    reason as a negative errno (-ENOMEM: not enough free
	 *                    huge pages; -EINVAL: no hugetlb memfds, or they
	 *                    cannot be sealed; -EOPNOTSUPP: write seals on them
	 *                    not enforced), note the reason in words;
	 *   not asked:       !huge_pages, huge_pages_err 0, note "not asked". */
	bool huge_pages;                               /* the topic's memory is on huge pages */
	int32_t huge_pages_err;                        /* 0, or why huge pages were not had */
	char huge_pages_note[64];                      /* NUL-terminated */
	uint64_t vdds__reserved[VDDS__RESERVED_WORDS]; /* zeroed */
};

/* Open topic `topic` for publishing. Creates the topic's shared memory, and
 * listens on <dir>/<topic>.sock, where <dir> is $VDDS_DIR, else
 * $XDG_RUNTIME_DIR/vdds, else /tmp/vdds-<uid>; the directory is created 0700
 * and refused (-EACCES) if another user owns it or group or others may write
 * to it (whoever can write it could impersonate a publisher).
 *
 * Unless opts->no_service_thread is set, one background thread per process
 * (started with the first such publisher, stopped with the last) accepts
 * subscribers and notices when they go away, from one epoll set for them all:
 * a subscriber that closes (or dies) frees its place among max_subscribers at
 * once, whether or not the publisher makes any call; the slots it held come
 * back to the publisher at its next call. A publisher the thread serves holds
 * 3 file descriptors (lock file, topic memory, listening socket; the thread 2
 * for the whole process). With no_service_thread, nothing happens until the
 * application calls vdds_pub_dispatch() when vdds_pub_fd() is readable (or
 * the publisher blocks in vdds_pub_loan(), which serves it too), which is
 * also when a departed subscriber's place is freed; it holds 5 (that epoll
 * set and a timer too). Each connected subscriber costs the process 2 more.
 *
 * opts may be NULL for defaults. On success *pub is set.
 * Errors: -EINVAL (NULL pointer, bad topic name, bad option, reserve not
 * zero: the detail says which), -EEXIST (the topic already has a live
 * publisher), -EACCES (runtime directory refused),
 * -ENAMETOOLONG (socket path too long), -ENOMEM, -EMFILE (out of file
 * descriptors: vdds_last_error_detail() names the limit, e.g. "out of file
 * descriptors: this process's RLIMIT_NOFILE is 1024, each published topic
 * needs 3"), or a system errno. */
VDDS_API int vdds_pub_open(vdds_pub **pub, const char *topic, const struct vdds_pub_opts *opts);

/* Loan a free slot to write a sample into; *buf points to opts.slot_size
 * writable bytes in shared memory. The slot stays the caller's until it is
 * passed to vdds_pub_publish() or vdds_pub_discard().
 * When no slot is free, what happens is the publisher's overflow policy (see
 * enum vdds_overflow). BLOCK waits until a subscriber releases one:
 * timeout_ms < 0 waits forever, 0 does not wait, > 0 waits at most that long;
 * the wait sleeps (on a futex, or on vdds_pub_fd() serving subscribers
 * without the service thread), it never spins. DROP_OLDEST and FAIL never
 * wait, whatever timeout_ms.
 * Errors: -EINVAL; -EAGAIN (no free slot and timeout_ms == 0, or FAIL);
 * -ETIMEDOUT (BLOCK); -ENOBUFS (DROP_OLDEST, and every slot is held by
 * samples the subscribers have taken or the application has loaned). */
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
 * a subscriber connecting, waking a blocked loan or going away. For
 * applications that use no_service_thread: watch it in any event loop and call
 * vdds_pub_dispatch(). Returns the fd (owned by the publisher), or -EINVAL
 * (also for a publisher that has the service thread: the thread serves it
 * from the process's one epoll set, so it has no control fd of its own). */
VDDS_API int vdds_pub_fd(vdds_pub *pub);

/* Do the publisher's pending control work without blocking: accept and
 * handshake new subscribers, reclaim the slots of those that went away.
 * Returns 0 or a negative errno (-EINVAL). Must not be called for a publisher
 * that has the service thread. */
VDDS_API int vdds_pub_dispatch(vdds_pub *pub);

/* Fill *stats. Also reclaims slots returned since the last call. */
VDDS_API int vdds_pub_stats(vdds_pub *pub, struct vdds_pub_stats *stats);

#define VDDS_NOTE_MAX 128 /* bytes of a publisher's note, NUL included */

/* Set a line of text that introspection (`vdds info`) shows for this topic,
 * for example a bridge's counters; longer than VDDS_NOTE_MAX - 1 bytes is cut
 * short, control characters become '?'. NULL or "" clears it. Safe to call
 * from any thread, at any rate (a mutex, no system call). 0 or -EINVAL. */
VDDS_API int vdds_pub_set_note(vdds_pub *pub, const char *note);

/* Stop publishing (in a child of fork(): only free the inherited handle's
 * memory; see the top): subscribers see -EPIPE once they have taken what was
 * delivered; their shared memory stays mapped until they close. A publisher
 * still in waitsets (vdds_waitset_add_pub) is first removed from each, as by
 * vdds_waitset_remove() (see the waitset's thread rules there). Frees
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
				* runtime directory; no polling). Connecting
				* to it and the handshake never block take(),
				* wait() or a waitset: they advance as the fd
				* says they can, so a publisher that is
				* stopped, stuck or never accepts costs only
				* its samples. Samples then carry the next
				* epoch and seq starts anew. */
	uint32_t publisher_uid; /* also trust a runtime directory owned by this
				 * uid (a publisher's, with group_access); by
				 * default only one owned by you or by root */
	uint32_t max_held;      /* hold at most this many samples at once: past
				 * it take() returns -ENOBUFS until one is
				 * released (0: no limit), so that this
				 * subscriber cannot pin every slot */
	bool no_history;        /* decline the publisher's history: receive
				 * only what is published after joining */
	uint32_t spin_ns;       /* adaptive wait: vdds_sub_wait() and waitsets
				 * look at the ring for up to this long before
				 * sleeping, so dense traffic gets busy-poll
				 * latency and an idle subscriber no CPU; 0
				 * (default): sleep at once */
	uint64_t vdds__reserved[VDDS__RESERVED_WORDS]; /* zero: see vdds_pub_opts */
};

/* One received sample: a read-only view into shared memory, valid until it is
 * passed to vdds_sub_release(). Writing through data faults (SIGSEGV).
 * Zero copy cuts both ways: the bytes are the publisher's, and a publisher
 * that breaks the protocol can still change them while you read them (vdds
 * checks everything it uses itself, never the payload). Copy out what you must
 * validate before you trust it, as with any memory shared with another process. */
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
 * A subscription holds 2 file descriptors (the one vdds_sub_fd() returns and
 * its connection socket), and needs 3 more while it opens.
 * Errors: -EINVAL, -ENOENT (no publisher), -EACCES (publisher refuses this
 * user), -EPROTO (version, type name or type size mismatch), -ENOSPC (the
 * publisher has its maximum number of subscribers; one that has closed no
 * longer counts, see vdds_pub_open), -EBUSY (the publisher holds too many
 * handshakes pending from this process, this user, or all: a flood of silent
 * connections; the detail says whose), -EBADMSG (the publisher answered
 * something malformed), -EMFILE (out of file descriptors, here or in the
 * publisher's process: the detail says which), -ETIMEDOUT (the publisher did
 * not answer within 5 s; open first waits for room in its backlog, as
 * connect() does), or a system errno.
 * A refusal's reason in words: vdds_last_error_detail(). */
VDDS_API int vdds_sub_open(vdds_sub **sub, const char *topic, const struct vdds_sub_opts *opts);

/* Take the next sample, if any, without blocking.
 * Returns 0 and fills *sample; -EAGAIN when nothing is waiting; -EPIPE when
 * the publisher is gone and everything it delivered has been taken (when its
 * death is first learned here, -EAGAIN may come once more before -EPIPE);
 * -EBADMSG when the publisher cut this subscriber off or broke the protocol;
 * -ENOBUFS when opts.max_held samples are held (release one first; the fd is
 * not readable meanwhile); -EINVAL for NULL arguments; -ECHILD for a handle
 * inherited through fork(); with opts.reconnect, -EAGAIN while it follows the
 * topic to its next publisher (never blocking), -ENOMEM if keeping the dead
 * publisher's held samples needs memory there is not (the next call tries
 * again), and the refusals of vdds_sub_open() that are final (-EPROTO...).
 *
 * The fd contract: vdds_sub_fd() is level-triggered. It is readable exactly
 * while vdds_sub_take() would return a sample, -EPIPE or -EBADMSG, and not
 * while it would return -EAGAIN: from the moment vdds_sub_open() returns,
 * whatever was taken before, however many samples are taken per readiness.
 * (Exceptions: with opts.busy_poll it reports only the publisher's death;
 * while the subscriber is in a waitset, the waitset reports it instead;
 * while a reconnecting subscriber has no publisher, it is readable when the
 * reconnect can go on (a socket appeared, an answer came, a retry is due),
 * and the take it calls for may still say -EAGAIN.) */
VDDS_API int vdds_sub_take(vdds_sub *sub, struct vdds_sample *sample);

/* Return a taken sample's slot to the publisher. After this, sample->data must
 * not be read. Errors: -EINVAL (NULL, or a sample not held: double release). */
VDDS_API int vdds_sub_release(vdds_sub *sub, const struct vdds_sample *sample);

/* Block until a sample can be taken or the publisher is gone.
 * timeout_ms < 0 waits forever, 0 only checks. Signals do not cut it short.
 * Returns 0 (take now), -ETIMEDOUT, -EPIPE (publisher gone, nothing left),
 * -EBADMSG (cut off), -ENOBUFS (opts.max_held samples held: release first),
 * -EINVAL. */
VDDS_API int vdds_sub_wait(vdds_sub *sub, int timeout_ms);

/* The subscriber's pollable, level-triggered file descriptor (owned by the
 * subscriber), for epoll, poll, io_uring or any event loop: see the fd
 * contract at vdds_sub_take(). Until it is first asked for, take() does
 * not keep it, which saves vdds_sub_wait() users a system call per wake.
 * Returns the fd or -EINVAL. */
VDDS_API int vdds_sub_fd(vdds_sub *sub);

struct vdds_sub_stats {
	uint64_t taken;  /* samples taken since open */
	uint64_t lost;   /* samples the publisher took back before we took them
			  * (DROP_OLDEST); seq jumps by exactly as many */
	uint32_t held;   /* taken and not yet released */
	uint32_t queued; /* delivered and not yet taken */
	uint64_t vdds__reserved[VDDS__RESERVED_WORDS]; /* zeroed */
};

/* Fill *stats: cheap (no system call), at any rate. -EINVAL for NULL. */
VDDS_API int vdds_sub_stats(vdds_sub *sub, struct vdds_sub_stats *stats);

/* The type name the topic's publisher declared (vdds_pub_opts.type_name), ""
 * if none, or while a reconnecting subscriber has no publisher. The string is
 * the subscriber's and stays valid until the next call on it. NULL for NULL. */
VDDS_API const char *vdds_sub_type_name(vdds_sub *sub);

/* Disconnect; every sample still held is released, and the publisher sees
 * the subscriber leave (its place is free for another at once). A subscriber
 * still in waitsets is first removed from each, as by vdds_waitset_remove()
 * (see the waitset's thread rules there). NULL is a no-op. */
VDDS_API void vdds_sub_close(vdds_sub *sub);

/* ------------------------------------------------------------------ waitset */

/* A waitset waits on many subscribers, publishers and other file descriptors
 * in one call. It uses io_uring (multishot poll; SINGLE_ISSUER and
 * DEFER_TASKRUN where the kernel has them) and falls back to epoll where
 * io_uring cannot be used (ENOSYS, EPERM from seccomp, kernel.io_uring_disabled).
 * VDDS_BACKEND=epoll or VDDS_BACKEND=io_uring in the environment forces one.
 * A waitset is used by one thread: the one that first waits on it (io_uring
 * binds the ring to it). A subscriber in a waitset is reported by it; its own
 * vdds_sub_fd() is then not kept readable-exactly-when (see vdds_sub_take).
 *
 * Members and threads: closing a subscriber or publisher removes it from
 * every waitset it is in (the library records them), so a member may be
 * closed without vdds_waitset_remove(). While a thread waits, the waitset
 * uses its members (it arms and spins on subscribers), so remove or close a
 * member on the waitset's own thread, or while no thread is inside
 * vdds_waitset_wait() on any waitset holding it: closing it from another
 * thread during a wait is a data race, like any use of one handle by two
 * threads at once. Removal on the waitset's thread (or before its first
 * wait) returns once the kernel holds none of the member's files, so a
 * closed subscriber's publisher sees it leave at once; made from another
 * thread, an io_uring waitset lets go of them at its next wait. */
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
 * given to vdds_waitset_add_fd(). On the waitset's thread it returns once
 * the waitset holds none of the member's files (io_uring: its poll
 * cancellations have completed). -EINVAL, -ENOENT (not a member). */
VDDS_API int vdds_waitset_remove(vdds_waitset *ws, int fd);

/* Wait until at least one member is ready, then fill up to max events.
 * timeout_ms < 0 waits forever, 0 only checks. Returns the number of events
 * (>= 1), -ETIMEDOUT, or -EINVAL. Signals do not cut it short. */
VDDS_API int vdds_waitset_wait(vdds_waitset *ws, struct vdds_event *events, int max,
			       int timeout_ms);

/* "io_uring" or "epoll"; NULL for a NULL waitset. */
VDDS_API const char *vdds_waitset_backend(const vdds_waitset *ws);

/* Free the waitset (not its members, which may then be closed, or added to
 * another); like a removal, it lets go of their files before it returns.
 * NULL is a no-op. */
VDDS_API void vdds_waitset_free(vdds_waitset *ws);

/* ------------------------------------------- runtime directory and topics
 *
 * What a tool needs to find topics and ask their publishers about
 * themselves, as `vdds ls` and `vdds info` do: the runtime directory, the
 * files a topic has there, and the publisher's own account (one datagram on
 * its socket, answered by its service side; nothing is subscribed). Each
 * call that takes a dir takes NULL for the one vdds_rundir() names. Each
 * clears vdds_last_error_detail() first; -EINVAL's detail names the
 * argument at fault. */

/* The runtime directory into buf[cap]: $VDDS_DIR, else $XDG_RUNTIME_DIR/vdds,
 * else /tmp/vdds-<euid>; with create, made 0700 when missing. It must be a
 * directory owned by this user or root and writable by nobody else (whoever
 * could write it could stand in for any publisher). buf holds the path also
 * on failure, for a message. Returns 0, -ENOENT (absent, not created),
 * -EACCES (not a directory, another owner, writable by others),
 * -ENAMETOOLONG, or -errno. */
VDDS_API int vdds_rundir(char *buf, size_t cap, int create);

/* 0 if topic is a valid topic name (see VDDS_TOPIC_MAX), else -EINVAL with
 * the fault in vdds_last_error_detail(), e.g. "topic 'a/b': '/' at byte 1:
 * only [A-Za-z0-9_.-]". */
VDDS_API int vdds_topic_check(const char *topic);

/* The path of topic's file <dir>/<topic><suffix> into buf[cap]: suffix
 * ".sock" is its publisher's socket, ".lock" the lock a publisher holds
 * while it lives, ".new" the socket a starting one has not yet renamed into
 * place; a tool may add its own (vdds-bridge: ".bridge"). suffix holds no
 * '/'. Returns 0, -EINVAL (a bad topic, dir or suffix: detail
 * says which), -ENAMETOOLONG (it does not fit in cap), or vdds_rundir()'s
 * error when dir is NULL. */
VDDS_API int vdds_topic_path(const char *dir, const char *topic, const char *suffix, char *buf,
			     size_t cap);

/* Take the flock (exclusive, not waiting) of <dir>/<topic><suffix>, made
 * 0600 if missing, opened with flags O_RDONLY or O_RDWR (plus O_CLOEXEC,
 * O_NOFOLLOW). Returns the open file, whose close lets go, or -EEXIST while
 * another holds it, -EINVAL, or -errno. The lock is on the file the path
 * names when this returns, even against a holder that unlinks it as it
 * lets go (the publisher's ".lock" works so: unlink, then close). Holding
 * a topic's ".lock" keeps any publisher of it from starting; while it is
 * held, nobody is serving the topic, so its leftover files may go. */
VDDS_API int vdds_topic_lock(const char *dir, const char *topic, const char *suffix, int flags);

/* Call fn(topic, arg) for each valid topic name with a <topic><suffix>
 * entry in dir (suffix NULL: ".sock", topics with a publisher or the socket
 * of a dead one), in directory order; nothing is opened or followed. fn
 * returns 0 to go on, anything else to stop: that value is returned.
 * Returns 0, fn's value, -ENOENT (no such directory), -EINVAL, or -errno. */
VDDS_API int vdds_topic_list(const char *dir, const char *suffix,
			     int (*fn)(const char *topic, void *arg), void *arg);

/* One subscriber of a topic, as its publisher sees it. */
struct vdds_topic_sub {
	int32_t pid;     /* its process, at connection (SO_PEERCRED) */
	uint32_t uid;    /* its user, at connection */
	uint32_t lane;   /* its lane, 0..max_subscribers-1 */
	uint32_t held;   /* samples it took and has not released */
	uint32_t queued; /* delivered to it and not yet taken */
	uint32_t vdds__pad;
	uint64_t lost;              /* taken back from its queue by DROP_OLDEST */
	uint64_t vdds__reserved[4]; /* room for more; the library zeroes it */
};

/* A topic's publisher, in its own words: its layout, its vdds_pub_stats
 * counters as of the data path's last call, its note, and its subscribers.
 * It can grow: new fields take bytes from the front of vdds__reserved, which
 * the library zeroes, so size and offsets stay (tests/abi_layout.c). */
struct vdds_topic_info {
	int32_t pid;       /* the publisher's process */
	uint32_t uid;      /* its effective uid */
	uint64_t start_ns; /* CLOCK_REALTIME when it was opened */
	uint64_t slot_size;
	uint32_t slot_count;
	uint32_t max_subscribers;
	uint32_t type_size;                     /* 0: none declared */
	uint32_t overflow;                      /* enum vdds_overflow */
	uint32_t history;                       /* samples kept for late joiners */
	uint32_t n_subs;                        /* rows in subs[] */
	char type_name[VDDS_TYPE_NAME_MAX + 1]; /* "": none; the publisher's bytes */
	uint32_t free_slots;                    /* as vdds_pub_stats */
	uint32_t loaned_slots;
	uint32_t subscribers; /* the data path's count (subs[]: the control side's) */
	uint32_t vdds__pad;
	uint64_t published;
	uint64_t wakeups;
	uint64_t disconnects;
	uint64_t kicked;
	char note[VDDS_NOTE_MAX];   /* vdds_pub_set_note(); the publisher's bytes */
	uint64_t vdds__reserved[8]; /* room for more; the library zeroes it */
	struct vdds_topic_sub subs[VDDS_MAX_SUBSCRIBERS]; /* n_subs of them */
};

/* Ask topic's publisher about itself: connect to <dir>/<topic>.sock (a
 * socket, never a symlink), ask, and wait up to timeout_ms (< 0: forever)
 * for the answer, which is checked whole before *info is filled. Strings in
 * it are NUL-terminated but chosen by the publisher: escape them before a
 * terminal sees them. Returns 0, or
 *   -ENOENT        no publisher (no socket, or it hung up as it closed)
 *   -ECONNREFUSED  a socket nobody listens on: its publisher died
 *   -ENOTSOCK      <topic>.sock is a file, FIFO or symlink: not followed
 *   -EACCES        the publisher refuses this user
 *   -EPROTO        it speaks another protocol version (detail says which)
 *   -ETIMEDOUT     no answer in time (also a full backlog all along)
 *   -EBADMSG       a malformed answer
 *   -EINVAL        a bad argument (detail says which)
 * or another errno it refused with (its reason in the detail), or -errno. */
VDDS_API int vdds_topic_info(const char *dir, const char *topic, struct vdds_topic_info *info,
			     int timeout_ms);

/* vdds_topic_info() for n topics at once, none waiting for another, all
 * within one timeout_ms: infos[i] and errs[i] (as vdds_topic_info returns)
 * for topics[i]. A publisher that never answers costs the others nothing.
 * It keeps at most as many connections open as RLIMIT_NOFILE leaves room
 * for (less 64), asking the rest as answers come in: raise that limit
 * first to ask thousands at once. The detail is left empty: errs[] says
 * each topic's fate. Returns 0 (each errs[i] set), or -EINVAL, -ENOMEM, or
 * vdds_rundir()'s error other than -ENOENT when dir is NULL (nothing
 * asked). */
VDDS_API int vdds_topic_info_many(const char *dir, const char *const *topics, size_t n,
				  struct vdds_topic_info *infos, int *errs, int timeout_ms);

/* ------------------------------------------------------------------- common */

/* The words for an error code (negative or positive errno): vdds's own for
 * the codes its calls document, the C library's for any other errno, and
 * "unknown error" for a number that is none. A constant string: safe from
 * any thread, never NULL. What was at fault: vdds_last_error_detail(). */
VDDS_API const char *vdds_strerror(int err);

/* The library's version at run time, as "MAJOR.MINOR.PATCH". */
VDDS_API const char *vdds_version(void);

/* Room for an error detail, in bytes, NUL included. */
#define VDDS_ERROR_DETAIL_MAX 128

/* Why the last handshake made on this thread was refused, in words: "" if it
 * was not, or if the refusal had nothing to add to its errno. A publisher
 * refuses with, for example,
 *   -EPROTO  "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)"
 *   -EPROTO  "protocol version 3 expected, publisher speaks 2"
 *   -EACCES  "user not allowed"
 *   -ENOSPC  "subscriber limit reached"
 *   -EMFILE  "publisher out of file descriptors: pid 4242's RLIMIT_NOFILE is 1024"
 *   -EBUSY   "publisher busy: 8 pending handshakes from pid 4242"
 *   -EBUSY   "publisher busy: 32 pending handshakes from uid 1000"
 * (the subscriber's expectation first, then what the publisher has). A
 * handshake is made by vdds_sub_open(), and by vdds_sub_take(),
 * vdds_sub_wait() or a waitset when a reconnecting subscriber meets a new
 * publisher; each handshake clears the detail first. Also, when
 * vdds_pub_open() or vdds_sub_open() runs out of file descriptors (-EMFILE,
 * -ENFILE), which limit, and what each topic needs:
 *   -EMFILE  "out of file descriptors: this process's RLIMIT_NOFILE is 1024,
 *             each published topic needs 3"
 *   -EMFILE  "out of file descriptors: this process's RLIMIT_NOFILE is 1024,
 *             each subscription needs 2"
 * And whenever a call returns -EINVAL for its arguments, which one and
 * what it must be:
 *   -EINVAL  "history 40: at most slot_count / 2 = 32"
 *   -EINVAL  "topic 'a/b': '/' at byte 1: only [A-Za-z0-9_.-]"
 *   -EINVAL  "sample: slot 3 of epoch 0 not held (released twice?)"
 * (vdds_pub_open() clears the detail first too). The string is at most
 * VDDS_ERROR_DETAIL_MAX - 1 bytes, has no control characters, and stays
 * valid until the next handshake or -EINVAL on this thread. Never NULL.
 *
 * Why per thread and not an out-buffer in vdds_sub_opts: the reason has to
 * reach callers that pass NULL options (the common case) and a reconnecting
 * take() that has no options at hand; options are const and often shared
 * between subscribers and threads, so a buffer in them would be written by
 * several at once. Like errno and dlerror(), the thread that made the failing
 * call reads it, with no lock and no lifetime to manage, and the data path
 * never touches it: only a handshake writes it. */
VDDS_API const char *vdds_last_error_detail(void);

/* ---------------------------------------------------------------- typed use
 *
 * VDDS_TYPED(T), at file scope, declares functions that speak in T instead of
 * bytes, for a type named by one identifier (a typedef name: typedef a
 * `struct pose` first). The publisher declares T's name as written and
 * sizeof(T) (type_name, type_size); a subscriber asks for both, so a
 * subscriber of another type is refused with -EPROTO and says why
 * (vdds_last_error_detail). T is copied as bytes between processes: plain
 * data, no pointers; its alignment at most VDDS_SLOT_ALIGN.
 *
 *   typedef struct { double x, y, theta; } Pose;
 *   VDDS_TYPED(Pose);
 *
 *   vdds_pub *pub;                              vdds_sub *sub;
 *   Pose *p;                                    vdds_Pose_sample s;
 *   vdds_Pose_pub_open(&pub, "pose", NULL);     vdds_Pose_sub_open(&sub, "pose", NULL);
 *   vdds_Pose_loan(pub, &p, -1);                while (vdds_Pose_take(sub, &s) == 0) {
 *   p->x = 1.0;                                         use(s.data->x, s.raw.seq);
 *   vdds_Pose_publish(pub, p);                          vdds_Pose_release(sub, &s);
 *                                               }
 *
 * Declared for T (each returns what the call it wraps returns, and -EINVAL
 * for a NULL pointer):
 *
 *   int vdds_T_pub_open(vdds_pub **pub, const char *topic, const struct vdds_pub_opts *opts);
 *   int vdds_T_sub_open(vdds_sub **sub, const char *topic, const struct vdds_sub_opts *opts);
 *       opts may be NULL; if given it is copied, never changed. In the copy
 *       a NULL type_name becomes "T" (a name given is kept: the name on the
 *       wire may differ from the C name), a zero type_size sizeof(T), and a
 *       publisher's zero slot_size sizeof(T). -EINVAL if opts names another
 *       type_size, or slots smaller than T.
 *   int vdds_T_loan(vdds_pub *pub, T **sample, int timeout_ms);
 *       pub must come from vdds_T_pub_open (its slots hold a T).
 *   int vdds_T_publish(vdds_pub *pub, T *sample);    publishes sizeof(T) bytes
 *   int vdds_T_discard(vdds_pub *pub, T *sample);
 *   int vdds_T_write(vdds_pub *pub, const T *value, int timeout_ms);
 *   int vdds_T_take(vdds_sub *sub, vdds_T_sample *s);
 *       s->data is the sample as a const T *, s->raw the vdds_sample (seq,
 *       timestamp_ns...). A sample that is not sizeof(T) bytes long (its
 *       publisher declared T but published another length) is released at
 *       once and take returns -EMSGSIZE; take again for the next one.
 *   int vdds_T_release(vdds_sub *sub, const vdds_T_sample *s);
 *
 * They compile as C11 and as C++; vdds.hpp builds its classes for C++17 on
 * the same rules. */

/* Slots start at multiples of this many bytes: no T may need more. */
#define VDDS_SLOT_ALIGN 64

#ifdef __cplusplus
#define VDDS__CAST(T, x) (static_cast<T>(x))
#define VDDS__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define VDDS__ALIGNOF(T) alignof(T)
#define VDDS__NULL nullptr
#else
#define VDDS__CAST(T, x) ((T)(x))
#define VDDS__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define VDDS__ALIGNOF(T) _Alignof(T)
#define VDDS__NULL NULL
#endif
#if defined(__GNUC__)
/* unused: a program uses some of the functions VDDS_TYPED declares */
#define VDDS__TYPED_FN static inline __attribute__((unused))
#else
#define VDDS__TYPED_FN static inline
#endif

/* The typed calls' shared parts; not API (vdds__ names are internal). */
static inline int vdds__typed_pub_opts(struct vdds_pub_opts *o, const struct vdds_pub_opts *given,
				       const char *name, size_t size)
{
	if (given)
		*o = *given;
	else
		memset(o, 0, sizeof(*o));
	if (size > UINT32_MAX || (o->type_size && o->type_size != size) ||
	    (o->slot_size && o->slot_size < size))
		return -EINVAL;
	o->type_name = o->type_name ? o->type_name : name;
	o->type_size = VDDS__CAST(uint32_t, size);
	o->slot_size = o->slot_size ? o->slot_size : size;
	return 0;
}

static inline int vdds__typed_sub_opts(struct vdds_sub_opts *o, const struct vdds_sub_opts *given,
				       const char *name, size_t size)
{
	if (given)
		*o = *given;
	else
		memset(o, 0, sizeof(*o));
	if (size > UINT32_MAX || (o->type_size && o->type_size != size))
		return -EINVAL;
	o->type_name = o->type_name ? o->type_name : name;
	o->type_size = VDDS__CAST(uint32_t, size);
	return 0;
}

static inline int vdds__typed_take(vdds_sub *sub, struct vdds_sample *raw, const void **data,
				   size_t size)
{
	int err = vdds_sub_take(sub, raw);

	*data = VDDS__NULL;
	if (err < 0)
		return err;
	if (raw->len != size) {
		vdds_sub_release(sub, raw);
		return -EMSGSIZE;
	}
	*data = raw->data;
	return 0;
}

/* T names a type here, which no parentheses may enclose */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define VDDS_TYPED(T)                                                                              \
	typedef struct vdds_##T##_sample {                                                         \
		const T *data;                                                                     \
		struct vdds_sample raw;                                                            \
	} vdds_##T##_sample;                                                                       \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_pub_open(vdds_pub **pub, const char *topic,                  \
					       const struct vdds_pub_opts *opts)                   \
	{                                                                                          \
		struct vdds_pub_opts o;                                                            \
		int err = vdds__typed_pub_opts(&o, opts, #T, sizeof(T));                           \
                                                                                                   \
		return err < 0 ? err : vdds_pub_open(pub, topic, &o);                              \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_sub_open(vdds_sub **sub, const char *topic,                  \
					       const struct vdds_sub_opts *opts)                   \
	{                                                                                          \
		struct vdds_sub_opts o;                                                            \
		int err = vdds__typed_sub_opts(&o, opts, #T, sizeof(T));                           \
                                                                                                   \
		return err < 0 ? err : vdds_sub_open(sub, topic, &o);                              \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_loan(vdds_pub *pub, T **sample, int timeout_ms)              \
	{                                                                                          \
		void *buf;                                                                         \
		int err = sample ? vdds_pub_loan(pub, &buf, timeout_ms) : -EINVAL;                 \
                                                                                                   \
		if (sample)                                                                        \
			*sample = err < 0 ? VDDS__NULL : VDDS__CAST(T *, buf);                     \
		return err;                                                                        \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_publish(vdds_pub *pub, T *sample)                            \
	{                                                                                          \
		return vdds_pub_publish(pub, sample, sizeof(T));                                   \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_discard(vdds_pub *pub, T *sample)                            \
	{                                                                                          \
		return vdds_pub_discard(pub, sample);                                              \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_write(vdds_pub *pub, const T *value, int timeout_ms)         \
	{                                                                                          \
		return value ? vdds_pub_write(pub, value, sizeof(T), timeout_ms) : -EINVAL;        \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_take(vdds_sub *sub, vdds_##T##_sample *s)                    \
	{                                                                                          \
		const void *data;                                                                  \
		int err;                                                                           \
                                                                                                   \
		if (!s)                                                                            \
			return -EINVAL;                                                            \
		err = vdds__typed_take(sub, &s->raw, &data, sizeof(T));                            \
		s->data = VDDS__CAST(const T *, data);                                             \
		return err;                                                                        \
	}                                                                                          \
                                                                                                   \
	VDDS__TYPED_FN int vdds_##T##_release(vdds_sub *sub, const vdds_##T##_sample *s)           \
	{                                                                                          \
		return s ? vdds_sub_release(sub, &s->raw) : -EINVAL;                               \
	}                                                                                          \
                                                                                                   \
	VDDS__STATIC_ASSERT(VDDS__ALIGNOF(T) <= VDDS_SLOT_ALIGN,                                   \
			    "VDDS_TYPED(" #T "): slots are aligned to VDDS_SLOT_ALIGN bytes")
/* NOLINTEND(bugprone-macro-parentheses) */

#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* VDDS_H */
