/* pub_ctl.c — the publisher's control side: accepting connections, the
 * handshake and its access policy (SO_PEERCRED, the silent-client sweep),
 * introspection answers, subscribers' WAKEs, hang-ups, and cutting off
 * subscribers the data path found broken. Runs on the service thread, or on
 * the application's thread when there is none: pub_serve.c says when. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "proto.h"
#include "pub_internal.h"

#define HELLO_WAIT_MS 2000 /* how long a connected client may stay silent */
#define PEER_GROUPS_MAX 64 /* supplementary groups we look through */
#define WAKES_PER_EVENT 64 /* messages read from one socket per readiness */
/* connections accepted per readiness of the listening socket: a flood that
 * refills the backlog as fast as we refuse must not keep us from the HELLOs
 * of those we admitted (the socket is level-triggered: we come back) */
#define ACCEPTS_PER_EVENT 32

static void reject(int fd, int err, const char *reason)
{
	struct vdds__msg_reject m;

	vdds__msg_reject(&m, VDDS__MSG_REJECT, err, reason);
	vdds__msg_send(fd, &m, sizeof(m), NULL, 0);
}

/* No lane could be made: say why, and for file descriptors whose limit it
 * was (this publisher's process's, not the subscriber's own). */
static void reject_no_lane(int fd, int err)
{
	char why[VDDS__REASON_MAX];
	struct rlimit rl;

	if (err == -EMFILE && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		snprintf(why, sizeof(why),
			 "publisher out of file descriptors: pid %d's RLIMIT_NOFILE is %llu",
			 (int)getpid(), (unsigned long long)rl.rlim_cur);
	else if (err == -EMFILE || err == -ENFILE)
		snprintf(why, sizeof(why), "publisher out of file descriptors (pid %d, %s)",
			 (int)getpid(),
			 err == -ENFILE ? "system-wide fs.file-max" : "RLIMIT_NOFILE");
	else
		snprintf(why, sizeof(why), "%s",
			 err == -ENOSPC ? "subscriber limit reached" : "out of resources");
	reject(fd, err, why);
}

/* SO_PEERCRED (taken at accept, before anything is read from the peer): our
 * own uid and root always; another uid only with group_access, if our group
 * is among its primary and supplementary groups. */
static int peer_allowed(const struct vdds_pub *p, int fd, const struct ucred *cred)
{
	socklen_t len;
	gid_t groups[PEER_GROUPS_MAX];

	if (cred->pid <= 0)
		return 0; /* no credentials */
	if (cred->uid == geteuid() || cred->uid == 0)
		return 1;
	if (!p->group_access)
		return 0;
	if (cred->gid == p->group)
		return 1;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0; /* more than PEER_GROUPS_MAX groups: refuse rather than guess */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == p->group)
			return 1;
	return 0;
}

