/* waitset.c — one wait over many subscribers, publishers and plain fds, the
 * part common to both backends: members, subscriber arming, and turning
 * readiness into events. Subscribers are level-triggered here: each wait arms
 * them first (set the sleep flag, re-check the ring), so a sample that came
 * in while nobody waited is reported at once. */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errors.h"
#include "internal.h"
#include "waitset.h"

/* fork(): the child closes the backend's fds (its ring was never inherited)
 * and keeps the rest as memory only, for vdds_waitset_free() */
static void fork_child(struct vdds__forkable *f)
{
	vdds_waitset *ws = (vdds_waitset *)((char *)f - offsetof(vdds_waitset, fk));

	ws->ops->child(ws);
}

static const struct vdds__fork_ops fork_ops = { .child = fork_child };

int vdds_waitset_new(vdds_waitset **wsp)
{
	if (!wsp)
		return vdds__detail_setf(-EINVAL, "ws: NULL");
	*wsp = NULL;
	vdds_waitset *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	const char *force = getenv("VDDS_BACKEND");
	int want_epoll = force && strcmp(force, "epoll") == 0;
	int want_uring = force && strcmp(force, "io_uring") == 0;
	int err = want_epoll ? -ENOSYS : vdds__waitset_uring_init(ws);

	/* io_uring refused (seccomp, kernel.io_uring_disabled, an old kernel),
	 * or epoll asked for */
	if (err < 0 && !want_uring)
		err = vdds__waitset_epoll_init(ws);
	if (err < 0) {
		free(ws);
		return err;
	}
	vdds__fork_add(&ws->fk, &fork_ops);
	*wsp = ws;
	return 0;
}

/* The list of waitset memberships of m's handle, or NULL for a plain fd. */
static struct vdds__member **memberships(const struct vdds__member *m)
{
	if (m->kind == VDDS_EVENT_SUB)
		return vdds__sub_memberships(m->handle);
	if (m->kind == VDDS_EVENT_PUB)
		return vdds__pub_memberships(m->handle);
	return NULL;
}

static void unlink_membership(struct vdds__member *m)
{
	for (struct vdds__member **pm = memberships(m); pm && *pm; pm = &(*pm)->handle_next) {
		if (*pm == m) {
			*pm = m->handle_next;
			return;
		}
	}
}

void vdds_waitset_free(vdds_waitset *ws)
{
	if (!ws)
		return;
	if (vdds__fork_foreign(&ws->fk)) {
		/* the parent's: its fds are closed here and its ring was never
		 * ours; the members' handles may be freed already (a child's
		 * close leaves waitsets alone), so touch nothing but memory */
		for (uint32_t i = 0; i < ws->n_members; i++)
			free(ws->members[i]);
		free(ws->members);
		free(ws->backend);
		free(ws);
		return;
	}
	vdds__fork_remove(&ws->fk);
	/* first, while the members are there for the completions it reaps */
	ws->ops->fini(ws);
	for (uint32_t i = 0; i < ws->n_members; i++) {
		if (ws->members[i]->kind == VDDS_EVENT_SUB)
			vdds__sub_watched(ws->members[i]->handle, -1);
		unlink_membership(ws->members[i]);
		free(ws->members[i]);
	}
	free(ws->members);
	free(ws);
}

const char *vdds_waitset_backend(const vdds_waitset *ws)
{
	return ws ? ws->ops->name : NULL;
}

static int find_key(const vdds_waitset *ws, int key)
{
	for (uint32_t i = 0; i < ws->n_members; i++)
		if (ws->members[i]->key == key)
			return (int)i;
	return -1;
}

struct vdds__member *vdds__waitset_find_id(vdds_waitset *ws, uint32_t id)
{
	for (uint32_t i = 0; i < ws->n_members; i++)
		if (ws->members[i]->id == id)
			return ws->members[i];
	return NULL;
}

static int add(vdds_waitset *ws, int kind, int key, void *handle, int main_fd, int sock,
	       uint32_t events, void *user)
{
	if (vdds__fork_foreign(&ws->fk))
		return -ECHILD;
	if (find_key(ws, key) >= 0)
		return -EEXIST;
	if (ws->n_members == ws->cap) {
		uint32_t cap = ws->cap ? ws->cap * 2 : 8;
		struct vdds__member **m = realloc(ws->members, cap * sizeof(struct vdds__member *));

		if (!m)
			return -ENOMEM;
		ws->members = m;
		ws->cap = cap;
	}
	struct vdds__member *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	*m = (struct vdds__member){ .kind = kind,
				    .key = key,
				    .id = ++ws->next_id,
				    .handle = handle,
				    .user = user,
				    .fds = { main_fd, sock },
				    .events = events };
	int err = ws->ops->watch(ws, m);

	if (err < 0) {
		free(m);
		return err;
	}
	ws->members[ws->n_members++] = m;
	struct vdds__member **pm = memberships(m);

	if (pm) {
		m->ws = ws;
		m->handle_next = *pm;
		*pm = m;
	}
	return 0;
}

