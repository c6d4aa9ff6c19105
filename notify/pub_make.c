/* pub_make.c — what a publisher is made of, made and unmade in one place:
 * the topic lock, the sealed topic memfd (on huge pages if asked and
 * possible) and the listening socket (bound, chown/chmod, renamed into place
 * last): its three fds. How it is served (the service thread's watches, or
 * its own epoll set) is pub_serve.c's. And what a child of fork() keeps of it:
 * nothing (fork.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pub_internal.h"
#include "segment.h"

#define LISTEN_BACKLOG 64

/* The topic memfd: on huge pages if asked for and possible (p->topic_size
 * then grows to a multiple of their size), else on normal pages; p->huge_*
 * say which, and why. */
static int make_topic_memory(struct vdds_pub *p, const struct vdds_pub_opts *o, void **map)
{
	const char *why;
	struct stat st;
	size_t size = p->topic_size;

	snprintf(p->huge_note, sizeof(p->huge_note), "not asked");
	if (!o->huge_pages)
		return vdds__segment_create("vdds-topic", p->topic_size, map);
	int fd = vdds__segment_create_huge("vdds-topic", &size, VDDS__SEALS_TOPIC, map, &why);

	if (fd < 0) {
		/* a clean fallback: nothing of the attempt is left */
		p->huge_err = fd;
		snprintf(p->huge_note, sizeof(p->huge_note), "%s", why);
		return vdds__segment_create("vdds-topic", p->topic_size, map);
	}
	p->huge_pages = 1;
	p->topic_size = size;
	if (fstat(fd, &st) == 0)
		snprintf(p->huge_note, sizeof(p->huge_note), "%ld KiB pages",
			 (long)st.st_blksize / 1024);
	return fd;
}

static int make_topic(struct vdds_pub *p, const struct vdds_pub_opts *o)
{
	struct vdds__topic_hdr hdr;
	void *map;

	p->topic_size = vdds__topic_layout(&hdr, o->slot_size, o->slot_count, p->max_subs);
	p->topic_fd = make_topic_memory(p, o, &map);
	if (p->topic_fd < 0)
		return p->topic_fd;
	p->topic = map;
	/* a child of fork() gets none of it (fork.h) */
	madvise(map, p->topic_size, MADV_DONTFORK);
	/* on huge pages the segment ends past the last slot; the subscriber
	 * checks the header against the size it maps */
	hdr.segment_size = p->topic_size;
	hdr.publisher_pid = getpid();
	hdr.type_size = o->type_size;
	hdr.overflow = o->overflow;
	hdr.history = o->history;
	if (o->type_name)
		snprintf(hdr.type_name, sizeof(hdr.type_name), "%s", o->type_name);
	memcpy(p->topic, &hdr, sizeof(hdr));
	/* FUTURE_WRITE only after our own writable mapping exists: from now on
	 * nobody can map the topic writable or write() it */
	return vdds__segment_seal(p->topic_fd, VDDS__SEALS_TOPIC);
}

/* Listen on <topic>.new; vdds_pub_open renames it to <topic>.sock last, so
 * that a subscriber watching the directory sees it only once it listens. */
static int make_socket(struct vdds_pub *p, const char *dir, const char *topic)
{
	struct sockaddr_un addr, final;
	int err = vdds__topic_addr(&addr, dir, topic, ".new");

	if (err < 0 || (err = vdds__topic_addr(&final, dir, topic, ".sock")) < 0)
		return err;
	memcpy(p->new_path, addr.sun_path, sizeof(p->new_path));
	memcpy(p->sock_path, final.sun_path, sizeof(p->sock_path));
	p->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->listen_fd < 0)
		return -errno;
	/* we hold the topic lock: a file left here is a dead publisher's */
	unlink(addr.sun_path);
	if (bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	/* connecting needs write permission on the socket file: ours only, or
	 * our group's with group_access (SO_PEERCRED is checked as well) */
	if (p->group_access ? chown(addr.sun_path, (uid_t)-1, p->group) < 0 ||
				      chmod(addr.sun_path, 0660) < 0
			    : chmod(addr.sun_path, 0600) < 0)
		return -errno;
	return listen(p->listen_fd, LISTEN_BACKLOG) < 0 ? -errno : 0;
}