static void conn_drop(struct vdds_pub *p, struct vdds__conn *c)
{
	for (struct vdds__conn **pc = &p->conns; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	free(c);
}

static void handshake_started(struct vdds_pub *p)
{
	p->handshakes++;
	vdds__pub_update_tick(p);
}

static void handshake_done(struct vdds_pub *p)
{
	p->handshakes--;
	vdds__pub_update_tick(p);
}

/* Check a client's first message: an INFO_REQ, or a HELLO that matches the
 * topic. Returns its kind, or -errno with the reason in why[VDDS__REASON_MAX],
 * in the subscriber's terms (what it expects, then what we have). */
static int check_hello(const struct vdds_pub *p, const union vdds__msg *m, int len, int nfds,
		       char *why)
{
	const struct vdds__topic_hdr *t = p->topic;
	int kind = vdds__msg_parse(m, (size_t)len);

	if (kind == -EPROTO) {
		/* parse saw our magic in a whole header: its version is real */
		vdds__reason_version(why, VDDS__REASON_MAX, m->hdr.version, VDDS__PROTO_VERSION);
		return -EPROTO;
	}
	if (kind == VDDS__MSG_INFO_REQ && nfds == 0)
		return kind;
	if (kind != VDDS__MSG_HELLO || nfds != 0) {
		snprintf(why, VDDS__REASON_MAX, "malformed hello");
		return -EBADMSG;
	}
	/* our own header: the subscribers cannot write it (sealed) */
	if ((m->hello.type_name[0] && strcmp(m->hello.type_name, t->type_name) != 0) ||
	    (m->hello.type_size && m->hello.type_size != t->type_size)) {
		vdds__reason_type(why, VDDS__REASON_MAX, m->hello.type_name, m->hello.type_size,
				  t->type_name, t->type_size);
		return -EPROTO;
	}
	return kind;
}

/* How far a subscriber-written index b is behind a, as a count no larger than
 * the slot count: an honest subscriber never makes it larger. */
static uint32_t ring_gap(uint32_t a, uint32_t b, uint32_t slot_count)
{
	uint32_t d = a - b;

	return d > slot_count ? slot_count : d;
}

/* Control side only: the welcomed subscribers are p->conns with a lane, and
 * a lane is freed only once leave() has handed it over, in the same call
 * that takes its conn off that list, so every lane read here is mapped. Its
 * ring indices are atomics in shared memory; relaxed loads, as the answer is
 * a snapshot. */
static uint32_t fill_subs(struct vdds_pub *p, struct vdds__msg_info *m)
{
	uint32_t n = 0;

	for (struct vdds__conn *c = p->conns; c && n < VDDS_MAX_SUBSCRIBERS; c = c->next) {
		if (!c->lane)
			continue;
		struct vdds__lane_hdr *l = c->lane->core.shm;
		uint32_t dprod = vdds__load_relaxed(&l->deliver_prod);
		uint32_t dcons = vdds__load_relaxed(&l->deliver_cons);
		uint32_t rprod = vdds__load_relaxed(&l->release_prod);
		/* what DROP_OLDEST took back moved dcons without being taken */
		uint64_t dropped = vdds__load_relaxed(&c->lane->core.dropped);
		struct vdds__msg_info_sub *s = &m->subs[n++];

		s->pid = (int32_t)c->pid;
		s->uid = (uint32_t)c->uid;
		s->lane_id = c->lane->core.id;
		s->queued = ring_gap(dprod, dcons, p->core.slot_count);
		s->held = ring_gap(dcons - (uint32_t)dropped, rprod, p->core.slot_count);
		s->lost = dropped;
	}
	return n;
}

/* Answer an introspection request, then hang up. Never touches the data
 * path's own fields: its counters come from the snapshot it keeps. */
static void serve_info(struct vdds_pub *p, struct vdds__conn *c)
{
	struct vdds__msg_info *m = malloc(sizeof(*m));

	if (!m) {
		reject(c->fd, ENOMEM, "out of resources");
		return;
	}
	vdds__msg_info_init(m, 0);
	uint32_t n = fill_subs(p, m);

	m->hdr.size = (uint32_t)vdds__msg_info_size(n);
	m->n_subs = n;
	m->pid = (int32_t)getpid();
	m->uid = (uint32_t)geteuid();
	m->start_ns = p->start_ns;
	m->slot_size = p->topic->slot_size;
	m->slot_count = p->topic->slot_count;
	m->max_subs = p->max_subs;
	m->type_size = p->topic->type_size;
	memcpy(m->type_name, p->topic->type_name, sizeof(m->type_name));
	m->type_name[sizeof(m->type_name) - 1] = '\0';
	m->overflow = p->topic->overflow;
	m->history = p->topic->history;
	m->free_slots = vdds__load_relaxed(&p->snap.free_slots);
	m->loaned_slots = vdds__load_relaxed(&p->snap.loaned_slots);
	/* the control side's own count: a subscriber that left is no longer
	 * counted, whether or not the data path has run since (pub_lane.c) */
	m->subscribers = n;
	m->published = vdds__load_relaxed(&p->snap.published);
	m->wakeups = vdds__load_relaxed(&p->snap.wakeups);
	pthread_mutex_lock(&p->mu);
	m->disconnects = p->disconnects;
	m->kicked = p->kicked;
	memcpy(m->note, p->note, sizeof(m->note));
	pthread_mutex_unlock(&p->mu);
	vdds__msg_send(c->fd, m, m->hdr.size, NULL, 0);
	free(m);
}

/* The HELLO arrived (or the peer hung up): answer it. Consumes c, or keeps
 * it watched as a welcomed subscriber's. */
static void serve_hello(struct vdds_pub *p, struct vdds__conn *c)
{
	union vdds__msg m;
	int fds[VDDS__WELCOME_FDS], nfds;
	int len = vdds__msg_recv(c->fd, &m, fds, VDDS__WELCOME_FDS, &nfds, MSG_DONTWAIT);
	char why[VDDS__REASON_MAX];
	int err;

	if (len == -EAGAIN)
		return; /* spurious: keep waiting */
	handshake_done(p);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (len < 0)
		reject(c->fd, EBADMSG, "malformed hello"); /* truncated, stray control data */
	if (len <= 0)
		goto close_conn;
	/* who it is was checked at accept (admit) */
	int kind = check_hello(p, &m, len, nfds, why);

	if (kind < 0) {
		reject(c->fd, kind, why);
		goto close_conn;
	}
	if (kind == VDDS__MSG_INFO_REQ) {
		serve_info(p, c);
		goto close_conn; /* done: the client reads the answer, then EOF */
	}
	struct vdds__pub_lane *pl = vdds__pub_lane_new(p, &err);

	if (!pl) {
		reject_no_lane(c->fd, err);
		goto close_conn;
	}
	/* a child of fork() gets none of it (fork.h) */
	madvise(pl->core.shm, pl->core.shm_size, MADV_DONTFORK);
	pl->core.want_history = !(m.hello.flags & VDDS__HELLO_NO_HISTORY);
	struct vdds__msg_welcome w;
	int give[VDDS__WELCOME_FDS] = { p->topic_fd, pl->lane_fd, pl->data_efd };

	vdds__msg_welcome(&w, pl->core.id, p->topic_size, pl->core.shm_size);
	c->lane = pl;
	/* join before WELCOME: once the subscriber's open returns, every
	 * publish that starts later reaches it; the connection stays watched,
	 * now for WAKEs and the hang-up */
	vdds__pub_hand_over(p, pl, 1);
	if (vdds__msg_send(c->fd, &w, sizeof(w), give, VDDS__WELCOME_FDS) < 0)
		shutdown(c->fd, SHUT_RDWR); /* seen as a hang-up next */
	/* the subscriber has its own copy; we keep only the mapping */
	close(pl->lane_fd);
	pl->lane_fd = -1;
	return;

close_conn:
	vdds__pub_unwatch_conn(p, c);
	close(c->fd);
	conn_drop(p, c);
}

/* Read and drop what the subscriber sent (WAKEs): a Unix socket closed with
 * unread messages gives its peer ECONNRESET, which the peer's next recv
 * reports before our BYE. After shutdown(SHUT_RD) it can send no more. */
static void discard_input(int fd)
{
	char buf[64];

	shutdown(fd, SHUT_RD);
	for (int i = 0; i < 4096 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++) {
	}
}

/* A welcomed subscriber is gone: hung up, sent something it never should,
 * or was cut off by the data path. Its place is free once this returns (the
 * hand-over gives back its id; its conn, which introspection counts, is
 * dropped); its slots come back at the data path's next call (pub_lane.c).
 * The socket is closed here. */
static void leave(struct vdds_pub *p, struct vdds__conn *c, const char *why)
{
	if (why) {
		struct vdds__msg_reject bye;

		vdds__msg_reject(&bye, VDDS__MSG_BYE, EBADMSG, why);
		vdds__msg_send(c->fd, &bye, sizeof(bye), NULL, 0);
	}
	vdds__pub_unwatch_conn(p, c);
	discard_input(c->fd);
	close(c->fd);
	vdds__pub_hand_over(p, c->lane, 0);
	conn_drop(p, c);
}

/* A welcomed subscriber's socket is readable: WAKEs (a release met the
 * lane's pub_wait), or its hang-up, or something it should not send. At
 * most WAKES_PER_EVENT messages per call, so that one subscriber sending
 * many cannot keep the others waiting (the socket stays readable, and
 * level-triggered: we come back). A WAKE only wakes the loan to look again,
 * so however many a hostile subscriber sends, they cost re-checks. */
static void serve_subscriber(struct vdds_pub *p, struct vdds__conn *c)
{
	int woke = 0;

	for (int i = 0; i < WAKES_PER_EVENT; i++) {
		union vdds__msg m;
		int nfds;
		int len = vdds__msg_recv(c->fd, &m, NULL, 0, &nfds, MSG_DONTWAIT);

		if (len == -EAGAIN)
			break;
		if (len > 0 && vdds__msg_parse(&m, (size_t)len) == VDDS__MSG_WAKE) {
			woke = 1;
			continue;
		}
		/* EOF or a reset: hung up; anything else: not a WAKE */
		leave(p, c, len == 0 || (len < 0 && len != -EBADMSG) ? NULL : "unexpected message");
		return; /* leave woke the loan: a lane left */
	}
	if (woke)
		vdds__pub_wake_loan(p);
}

void vdds__pub_serve_conn(struct vdds_pub *p, struct vdds__conn *c)
{
	if (c->lane)
		serve_subscriber(p, c);
	else
		serve_hello(p, c);
}

void vdds__pub_serve_cut_offs(struct vdds_pub *p)
{
	for (struct vdds__conn *c = p->conns, *next; c; c = next) {
		next = c->next;
		/* acquire: pairs with vdds__pub_cut_off_broken_slow's release */
		if (c->lane && vdds__load_acquire(&c->lane->cut_off)) {
			pthread_mutex_lock(&p->mu);
			p->kicked++;
			pthread_mutex_unlock(&p->mu);
			leave(p, c, "subscriber broke the lane protocol");
		}
	}
}

/* Hang up on clients that connected and never said HELLO in time; listen
 * again if accept ran out of fds. */
void vdds__pub_sweep(struct vdds_pub *p)
{
	uint64_t now = vdds__now_ns() / 1000000u;

	for (struct vdds__conn *c = p->conns, *next; c; c = next) {
		next = c->next;
		if (c->lane || now < c->deadline_ms)
			continue;
		/* its HELLO may be there, not yet served (we were busy): serve it
		 * rather than blame the client for our delay */
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1) {
			serve_hello(p, c);
			continue;
		}
		vdds__pub_unwatch_conn(p, c);
		close(c->fd);
		conn_drop(p, c);
		p->handshakes--;
	}
	if (p->accept_paused) {
		p->accept_paused = 0;
		vdds__pub_listen_on(p, 1);
	}
}

