/* service.c — the service thread. One per process, doing the control work of
 * every publisher that did not ask for no_service_thread, from one epoll set
 * and one eventfd for them all (see service.h). Its state is the only global
 * in vdds; svc_mu guards it, and each watch's callback runs with svc_mu held,
 * which is what lets a publisher's close promise that the thread is done
 * with it once it has removed its watches under svc_mu. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "fork.h"
#include "kick.h"
#include "service.h"

#define MAX_EVENTS 64

/* One watched fd. Slots are reused; gen tells an old id from a new one. */
struct watch {
	vdds__service_fn *fn;
	void *arg;
	int fd;            /* -1: the slot is free */
	uint32_t gen;      /* bumped when the slot is freed */
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
	uint32_t next_free;
};

/* One running thread. When the last publisher leaves, the thread is told to
 * stop and frees its own context; a new one is made for the next publisher. */
struct service {
	pthread_t thread;
	int epfd;
	int wake_efd; /* stop, pokes, a deadline set from outside the thread */
	int stop;
	uint32_t users; /* publishers joined */
	struct watch *w;
	uint32_t n, cap;
	uint32_t free_head; /* index + 1 of a free slot; 0: none */
	uint32_t n_timed;   /* watches with a deadline */
};

/* Lock order: svc_mu, then a publisher's p->mu; poke_mu is a leaf, held for
 * a few stores only, so the data path can take it. */
static pthread_mutex_t svc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct service *svc; /* the running service, or NULL */
static pthread_mutex_t poke_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vdds__svc_poke *pokes; /* queued, under poke_mu */
static int poke_efd = -1;            /* svc->wake_efd, under poke_mu */
/* in a child of fork(): the parent's service, kept where a leak checker sees
 * it (the thread that held it does not exist here) */
static struct service *orphaned;

/* fork.c's handlers call these, first (prepare) and last (parent, child),
 * so that every handle's lock is taken after svc_mu, as everywhere. */
void vdds__service_atfork_prepare(void)
{
	pthread_mutex_lock(&svc_mu);
	pthread_mutex_lock(&poke_mu);
}

void vdds__service_atfork_parent(void)
{
	pthread_mutex_unlock(&poke_mu);
	pthread_mutex_unlock(&svc_mu);
}

/* the thread does not exist in a child; the parent's publishers are marked
 * forked there (fork.c) and never use it, so the child starts with no
 * service (its memory is leaked, and its epoll set and eventfd closed, so
 * that they keep nothing of the parent's open) */
void vdds__service_atfork_child(void)
{
	if (svc) {
		close(svc->epfd);
		close(svc->wake_efd);
		orphaned = svc;
	}
	svc = NULL;
	pokes = NULL;
	poke_efd = -1;
	pthread_mutex_unlock(&poke_mu);
	pthread_mutex_unlock(&svc_mu);
}

static vdds__svc_id id_of(const struct service *s, uint32_t i)
{
	return (uint64_t)s->w[i].gen << 32 | (i + 1);
}

/* The live watch an id names, or NULL. */
static struct watch *find(struct service *s, vdds__svc_id id)
{
	uint32_t i = (uint32_t)id - 1;

	if (!s || (uint32_t)id == 0 || i >= s->n || s->w[i].fd < 0 ||
	    s->w[i].gen != (uint32_t)(id >> 32))
		return NULL;
	return &s->w[i];
}

/* Call an id's callback if it still names a watch. The callback may add or
 * remove watches (the table may move): nothing of it is used afterwards. */
static void call(struct service *s, vdds__svc_id id, uint32_t events)
{
	struct watch *w = find(s, id);

	if (w)
		w->fn(w->arg, events);
}

static void run_pokes(struct service *s)
{
	for (;;) {
		pthread_mutex_lock(&poke_mu);
		struct vdds__svc_poke *pk = pokes;
		vdds__svc_id id = 0;

		if (pk) {
			pokes = pk->next;
			pk->queued = 0;
			id = pk->id;
		}
		pthread_mutex_unlock(&poke_mu);
		if (!pk)
			return;
		/* pk's owner is alive: it unpokes under svc_mu, which we hold */
		call(s, id, VDDS__SVC_POKED);
	}
}

static void run_deadlines(struct service *s)
{
	uint64_t now = vdds__now_ns();

	for (uint32_t i = 0; i < s->n && s->n_timed; i++) {
		if (s->w[i].fd < 0 || !s->w[i].deadline || s->w[i].deadline > now)
			continue;
		s->w[i].deadline = 0;
		s->n_timed--;
		call(s, id_of(s, i), VDDS__SVC_DEADLINE);
	}
}

/* epoll_wait's timeout: until the nearest deadline, rounded up. */
static int next_timeout(const struct service *s)
{
	uint64_t next = UINT64_MAX;

	if (!s->n_timed)
		return -1;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->w[i].fd >= 0 && s->w[i].deadline && s->w[i].deadline < next)
			next = s->w[i].deadline;
	return next == UINT64_MAX ? -1 : vdds__ms_left(next);
}

static void *service_main(void *arg)
{
	struct service *s = arg;
	struct epoll_event evs[MAX_EVENTS];
	int timeout = -1;

	for (;;) {
		int n = epoll_wait(s->epfd, evs, MAX_EVENTS, timeout);
		int woken = 0;

		pthread_mutex_lock(&svc_mu);
		if (s->stop) {
			pthread_mutex_unlock(&svc_mu);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == 0) {
				uint64_t count;

				if (read(s->wake_efd, &count, sizeof(count)) < 0) {
					/* EAGAIN: read by an earlier round */
				}
				woken = 1;
				continue;
			}
			/* fetched before its watch was removed: find() drops it */
			call(s, evs[i].data.u64, evs[i].events);
		}
		if (woken)
			run_pokes(s);
		run_deadlines(s);
		timeout = next_timeout(s);
		pthread_mutex_unlock(&svc_mu);
	}
	close(s->epfd);
	close(s->wake_efd);
	free(s->w);
	free(s);
	return NULL;
}