int vdds_waitset_add_sub(vdds_waitset *ws, vdds_sub *sub, void *user)
{
	int set_fd, sock; /* the subscriber's epoll set, its connection socket */

	if (!ws || !sub)
		return vdds__detail_setf(-EINVAL, "%s: NULL", ws ? "sub" : "ws");
	uint32_t gen = vdds__sub_fds(sub, &set_fd, &sock);
	int err = add(ws, VDDS_EVENT_SUB, vdds__sub_key(sub), sub, set_fd, sock, POLLIN, user);

	if (err == 0) {
		ws->members[ws->n_members - 1]->fd_gen = gen;
		vdds__sub_watched(sub, 1);
	}
	return err;
}

/* A reconnecting subscriber swaps the fds behind it: follow them. */
static void follow_sub_fds(vdds_waitset *ws, struct vdds__member *m)
{
	int main_fd, sock;
	uint32_t gen = vdds__sub_fds(m->handle, &main_fd, &sock);

	if (gen == m->fd_gen)
		return;
	ws->ops->unwatch(ws, m);
	m->fds[WATCH_MAIN] = main_fd;
	m->fds[WATCH_SOCK] = sock;
	m->armed[WATCH_MAIN] = m->armed[WATCH_SOCK] = 0;
	m->fd_gen = gen;
	/* the id changes too: completions for the old fds must find nothing */
	m->id = ++ws->next_id;
	if (ws->ops->watch(ws, m) < 0)
		m->revents |= POLLERR; /* reported; take() tells the user what is wrong */
}

int vdds_waitset_add_pub(vdds_waitset *ws, vdds_pub *pub, void *user)
{
	if (!ws || !pub)
		return vdds__detail_setf(-EINVAL, "%s: NULL", ws ? "pub" : "ws");
	if (!vdds__pub_is_self_served(pub))
		return vdds__detail_setf(-EINVAL,
					 "pub: served by the service thread "
					 "(only a no_service_thread publisher joins a waitset)");
	int fd = vdds_pub_fd(pub);

	return add(ws, VDDS_EVENT_PUB, fd, pub, fd, -1, POLLIN, user);
}

int vdds_waitset_add_fd(vdds_waitset *ws, int fd, uint32_t events, void *user)
{
	if (!ws)
		return vdds__detail_setf(-EINVAL, "ws: NULL");
	if (fd < 0 || events == 0)
		return fd < 0 ? vdds__detail_setf(-EINVAL, "fd %d: negative", fd)
			      : vdds__detail_setf(-EINVAL, "events: 0");
	return add(ws, VDDS_EVENT_FD, fd, NULL, fd, -1, events, user);
}

static void remove_at(vdds_waitset *ws, uint32_t i)
{
	struct vdds__member *m = ws->members[i];

	ws->ops->unwatch(ws, m);
	if (m->kind == VDDS_EVENT_SUB)
		vdds__sub_watched(m->handle, -1);
	unlink_membership(m);
	ws->members[i] = ws->members[--ws->n_members];
	free(m);
}

int vdds_waitset_remove(vdds_waitset *ws, int key)
{
	if (!ws || key < 0)
		return ws ? vdds__detail_setf(-EINVAL, "key %d: negative", key)
			  : vdds__detail_setf(-EINVAL, "ws: NULL");
	if (vdds__fork_foreign(&ws->fk))
		return -ECHILD;
	int i = find_key(ws, key);

	if (i < 0)
		return -ENOENT;
	remove_at(ws, (uint32_t)i);
	return 0;
}

void vdds__waitset_forget(struct vdds__member **list)
{
	while (*list) {
		struct vdds__member *m = *list;
		vdds_waitset *ws = m->ws;
		uint32_t i = 0;

		while (i < ws->n_members && ws->members[i] != m)
			i++;
		if (i < ws->n_members)
			remove_at(ws, i); /* takes m off the list */
		else
			*list = m->handle_next; /* cannot be: not in its waitset */
	}
}

void vdds__waitset_fired(vdds_waitset *ws, uint32_t id, int which, uint32_t revents)
{
	struct vdds__member *m = vdds__waitset_find_id(ws, id);

	if (!m)
		return; /* removed since */
	if (m->kind == VDDS_EVENT_SUB) {
		/* readiness of a subscriber is decided by its ring, below */
		if (which == WATCH_SOCK)
			vdds__sub_socket_event(m->handle);
		return;
	}
	m->revents |= revents;
}

/* Arm every subscriber; mark those that can be served now. 1 if any member
 * is to be reported now. */
static int prepare_subs(vdds_waitset *ws)
{
	int ready = 0;

	for (uint32_t i = 0; i < ws->n_members; i++) {
		struct vdds__member *m = ws->members[i];

		if (m->kind == VDDS_EVENT_SUB && vdds__sub_prepare(m->handle))
			m->revents |= POLLIN;
		if (m->kind == VDDS_EVENT_SUB)
			follow_sub_fds(ws, m);
	}
	/* what was reaped outside a wait (io_uring: a removal completes its
	 * cancellations, also here when following a subscriber's new fds) is
	 * reported without sleeping: a member's readiness, or a subscriber's
	 * hang-up, which only its prepare turns into readiness */
	for (uint32_t i = 0; i < ws->n_members; i++) {
		struct vdds__member *m = ws->members[i];

		if (ws->reaped && m->kind == VDDS_EVENT_SUB && !m->revents &&
		    vdds__sub_prepare(m->handle))
			m->revents |= POLLIN;
		ready |= m->revents != 0;
	}
	ws->reaped = 0;
	return ready;
}