/* Admission: how many connections may wait for their HELLO at once, and
 * whose. Each pending handshake costs us a socket and a place in the list,
 * and lasts up to HELLO_WAIT_MS; without bounds per peer, anyone who can
 * connect() could keep them all taken by renewing silent connections, and
 * every honest subscriber would be turned away (issue #26). So a peer, as
 * SO_PEERCRED names it at accept, may hold only its share:
 *  - a process at most HANDSHAKES_PER_PID (an honest one opens its
 *    subscriptions one after another, or a few threads at once);
 *  - a user at most HANDSHAKES_PER_UID over all its processes;
 *  - all users together HANDSHAKES_SHARED; past that, only a user holding
 *    no pending handshake at all is still admitted, up to HANDSHAKES_MAX.
 * The last rule is the reserve that keeps a flood from locking out other
 * users: filling the shared part takes HANDSHAKES_SHARED / HANDSHAKES_PER_UID
 * users, and the reserve one user per place. A user can still crowd out its
 * own processes, which costs nobody else anything (it could as well kill
 * the publisher, if it is ours). Refused peers get a REJECT that says why,
 * at once, and are closed: they cost a system call or three, no state. */
#define HANDSHAKES_PER_PID 8
#define HANDSHAKES_PER_UID 32
#define HANDSHAKES_SHARED 64
#define HANDSHAKES_MAX 96