/* The pid a publisher wrote into its lock file (take_lock), or 0. */
static pid_t lock_owner(const char *dir, const char *topic)
{
	struct sockaddr_un path;
	char buf[24] = { 0 };

	if (vdds__topic_addr(&path, dir, topic, ".lock") < 0)
		return 0;
	int fd = open(path.sun_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	close(fd);
	long pid = n > 0 ? strtol(buf, NULL, 10) : 0;

	return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

/* The topic lock. Held by a process that no longer exists, it belongs to a
 * publisher just killed: the kernel may release a dead process's files (its
 * flock, its listening socket) a few milliseconds after its parent reaped
 * it (seen: 1-3 ms, test_fork), and a restart must not fail for that. So a
 * lock whose owner (the pid in the file) is gone is tried again for up to
 * LOCK_RETRY_MS; a live owner, or one that has not written its pid yet (it
 * is starting), is -EEXIST at once. An owner in another pid namespace that
 * looks gone from here costs only that wait: the lock still decides. */
#define LOCK_RETRY_MS 500
#define LOCK_RETRY_STEP_MS 2

static int take_lock(struct vdds_pub *p, const char *dir, const char *topic)
{
	struct sockaddr_un addr;
	char pid[24];

	p->lock_fd = vdds__topic_lock(dir, topic);
	for (int waited = 0; p->lock_fd == -EEXIST && waited < LOCK_RETRY_MS;
	     waited += LOCK_RETRY_STEP_MS) {
		pid_t owner = lock_owner(dir, topic);

		if (owner == 0 || kill(owner, 0) == 0 || errno != ESRCH)
			break; /* alive, starting, or not ours to know */
		struct timespec step = { 0, LOCK_RETRY_STEP_MS * 1000000L };

		nanosleep(&step, NULL);
		p->lock_fd = vdds__topic_lock(dir, topic);
	}
	if (p->lock_fd < 0)
		return p->lock_fd;
	vdds__topic_addr(&addr, dir, topic, ".lock"); /* fits: locked above */
	memcpy(p->lock_path, addr.sun_path, sizeof(p->lock_path));
	/* who holds it, for the next publisher that finds it held */
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(p->lock_fd, 0) < 0 || pwrite(p->lock_fd, pid, (size_t)len, 0) != len)
		return -errno;
	return 0;
}

int vdds__pub_make(struct vdds_pub *p, const char *topic, const struct vdds_pub_opts *o)
{
	char dir[VDDS__PATH_MAX];
	int err;

	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	p->start_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	p->max_subs = o->max_subscribers;
	p->group_access = o->group_access;
	p->group = o->group;
	if ((err = vdds__rundir(dir, sizeof(dir), 1, 0)) < 0 ||
	    (err = take_lock(p, dir, topic)) < 0 || (err = make_topic(p, o)) < 0 ||
	    (err = vdds__pubcore_init(&p->core, p->topic)) < 0)
		return err;
	return make_socket(p, dir, topic);
}

void vdds__pub_made_stats(const struct vdds_pub *p, struct vdds_pub_stats *st)
{
	st->huge_pages = p->huge_pages;
	st->huge_pages_err = p->huge_err;
	snprintf(st->huge_pages_note, sizeof(st->huge_pages_note), "%s", p->huge_note);
}

int vdds__pub_go_live(struct vdds_pub *p)
{
	/* atomically replaces a dead publisher's socket */
	if (rename(p->new_path, p->sock_path) < 0)
		return -errno;
	p->sock_live = 1;
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------ fork (fork.h) */

static void fork_lock(struct vdds__forkable *f)
{
	struct vdds_pub *p = (struct vdds_pub *)((char *)f - offsetof(struct vdds_pub, fk));

	pthread_mutex_lock(&p->mu); /* the lanes list is whole while we fork */
}

static void fork_unlock(struct vdds__forkable *f)
{
	struct vdds_pub *p = (struct vdds_pub *)((char *)f - offsetof(struct vdds_pub, fk));

	pthread_mutex_unlock(&p->mu);
}

/* In the child: close every descriptor of the parent's publisher (the lock
 * file's flock, the listening socket and each connection would otherwise
 * keep it looking alive), and send the data path to its slow path for good,
 * where it finds the handle forked. The mappings were never inherited. */
static void fork_child(struct vdds__forkable *f)
{
	struct vdds_pub *p = (struct vdds_pub *)((char *)f - offsetof(struct vdds_pub, fk));

	close_fd(p->lock_fd);
	close_fd(p->listen_fd);
	close_fd(p->topic_fd);
	close_fd(p->ctl_epfd);
	close_fd(p->timer_fd);
	for (struct vdds__conn *c = p->conns; c; c = c->next)
		close_fd(c->fd);
	for (struct vdds__pub_lane *pl = p->all; pl; pl = pl->all_next) {
		close_fd(pl->data_efd);
		close_fd(pl->lane_fd);
	}
	/* relaxed: this process has one thread now */
	vdds__store_relaxed(&p->pending, 1);
	pthread_mutex_unlock(&p->mu);
}

static const struct vdds__fork_ops fork_ops = {
	.lock = fork_lock,
	.unlock = fork_unlock,
	.child = fork_child,
};

void vdds__pub_fork_add(struct vdds_pub *p)
{
	vdds__fork_add(&p->fk, &fork_ops);
}

/* Closing the parent's publisher in a child: its descriptors are closed and
 * its memory unmapped there already; free what is private, nothing else
 * (the socket and lock file are the parent's, the service thread is not
 * ours). Its mutex may have been held by a thread of the parent: left. */
static void forget_in_child(struct vdds_pub *p)
{
	while (p->conns) {
		struct vdds__conn *c = p->conns;

		p->conns = c->next;
		free(c);
	}
	while (p->all) {
		struct vdds__pub_lane *pl = p->all;

		p->all = pl->all_next;
		vdds__lane_pub_fini(&pl->core);
		free(pl);
	}
	vdds__pubcore_fini(&p->core);
	free(p);
}

void vdds__pub_destroy(struct vdds_pub *p)
{
	if (vdds__fork_foreign(&p->fk)) {
		forget_in_child(p);
		return;
	}
	vdds__fork_remove(&p->fk);
	vdds__pub_serve_stop(p);
	/* from here on this thread is the only one touching p */
	if (p->listen_fd >= 0)
		unlink(p->sock_live ? p->sock_path : p->new_path);
	close_fd(p->listen_fd);
	vdds__pub_drop_conns(p);
	while (p->all)
		vdds__pub_lane_free(p, p->all);
	vdds__pubcore_fini(&p->core);
	if (p->topic)
		munmap(p->topic, p->topic_size);
	close_fd(p->topic_fd);
	if (p->lock_fd >= 0) {
		/* unlink before unlocking: a new publisher locks a fresh file */
		unlink(p->lock_path);
		close(p->lock_fd);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}
