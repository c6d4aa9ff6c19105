/* pub.c — the publisher: vdds_pub_* entry points. The data path (loan,
 * publish) runs on the application's thread without locks; control work
 * (accepting subscribers, noticing hang-ups) runs on the service thread or in
 * vdds_pub_dispatch() and hands lanes over through a mutex-guarded list that
 * the data path looks at only when an atomic flag says it changed. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "internal.h"
#include "pubcore.h"
#include "proto.h"
#include "rundir.h"
#include "segment.h"
#include "service.h"
#include "vdds.h"

#define DEFAULT_SLOT_SIZE 4096
#define DEFAULT_SLOT_COUNT 64
#define DEFAULT_MAX_SUBS 32
#define MAX_SLOT_COUNT (1u << 20)
#define MAX_SLOT_SIZE (1ull << 32)
#define MAX_HANDSHAKES 64         /* connections that have not said HELLO yet */
#define HANDSHAKE_TIMEOUT_MS 2000 /* a client that connects and says nothing */
#define HANDSHAKE_TICK_MS 250

/* A connection the control side watches: waiting for HELLO (lane == NULL),
 * or a welcomed subscriber whose hang-up we wait for. */
struct conn {
	int fd;
	uint64_t deadline_ms; /* until welcomed: when we give up on its HELLO */
	struct vdds__lane_pub *lane;
	struct conn *next;
};

struct vdds_pub {
	struct vdds__pubcore core; /* data path: the owner thread only */
	uint64_t wakeups;

	struct vdds_topic_hdr *topic;
	size_t topic_size;
	int topic_fd, ret_efd, lock_fd, listen_fd, ctl_epfd;
	int timer_fd; /* ticks while handshakes are pending */
	int cut_efd;  /* data path -> control: lanes to cut off */
	uint32_t max_subs;
	int threaded;
	int group_access;
	gid_t group;
	char sock_path[108], new_path[108], lock_path[108];

	struct conn *conns; /* control side only */
	uint32_t handshakes;

	/* shared by both sides, under mu */
	pthread_mutex_t mu;
	_Atomic int pending; /* joins or leaves are waiting */
	struct vdds__lane_pub *joins, *leaves, *all;
	uint64_t ids_in_use;
	uint64_t disconnects, kicked;
};

static void kick_efd(int fd)
{
	uint64_t one = 1;

	/* syscall(), not write(): no cancellation-point bookkeeping on the hot
	 * path. EAGAIN only if the counter is saturated: a wakeup is pending. */
	syscall(SYS_write, fd, &one, sizeof(one));
}

/* ---------------------------------------------------------- lane lifetime */

static void lane_free(struct vdds_pub *p, struct vdds__lane_pub *lp)
{
	pthread_mutex_lock(&p->mu);
	if (lp->all_prev)
		lp->all_prev->all_next = lp->all_next;
	else
		p->all = lp->all_next;
	if (lp->all_next)
		lp->all_next->all_prev = lp->all_prev;
	p->ids_in_use &= ~(1ull << lp->id);
	pthread_mutex_unlock(&p->mu);
	munmap(lp->shm, lp->shm_size);
	if (lp->lane_fd >= 0)
		close(lp->lane_fd);
	close(lp->data_efd);
	free(lp);
}

/* Control side: a lane for a new subscriber. Returns it, or NULL with *err. */
static struct vdds__lane_pub *lane_new(struct vdds_pub *p, int *err)
{
	uint32_t id;

	pthread_mutex_lock(&p->mu);
	for (id = 0; id < p->max_subs; id++)
		if (!(p->ids_in_use & (1ull << id)))
			break;
	if (id == p->max_subs) {
		pthread_mutex_unlock(&p->mu);
		*err = -ENOSPC;
		return NULL;
	}
	p->ids_in_use |= 1ull << id;
	pthread_mutex_unlock(&p->mu);

	struct vdds__lane_pub *lp = calloc(1, sizeof(*lp));
	uint32_t ring_size = vdds__ring_size_for(p->core.slot_count);
	size_t size = vdds__lane_size(ring_size);
	void *map = NULL;
	int fd = lp ? vdds__segment_create("vdds-lane", size, &map) : -ENOMEM;