/* 0 if a connection from cred may wait for its HELLO; else -EBUSY with the
 * reason in why[VDDS__REASON_MAX]. */
static int admit(const struct vdds_pub *p, const struct ucred *cred, char *why)
{
	uint32_t by_pid = 0, by_uid = 0;

	for (const struct vdds__conn *c = p->conns; c; c = c->next) {
		if (c->lane)
			continue; /* welcomed: not pending */
		by_pid += c->pid == cred->pid;
		by_uid += c->uid == cred->uid;
	}
	if (by_pid >= HANDSHAKES_PER_PID)
		snprintf(why, VDDS__REASON_MAX, "publisher busy: %u pending handshakes from pid %d",
			 (unsigned)by_pid, (int)cred->pid);
	else if (by_uid >= HANDSHAKES_PER_UID)
		snprintf(why, VDDS__REASON_MAX, "publisher busy: %u pending handshakes from uid %u",
			 (unsigned)by_uid, (unsigned)cred->uid);
	else if (p->handshakes >= HANDSHAKES_MAX ||
		 (p->handshakes >= HANDSHAKES_SHARED && by_uid > 0))
		snprintf(why, VDDS__REASON_MAX,
			 "publisher busy: %u pending handshakes, %u from uid %u",
			 (unsigned)p->handshakes, (unsigned)by_uid, (unsigned)cred->uid);
	else
		return 0;
	return -EBUSY;
}