static int service_start(struct service **out)
{
	struct service *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return err;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

	if (s->epfd < 0 || s->wake_efd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_efd, &ev) < 0) {
		err = -errno;
		goto err_free;
	}
	/* the thread takes no signals: they belong to the application's threads */
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&s->thread, NULL, service_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		*out = s;
		return 0;
	}
err_free:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wake_efd >= 0)
		close(s->wake_efd);
	free(s);
	return err;
}

int vdds__service_join(void)
{
	int err = 0;

	vdds__fork_init();
	pthread_mutex_lock(&svc_mu);
	if (!svc) {
		struct service *s = NULL;

		err = service_start(&s);
		if (s) {
			svc = s;
			pthread_mutex_lock(&poke_mu);
			poke_efd = s->wake_efd;
			pthread_mutex_unlock(&poke_mu);
		}
	}
	if (svc)
		svc->users++;
	pthread_mutex_unlock(&svc_mu);
	return err;
}

void vdds__service_leave(void)
{
	pthread_t join = 0;
	int must_join = 0;

	pthread_mutex_lock(&svc_mu);
	if (svc && --svc->users == 0) {
		svc->stop = 1;
		join = svc->thread;
		must_join = 1;
		vdds__kick(svc->wake_efd);
		pthread_mutex_lock(&poke_mu);
		poke_efd = -1;
		pthread_mutex_unlock(&poke_mu);
		svc = NULL;
	}
	pthread_mutex_unlock(&svc_mu);
	if (must_join && !pthread_equal(join, pthread_self()))
		pthread_join(join, NULL);
}

void vdds__service_lock(void)
{
	pthread_mutex_lock(&svc_mu);
}

void vdds__service_unlock(void)
{
	pthread_mutex_unlock(&svc_mu);
}

/* A free slot's index, growing the table if needed; -1 if out of memory. */
static int64_t take_slot(struct service *s)
{
	if (s->free_head) {
		uint32_t i = s->free_head - 1;

		s->free_head = s->w[i].next_free;
		return i;
	}
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 64;
		struct watch *w = realloc(s->w, cap * sizeof(*w));

		if (!w)
			return -1;
		s->w = w;
		s->cap = cap;
	}
	s->w[s->n].gen = 1;
	return s->n++;
}

static void give_slot(struct service *s, uint32_t i)
{
	if (s->w[i].deadline)
		s->n_timed--;
	s->w[i].fd = -1;
	s->w[i].deadline = 0;
	s->w[i].gen++;
	s->w[i].next_free = s->free_head;
	s->free_head = i + 1;
}

int vdds__service_add_locked(int fd, uint32_t events, vdds__service_fn *fn, void *arg,
			     vdds__svc_id *id)
{
	struct service *s = svc;
	int64_t i = s ? take_slot(s) : -1;

	if (i < 0)
		return s ? -ENOMEM : -EINVAL;
	s->w[i] = (struct watch){ .fn = fn, .arg = arg, .fd = fd, .gen = s->w[i].gen };
	*id = id_of(s, (uint32_t)i);
	struct epoll_event ev = { .events = events, .data.u64 = *id };

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		give_slot(s, (uint32_t)i);
		*id = 0;
		return err;
	}
	return 0;
}

void vdds__service_modify_locked(vdds__svc_id id, uint32_t events)
{
	struct watch *w = find(svc, id);
	struct epoll_event ev = { .events = events, .data.u64 = id };

	if (w)
		epoll_ctl(svc->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void vdds__service_remove_locked(vdds__svc_id id)
{
	struct watch *w = find(svc, id);

	if (!w)
		return;
	epoll_ctl(svc->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	give_slot(svc, (uint32_t)(w - svc->w));
}

void vdds__service_set_deadline_locked(vdds__svc_id id, uint64_t deadline_ns)
{
	struct watch *w = find(svc, id);

	if (!w)
		return;
	if (deadline_ns && !w->deadline)
		svc->n_timed++;
	else if (!deadline_ns && w->deadline)
		svc->n_timed--;
	w->deadline = deadline_ns;
	/* the thread computes its timeout before it sleeps: from elsewhere,
	 * make it compute again */
	if (deadline_ns && !pthread_equal(svc->thread, pthread_self()))
		vdds__kick(svc->wake_efd);
}

void vdds__service_poke(struct vdds__svc_poke *pk)
{
	int efd = -1;

	pthread_mutex_lock(&poke_mu);
	if (!pk->queued) {
		pk->queued = 1;
		pk->next = pokes;
		pokes = pk;
		efd = poke_efd;
	}
	pthread_mutex_unlock(&poke_mu);
	/* our publisher is joined, so the service (and its eventfd) lives */
	if (efd >= 0)
		vdds__kick(efd);
}

void vdds__service_unpoke_locked(struct vdds__svc_poke *pk)
{
	pthread_mutex_lock(&poke_mu);
	for (struct vdds__svc_poke **pp = &pokes; *pp; pp = &(*pp)->next) {
		if (*pp == pk) {
			*pp = pk->next;
			break;
		}
	}
	pk->queued = 0;
	pthread_mutex_unlock(&poke_mu);
}