	if (fd < 0) {
		*err = fd;
		goto err_release_id;
	}
	*err = vdds__segment_seal(fd, VDDS_SEALS_LANE);
	int efd = *err ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0) {
		*err = *err ? *err : -errno;
		munmap(map, size);
		close(fd);
		goto err_release_id;
	}
	vdds__lane_pub_init(lp, map, size, id, p->core.slot_count);
	lp->lane_fd = fd;
	lp->data_efd = efd;
	pthread_mutex_lock(&p->mu);
	lp->all_next = p->all;
	if (p->all)
		p->all->all_prev = lp;
	p->all = lp;
	pthread_mutex_unlock(&p->mu);
	return lp;

err_release_id:
	free(lp);
	pthread_mutex_lock(&p->mu);
	p->ids_in_use &= ~(1ull << id);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Control side -> data path. */
static void hand_over(struct vdds_pub *p, struct vdds__lane_pub *lp, int join)
{
	pthread_mutex_lock(&p->mu);
	if (join) {
		lp->join_next = p->joins;
		p->joins = lp;
	} else {
		lp->leave_next = p->leaves;
		p->leaves = lp;
		p->disconnects++;
	}
	/* release: the lists are complete before the data path sees the flag */
	atomic_store_explicit(&p->pending, 1, memory_order_release);
	pthread_mutex_unlock(&p->mu);
	if (!join)
		kick_efd(p->ret_efd); /* a loan waiting for slots may now get one */
}

/* Data path: pubcore detached lanes whose subscriber broke the protocol; ask
 * the control side (which owns the sockets) to say why and hang up. */
static __attribute__((noinline, cold)) void cut_off_broken_slow(struct vdds_pub *p)
{
	while (p->core.broken) {
		struct vdds__lane_pub *lp = p->core.broken;

		p->core.broken = lp->next;
		/* release: nothing else to publish; the eventfd write orders it */
		atomic_store_explicit(&lp->cut_off, 1, memory_order_release);
	}
	kick_efd(p->cut_efd);
}

static inline void cut_off_broken(struct vdds_pub *p)
{
	if (p->core.broken)
		cut_off_broken_slow(p);
}

/* Data path: adopt joins, reclaim leaves. */
static __attribute__((noinline, cold)) void apply_control_slow(struct vdds_pub *p)
{
	/* a lane on pc->broken may be among the leaves: hand it to the control
	 * side now, before it can be freed below */
	cut_off_broken(p);
	pthread_mutex_lock(&p->mu);
	struct vdds__lane_pub *joins = p->joins, *leaves = p->leaves;

	p->joins = p->leaves = NULL;
	atomic_store_explicit(&p->pending, 0, memory_order_relaxed);
	pthread_mutex_unlock(&p->mu);

	/* joins first: a lane's leave may come in the same batch as its join */
	for (struct vdds__lane_pub *lp = joins; lp; lp = lp->join_next)
		vdds__pubcore_attach(&p->core, lp);
	while (leaves) {
		struct vdds__lane_pub *lp = leaves;

		leaves = lp->leave_next;
		vdds__pubcore_detach(&p->core, lp);
		lane_free(p, lp);
	}
}

/* One load when nothing changed: this is on every loan and publish. */
static inline void apply_control(struct vdds_pub *p)
{
	/* acquire: pairs with hand_over's release */
	if (atomic_load_explicit(&p->pending, memory_order_acquire))
		apply_control_slow(p);
}

/* ------------------------------------------------------------ control side */

static void reject(int fd, int err, const char *reason)
{
	struct vdds_msg_reject m;

	vdds__msg_reject(&m, VDDS_MSG_REJECT, err, reason);
	vdds__msg_send(fd, &m, sizeof(m), NULL, 0);
}

/* SO_PEERCRED: our own uid and root always; another uid only with
 * group_access, if our group is among its primary and supplementary groups. */
static int peer_allowed(const struct vdds_pub *p, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[64];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	if (cred.uid == geteuid() || cred.uid == 0)
		return 1;
	if (!p->group_access)
		return 0;
	if (cred.gid == p->group)
		return 1;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0; /* more than 64 groups: refuse rather than guess */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == p->group)
			return 1;
	return 0;
}