/* Before refusing a peer for its pending handshakes, serve those of them
 * that are ready: a client that connected and hung up (or said HELLO) in
 * the same burst is still counted until its turn comes, and the accept loop
 * comes first. One poll over at most HANDSHAKES_MAX sockets, the peer's. */
static void serve_ready_pending(struct vdds_pub *p, const struct ucred *cred)
{
	struct pollfd pfd[HANDSHAKES_MAX];
	struct vdds__conn *conn[HANDSHAKES_MAX];
	nfds_t n = 0;

	for (struct vdds__conn *c = p->conns; c && n < HANDSHAKES_MAX; c = c->next) {
		if (c->lane || (c->pid != cred->pid && c->uid != cred->uid &&
				p->handshakes < HANDSHAKES_SHARED))
			continue;
		pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN | POLLRDHUP };
		conn[n++] = c;
	}
	if (n == 0 || poll(pfd, n, 0) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents)
			serve_hello(p, conn[i]); /* welcomes it or drops it */
}

/* A new connection: who is it, may it wait for its HELLO? Closes fd unless
 * it is kept as a pending handshake. */
static void take_conn(struct vdds_pub *p, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char why[VDDS__REASON_MAX];
	int err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		goto err_close;
	if (!peer_allowed(p, fd, &cred)) {
		/* nothing of it is read: a refused user costs no handshake */
		reject(fd, EACCES, "user not allowed");
		goto err_close;
	}
	if (admit(p, &cred, why) < 0)
		serve_ready_pending(p, &cred);
	if ((err = admit(p, &cred, why)) < 0) {
		reject(fd, err, why);
		goto err_close;
	}
	struct vdds__conn *c = calloc(1, sizeof(*c));

	if (!c)
		goto err_close;
	c->fd = fd;
	c->pub = p;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->deadline_ms = vdds__now_ns() / 1000000u + HELLO_WAIT_MS;
	if (vdds__pub_watch_conn(p, c) < 0) {
		free(c);
		goto err_close;
	}
	c->next = p->conns;
	p->conns = c;
	handshake_started(p);
	return;

err_close:
	discard_input(fd); /* its HELLO, unread, would reset our REJECT away */
	close(fd);
}

void vdds__pub_accept(struct vdds_pub *p)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			/* out of fds (or memory): the client waits in the backlog
			 * until the next sweep rather than spin us */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				p->accept_paused = 1;
				vdds__pub_listen_on(p, 0);
			}
			return; /* EAGAIN, or a transient error: next time */
		}
		take_conn(p, fd);
	}
}

void vdds__pub_drop_conns(struct vdds_pub *p)
{
	while (p->conns) {
		struct vdds__conn *c = p->conns;

		p->conns = c->next;
		close(c->fd); /* subscribers see the hang-up: -EPIPE */
		free(c);
	}
}