/* Report up to max ready members, starting after the last one reported so
 * that busy members cannot starve the rest. What does not fit is dropped,
 * not kept: a subscriber's ring, epoll's level trigger and io_uring's re-armed
 * one-shot polls all say it again next time if it is still true. */
static int collect(vdds_waitset *ws, struct vdds_event *evs, int max)
{
	uint32_t count = ws->n_members, start = ws->cursor;
	int n = 0;

	for (uint32_t k = 0; k < count; k++) {
		uint32_t i = (start + k) % count;
		struct vdds__member *m = ws->members[i];

		if (!m->revents)
			continue;
		if (n < max) {
			evs[n++] = (struct vdds_event){
				.kind = m->kind, .fd = m->key, .events = m->revents, .user = m->user
			};
			ws->cursor = i + 1;
		}
		m->revents = 0;
	}
	return n;
}

/* Adaptive wait: before sleeping, look at every subscriber's ring for as
 * long as the most patient of them asks (spin_ns), round robin from where
 * the last report ended. Returns the index of a member whose ring has a
 * sample, or -1. */
static int spin_subs(vdds_waitset *ws)
{
	uint32_t spin_ns = 0, n = ws->n_members;

	for (uint32_t i = 0; i < n; i++)
		if (ws->members[i]->kind == VDDS_EVENT_SUB &&
		    vdds__sub_spin_ns(ws->members[i]->handle) > spin_ns)
			spin_ns = vdds__sub_spin_ns(ws->members[i]->handle);
	if (spin_ns == 0)
		return -1;
	uint64_t until = vdds__now_ns() + spin_ns;

	do {
		for (uint32_t k = 0; k < n; k++) {
			uint32_t i = (ws->cursor + k) % n;
			struct vdds__member *m = ws->members[i];

			if (m->kind == VDDS_EVENT_SUB && vdds__sub_spin_ns(m->handle) &&
			    vdds__sub_spin(m->handle))
				return (int)i;
		}
	} while (vdds__now_ns() < until);
	return -1;
}

/* A spin found a sample in member i: report it without entering the kernel,
 * which would cost more than the spin saved. Every SPIN_SKIPS_MAX-th such
 * wait still asks the kernel (with a zero timeout), so plain fds, publishers
 * and hang-ups are never starved by a dense stream. */
#define SPIN_SKIPS_MAX 8

static int spun_answer(vdds_waitset *ws, int i, struct vdds_event *evs)
{
	if (i < 0 || ++ws->spun >= SPIN_SKIPS_MAX) {
		ws->spun = 0;
		return 0;
	}
	struct vdds__member *m = ws->members[i];

	if (vdds__sub_prepare(m->handle) == 0)
		return 0; /* taken back (DROP_OLDEST) meanwhile: the slow path */
	evs[0] = (struct vdds_event){
		.kind = m->kind, .fd = m->key, .events = POLLIN, .user = m->user
	};
	ws->cursor = (uint32_t)i + 1;
	return 1;
}

int vdds_waitset_wait(vdds_waitset *ws, struct vdds_event *evs, int max, int timeout_ms)
{
	if (!ws || !evs || max <= 0)
		return !ws    ? vdds__detail_setf(-EINVAL, "ws: NULL")
		       : !evs ? vdds__detail_setf(-EINVAL, "events: NULL")
			      : vdds__detail_setf(-EINVAL, "max %d: at least 1", max);
	if (ws->fk.forked)
		return -ECHILD; /* a child's copy: set by the fork handler */
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;

	if (timeout_ms != 0 && spun_answer(ws, spin_subs(ws), evs))
		return 1;

	for (;;) {
		int ms = timeout_ms;

		if (timeout_ms > 0)
			ms = vdds__ms_left(deadline);
		if (prepare_subs(ws))
			ms = 0; /* still collect what else is ready, without blocking */
		int err = ws->ops->wait(ws, ms);

		if (err < 0 && err != -ETIMEDOUT && err != -EINTR)
			return err;
		/* a subscriber's set's edge may be stale or not yet seen: its
		 * ring decides */
		for (uint32_t i = 0; i < ws->n_members; i++) {
			struct vdds__member *m = ws->members[i];

			if (m->kind == VDDS_EVENT_SUB && !m->revents &&
			    vdds__sub_prepare(m->handle))
				m->revents |= POLLIN;
		}
		int n = collect(ws, evs, max);

		if (n > 0)
			return n;
		if (timeout_ms == 0 || (timeout_ms > 0 && vdds__ms_left(deadline) == 0))
			return -ETIMEDOUT;
	}
}