static void conn_drop(struct vdds_pub *p, struct conn *c)
{
	for (struct conn **pc = &p->conns; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	free(c);
}

static void set_tick(struct vdds_pub *p, int on)
{
	long ns = on ? HANDSHAKE_TICK_MS * 1000000l : 0;
	struct itimerspec its = { .it_interval = { 0, ns }, .it_value = { 0, ns } };

	timerfd_settime(p->timer_fd, 0, &its, NULL);
}

static void handshake_started(struct vdds_pub *p)
{
	if (p->handshakes++ == 0)
		set_tick(p, 1);
}

static void handshake_done(struct vdds_pub *p)
{
	if (--p->handshakes == 0)
		set_tick(p, 0);
}

/* Check a HELLO against the topic; 0, or -errno with a reason. */
static int check_hello(const struct vdds_pub *p, const union vdds_msg *m, int len, int nfds,
		       const char **why)
{
	int kind = vdds__msg_parse(m, (size_t)len);

	*why = "malformed hello";
	if (kind == -EPROTO)
		*why = "protocol version mismatch";
	if (kind < 0)
		return kind;
	if (kind != VDDS_MSG_HELLO || nfds != 0)
		return -EBADMSG;
	if (m->hello.type_name[0] && strcmp(m->hello.type_name, p->topic->type_name) != 0) {
		*why = "type name mismatch";
		return -EPROTO;
	}
	if (m->hello.type_size && m->hello.type_size != p->topic->type_size) {
		*why = "type size mismatch";
		return -EPROTO;
	}
	return 0;
}

/* The HELLO arrived (or the peer hung up): answer it. Consumes c. */
static void serve_hello(struct vdds_pub *p, struct conn *c)
{
	union vdds_msg m;
	int fds[VDDS_WELCOME_FDS], nfds;
	int len = vdds__msg_recv(c->fd, &m, fds, VDDS_WELCOME_FDS, &nfds, MSG_DONTWAIT);
	const char *why = "malformed hello";
	int err;

	if (len == -EAGAIN)
		return; /* spurious: keep waiting */
	epoll_ctl(p->ctl_epfd, EPOLL_CTL_DEL, c->fd, NULL);
	handshake_done(p);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (len < 0)
		reject(c->fd, EBADMSG, "malformed hello"); /* truncated, stray control data */
	if (len <= 0)
		goto err_close;
	err = check_hello(p, &m, len, nfds, &why);
	if (err == 0 && !peer_allowed(p, c->fd)) {
		err = -EACCES;
		why = "user not allowed";
	}
	if (err < 0) {
		reject(c->fd, err, why);
		goto err_close;
	}
	struct vdds__lane_pub *lp = lane_new(p, &err);

	if (!lp) {
		reject(c->fd, err,
		       err == -ENOSPC ? "subscriber limit reached" : "out of resources");
		goto err_close;
	}
	struct vdds_msg_welcome w;
	int give[VDDS_WELCOME_FDS] = { p->topic_fd, lp->lane_fd, lp->data_efd, p->ret_efd };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

	vdds__msg_welcome(&w, lp->id, p->topic_size, lp->shm_size);
	c->lane = lp;
	/* join before WELCOME: once the subscriber's open returns, every
	 * publish that starts later reaches it */
	hand_over(p, lp, 1);
	if (epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		hand_over(p, lp, 0);
		goto err_close;
	}
	if (vdds__msg_send(c->fd, &w, sizeof(w), give, VDDS_WELCOME_FDS) < 0)
		shutdown(c->fd, SHUT_RDWR); /* seen as a hang-up next */
	/* the subscriber has its own copy; we keep only the mapping */
	close(lp->lane_fd);
	lp->lane_fd = -1;
	return;

err_close:
	close(c->fd);
	conn_drop(p, c);
}

/* A welcomed subscriber is gone: hung up, sent something it never should,
 * or was cut off by the data path. Its lane goes back to the data path to
 * be reclaimed and freed; the socket is closed here. */
static void leave(struct vdds_pub *p, struct conn *c, const char *why)
{
	if (why) {
		struct vdds_msg_reject bye;

		vdds__msg_reject(&bye, VDDS_MSG_BYE, EBADMSG, why);
		vdds__msg_send(c->fd, &bye, sizeof(bye), NULL, 0);
	}
	epoll_ctl(p->ctl_epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	hand_over(p, c->lane, 0);
	conn_drop(p, c);
}

static void serve_leave(struct vdds_pub *p, struct conn *c)
{
	char byte;

	if (recv(c->fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK) > 0)
		leave(p, c, "unexpected message");
	else
		leave(p, c, NULL);
}

static void serve_cut_offs(struct vdds_pub *p)
{
	uint64_t count;

	if (read(p->cut_efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: a sweep with nothing to do */
	}
	for (struct conn *c = p->conns, *next; c; c = next) {
		next = c->next;
		/* acquire: pairs with cut_off_broken's release */
		if (c->lane && atomic_load_explicit(&c->lane->cut_off, memory_order_acquire)) {
			pthread_mutex_lock(&p->mu);
			p->kicked++;
			pthread_mutex_unlock(&p->mu);
			leave(p, c, "subscriber broke the lane protocol");
		}
	}
}

/* Hang up on clients that connected and never said HELLO in time. */
static void expire_handshakes(struct vdds_pub *p)
{
	uint64_t ticks, now = vdds__now_ns() / 1000000u;

	if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: nothing to read; the sweep is harmless anyway */
	}
	for (struct conn *c = p->conns, *next; c; c = next) {
		next = c->next;
		if (c->lane || now < c->deadline_ms)
			continue;
		epoll_ctl(p->ctl_epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		conn_drop(p, c);
		handshake_done(p);
	}
}

static void serve_accept(struct vdds_pub *p)
{
	for (;;) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN, or a transient error: next time */
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

		if (!c || p->handshakes >= MAX_HANDSHAKES) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = vdds__now_ns() / 1000000u + HANDSHAKE_TIMEOUT_MS;
		ev.data.ptr = c;
		if (epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->next = p->conns;
		p->conns = c;
		handshake_started(p);
	}
}

void vdds__pub_control(struct vdds_pub *p)
{
	struct epoll_event evs[32];
	int n = epoll_wait(p->ctl_epfd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;

		if (evs[i].data.ptr == &p->timer_fd)
			expire_handshakes(p);
		else if (evs[i].data.ptr == &p->cut_efd)
			serve_cut_offs(p);
		else if (!c)
			serve_accept(p);
		else if (c->lane)
			serve_leave(p, c);
		else
			serve_hello(p, c);
	}
}

/* ------------------------------------------------------------------- open */

static int check_opts(const struct vdds_pub_opts *o)
{
	if (o->slot_size > MAX_SLOT_SIZE || o->slot_count > MAX_SLOT_COUNT || o->slot_count == 1 ||
	    o->max_subscribers > VDDS_MAX_SUBSCRIBERS)
		return -EINVAL;
	if (o->type_name && strlen(o->type_name) > VDDS_TYPE_NAME_MAX)
		return -EINVAL;
	return 0;
}

static int make_topic(struct vdds_pub *p, const struct vdds_pub_opts *o)
{
	struct vdds_topic_hdr hdr;
	void *map;
	uint64_t slot_size = o->slot_size ? o->slot_size : DEFAULT_SLOT_SIZE;
	uint32_t slot_count = o->slot_count ? o->slot_count : DEFAULT_SLOT_COUNT;

	p->max_subs = o->max_subscribers ? o->max_subscribers : DEFAULT_MAX_SUBS;
	p->topic_size = vdds__topic_layout(&hdr, slot_size, slot_count, p->max_subs);
	p->topic_fd = vdds__segment_create("vdds-topic", p->topic_size, &map);
	if (p->topic_fd < 0)
		return p->topic_fd;
	p->topic = map;
	hdr.publisher_pid = getpid();
	hdr.type_size = o->type_size;
	if (o->type_name)
		snprintf(hdr.type_name, sizeof(hdr.type_name), "%s", o->type_name);
	memcpy(p->topic, &hdr, sizeof(hdr));
	/* FUTURE_WRITE only after our own writable mapping exists: from now on
	 * nobody can map the topic writable or write() it */
	return vdds__segment_seal(p->topic_fd, VDDS_SEALS_TOPIC);
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
	return listen(p->listen_fd, 64) < 0 ? -errno : 0;
}

/* The control epoll set: the listening socket, the handshake timer and the
 * data path's cut-off requests; later, each subscriber's socket. */
static int make_control(struct vdds_pub *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event tick = { .events = EPOLLIN, .data.ptr = &p->timer_fd };
	struct epoll_event cut = { .events = EPOLLIN, .data.ptr = &p->cut_efd };

	p->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	p->cut_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->ctl_epfd < 0 || p->timer_fd < 0 || p->cut_efd < 0 ||
	    epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, p->listen_fd, &ev) < 0 ||
	    epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, p->timer_fd, &tick) < 0 ||
	    epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, p->cut_efd, &cut) < 0)
		return -errno;
	return 0;
}

