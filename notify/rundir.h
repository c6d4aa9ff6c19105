/* rundir.h — where topics live: the runtime directory, topic names, the
 * per-topic lock file and socket path. */
#ifndef VDDS_RUNDIR_H
#define VDDS_RUNDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

/* Room for a runtime-directory path, and for any path a socket address holds. */
#define VDDS__PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* 0 if topic is a valid name ([A-Za-z0-9_.-], 1..VDDS_TOPIC_MAX bytes, not
 * starting with '.'), else -EINVAL. A question only: it leaves the error
 * detail alone, so a caller may sort names with it. */
int vdds__topic_valid(const char *topic);

/* vdds__topic_valid() for an open: -EINVAL also says in the error detail
 * what is wrong, e.g. "topic 'a/b': '/' at byte 1: only [A-Za-z0-9_.-]". */
int vdds__topic_name_check(const char *topic);

/* Resolve the runtime directory ($VDDS_DIR, $XDG_RUNTIME_DIR/vdds,
 * /tmp/vdds-<uid>) into buf; create it 0700 if `create`. It must be owned by
 * us, by root, or by `also_trust` (root's uid 0 when there is no other), and
 * not writable by group or others. Returns 0, -ENOENT (absent and not
 * created), -EACCES (not a directory, untrusted owner, writable by others),
 * -ENAMETOOLONG, or -errno. */
int vdds__rundir(char *buf, size_t cap, int create, uint32_t also_trust);

/* <dir>/<topic><suffix> as a Unix socket address. -ENAMETOOLONG if too long. */
int vdds__topic_addr(struct sockaddr_un *addr, const char *dir, const char *topic,
		     const char *suffix);

/* Connect a SOCK_SEQPACKET socket to <dir>/<topic>.sock. Returns the fd,
 * -ENOENT when no publisher listens there (no socket, or a dead one's), or
 * -errno. With nonblock, the socket is non-blocking and a full backlog is
 * -EAGAIN at once (without, connect waits for room in it). */
int vdds__topic_connect(const char *dir, const char *topic, int nonblock);

/* Take the flock of the file at path (made 0600 if missing), opened with
 * flags (O_RDWR or O_RDONLY): returns the fd, or -EEXIST when another holds
 * it. Robust against a concurrent unlink by the previous holder (the lock
 * must be on the file the path names). */
int vdds__lock_path(const char *path, int flags);

/* Take <dir>/<topic>.lock with flock: returns the lock fd, or -EEXIST when a
 * live publisher holds it. Robust against a concurrent unlink by the
 * previous owner (the lock must be on the file the path names). */
int vdds__topic_lock(const char *dir, const char *topic);

#endif