int vdds_pub_open(vdds_pub **pubp, const char *topic, const struct vdds_pub_opts *opts)
{
	static const struct vdds_pub_opts defaults;
	char dir[108];
	int err;

	if (!pubp || vdds__topic_valid(topic) < 0)
		return -EINVAL;
	*pubp = NULL;
	opts = opts ? opts : &defaults;
	if ((err = check_opts(opts)) < 0)
		return err;
	if ((err = vdds__rundir(dir, sizeof(dir), 1, 0)) < 0)
		return err;

	struct vdds_pub *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->topic_fd = p->ret_efd = p->listen_fd = p->ctl_epfd = p->timer_fd = p->cut_efd = -1;
	pthread_mutex_init(&p->mu, NULL);
	p->lock_fd = vdds__topic_lock(dir, topic);
	if (p->lock_fd < 0) {
		err = p->lock_fd;
		goto err_free;
	}
	struct sockaddr_un lock_addr;

	vdds__topic_addr(&lock_addr, dir, topic, ".lock"); /* fits: locked above */
	memcpy(p->lock_path, lock_addr.sun_path, sizeof(p->lock_path));
	if ((err = make_topic(p, opts)) < 0 || (err = vdds__pubcore_init(&p->core, p->topic)) < 0)
		goto err_close;
	p->ret_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->ret_efd < 0) {
		err = -errno;
		goto err_close;
	}
	p->group_access = opts->group_access;
	p->group = opts->group;
	if ((err = make_socket(p, dir, topic)) < 0 || (err = make_control(p)) < 0)
		goto err_unlink;
	p->threaded = !opts->no_service_thread;
	if (p->threaded && (err = vdds__service_add(p, p->ctl_epfd)) < 0)
		goto err_unlink;
	/* atomically replaces a dead publisher's socket */
	if (rename(p->new_path, p->sock_path) < 0) {
		err = -errno;
		if (p->threaded)
			vdds__service_remove(p, p->ctl_epfd);
		goto err_unlink;
	}
	*pubp = p;
	return 0;

err_unlink:
	unlink(p->new_path);
err_close:
	vdds__pubcore_fini(&p->core);
	if (p->topic)
		munmap(p->topic, p->topic_size);
	if (p->ctl_epfd >= 0)
		close(p->ctl_epfd);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	if (p->cut_efd >= 0)
		close(p->cut_efd);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->ret_efd >= 0)
		close(p->ret_efd);
	if (p->topic_fd >= 0)
		close(p->topic_fd);
	unlink(p->lock_path);
	close(p->lock_fd);
err_free:
	pthread_mutex_destroy(&p->mu);
	free(p);
	return err;
}

void vdds_pub_close(vdds_pub *p)
{
	if (!p)
		return;
	if (p->threaded)
		vdds__service_remove(p, p->ctl_epfd);
	/* from here on this thread is the only one touching p */
	unlink(p->sock_path);
	close(p->listen_fd);
	close(p->ctl_epfd);
	close(p->timer_fd);
	close(p->cut_efd);
	while (p->conns) {
		struct conn *c = p->conns;

		p->conns = c->next;
		close(c->fd); /* subscribers see the hang-up: -EPIPE */
		free(c);
	}
	while (p->all)
		lane_free(p, p->all);
	vdds__pubcore_fini(&p->core);
	munmap(p->topic, p->topic_size);
	close(p->topic_fd);
	close(p->ret_efd);
	/* unlink before unlocking: a new publisher locks a fresh file */
	unlink(p->lock_path);
	close(p->lock_fd);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* -------------------------------------------------------------- data path */

static void set_pub_wait(struct vdds_pub *p, uint32_t v)
{
	for (uint32_t i = 0; i < p->core.n_lanes; i++)
		vdds__store_relaxed(&p->core.lanes[i]->shm->pub_wait, v);
}

/* Sleep until a slot may have come back, a subscriber left, or the deadline.
 * Returns 0, or -ETIMEDOUT. */
static int wait_for_return(struct vdds_pub *p, int timeout_ms, uint64_t deadline)
{
	struct pollfd pfd[2] = { { .fd = p->ret_efd, .events = POLLIN },
				 { .fd = p->ctl_epfd, .events = POLLIN } };
	int ms = -1;

	if (timeout_ms > 0 && (ms = vdds__ms_left(deadline)) == 0)
		return -ETIMEDOUT;
	/* without a service thread, waiting is also when we serve subscribers:
	 * the one holding our slots may be the one that just died */
	int n = poll(pfd, p->threaded ? 1 : 2, ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[0].revents) {
		uint64_t count;

		if (read(p->ret_efd, &count, sizeof(count)) < 0) {
			/* EAGAIN: another reader took it; nothing lost */
		}
	}
	if (!p->threaded && pfd[1].revents)
		vdds__pub_control(p);
	return n == 0 ? -ETIMEDOUT : 0;
}

/* No slot is free: sleep on the return eventfd until one comes back. */
static __attribute__((noinline)) int loan_wait(struct vdds_pub *p, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;
	int id;

	for (;;) {
		/* ask releasing subscribers to wake us, then look again: a slot
		 * returned before they could see the flag is found here */
		set_pub_wait(p, 1);
		/* full fence: pub_wait stores before the release ring loads,
		 * the mirror of vdds__subcore_release */
		vdds__fence();
		if ((id = vdds__pubcore_loan(&p->core)) >= 0)
			break;
		/* looking for slots may have found a broken lane: cut it off
		 * now, not when this wait ends */
		cut_off_broken(p);
		int err = wait_for_return(p, timeout_ms, deadline);

		apply_control(p);
		cut_off_broken(p);
		if ((id = vdds__pubcore_loan(&p->core)) >= 0)
			break;
		if (err < 0) {
			id = err;
			break;
		}
	}
	set_pub_wait(p, 0);
	return id;
}

int vdds_pub_loan(vdds_pub *p, void **buf, int timeout_ms)
{
	if (!p || !buf)
		return -EINVAL;
	apply_control(p);
	int id = vdds__pubcore_loan(&p->core);

	if (id < 0 && timeout_ms != 0)
		id = loan_wait(p, timeout_ms);
	cut_off_broken(p);
	if (id < 0)
		return id; /* -EAGAIN, -ETIMEDOUT */
	*buf = vdds__pubcore_slot_data(&p->core, (uint32_t)id);
	return 0;
}

int vdds_pub_publish(vdds_pub *p, void *buf, size_t len)
{
	if (!p || !buf)
		return -EINVAL;
	int id = vdds__pubcore_loaned_id(&p->core, buf);

	if (id < 0)
		return id;
	if (len > p->core.slot_size)
		return -EMSGSIZE;
	apply_control(p);
	vdds__pubcore_publish(&p->core, (uint32_t)id, len, vdds__now_ns());
	/* full fence: the ring pushes (release stores) before the wake_gen
	 * loads; pairs with the subscriber's arm, fence, re-check */
	vdds__fence();
	for (uint32_t i = 0; i < p->core.n_lanes; i++) {
		struct vdds__lane_pub *lp = p->core.lanes[i];

		if (vdds__lane_pub_wants_wake(lp)) {
			kick_efd(lp->data_efd);
			p->wakeups++;
		}
	}
	cut_off_broken(p);
	return 0;
}

int vdds_pub_discard(vdds_pub *p, void *buf)
{
	if (!p || !buf)
		return -EINVAL;
	int id = vdds__pubcore_loaned_id(&p->core, buf);

	if (id < 0)
		return id;
	vdds__pubcore_discard(&p->core, (uint32_t)id);
	return 0;
}

int vdds_pub_write(vdds_pub *p, const void *data, size_t len, int timeout_ms)
{
	void *buf;

	if (!p || (!data && len))
		return -EINVAL;
	if (len > p->core.slot_size)
		return -EMSGSIZE;
	int err = vdds_pub_loan(p, &buf, timeout_ms);

	if (err < 0)
		return err;
	if (len)
		memcpy(buf, data, len);
	return vdds_pub_publish(p, buf, len);
}

int vdds_pub_fd(vdds_pub *p)
{
	return p ? p->ctl_epfd : -EINVAL;
}

int vdds_pub_dispatch(vdds_pub *p)
{
	if (!p || p->threaded)
		return -EINVAL;
	vdds__pub_control(p);
	apply_control(p);
	vdds__pubcore_reclaim(&p->core);
	cut_off_broken(p);
	return 0;
}

int vdds_pub_stats(vdds_pub *p, struct vdds_pub_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	apply_control(p);
	vdds__pubcore_reclaim(&p->core);
	cut_off_broken(p);
	memset(st, 0, sizeof(*st));
	st->slot_count = p->core.slot_count;
	st->free_slots = p->core.n_free;
	st->loaned_slots = p->core.n_loaned;
	st->subscribers = p->core.n_lanes;
	st->published = p->core.seq;
	st->wakeups = p->wakeups;
	pthread_mutex_lock(&p->mu);
	st->disconnects = p->disconnects;
	st->kicked = p->kicked;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int vdds__pub_is_self_served(const vdds_pub *p)
{
	return !p->threaded;
}
