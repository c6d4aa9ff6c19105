/* service.c — the service thread. One per process, serving the control fd of
 * every publisher that did not ask for no_service_thread. Its state is the
 * only global in vdds; a mutex guards it, and each member's control work runs
 * with that mutex held, which is what lets vdds__service_remove() promise
 * that the thread is done with it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kick.h"
#include "service.h"

struct member {
	int fd;
	vdds__service_fn *fn;
	void *arg;
	struct member *next;
};

/* One running thread. When the last publisher leaves, the thread is told to
 * stop and frees its own context; a new one is made for the next publisher. */
struct service {
	pthread_t thread;
	int epfd;
	int wake_efd;
	int stop;
	struct member *members;
};

/* Lock order: svc_mu first. Members' control work runs under it and takes
 * its own locks (a publisher's p->mu); nothing holding such a lock may call
 * into this file. */
static pthread_mutex_t svc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct service *svc; /* the running service, or NULL */
static pthread_once_t svc_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	pthread_mutex_lock(&svc_mu);
}
static void atfork_parent(void)
{
	pthread_mutex_unlock(&svc_mu);
}
/* the thread does not exist in a child; the parent's publishers must not be
 * used there, so the child starts with no service (its memory is leaked) */
static void atfork_child(void)
{
	svc = NULL;
	pthread_mutex_unlock(&svc_mu);
}

static void install_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static int is_member(const struct service *s, const struct member *which)
{
	for (const struct member *m = s->members; m; m = m->next)
		if (m == which)
			return 1;
	return 0;
}

static void *service_main(void *arg)
{
	struct service *s = arg;
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(s->epfd, evs, 16, -1);

		pthread_mutex_lock(&svc_mu);
		if (s->stop) {
			pthread_mutex_unlock(&svc_mu);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct member *m = evs[i].data.ptr;

			/* an event fetched before a member left may name it */
			if (m && is_member(s, m))
				m->fn(m->arg);
		}
		pthread_mutex_unlock(&svc_mu);
	}
	close(s->epfd);
	close(s->wake_efd);
	free(s);
	return NULL;
}

static struct service *service_start(void)
{
	struct service *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (s->epfd < 0 || s->wake_efd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_efd, &ev) < 0)
		goto err_free;
	/* the thread takes no signals: they belong to the application's threads */
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&s->thread, NULL, service_main, s);

	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0)
		return s;
err_free:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wake_efd >= 0)
		close(s->wake_efd);
	free(s);
	return NULL;
}

int vdds__service_add(int fd, vdds__service_fn *fn, void *arg)
{
	struct member *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_once(&svc_once, install_atfork);
	pthread_mutex_lock(&svc_mu);
	if (!svc)
		svc = service_start();
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = m };

	if (!svc || epoll_ctl(svc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = svc ? -errno : -EAGAIN;

		pthread_mutex_unlock(&svc_mu);
		free(m);
		return err;
	}
	m->fd = fd;
	m->fn = fn;
	m->arg = arg;
	m->next = svc->members;
	svc->members = m;
	pthread_mutex_unlock(&svc_mu);
	return 0;
}

void vdds__service_remove(int fd)
{
	pthread_t join = 0;
	int must_join = 0;
	struct member **pm;

	pthread_mutex_lock(&svc_mu);
	for (pm = svc ? &svc->members : NULL; pm && *pm; pm = &(*pm)->next)
		if ((*pm)->fd == fd)
			break;
	if (!pm || !*pm) {
		pthread_mutex_unlock(&svc_mu);
		return;
	}
	struct member *m = *pm;

	epoll_ctl(svc->epfd, EPOLL_CTL_DEL, fd, NULL);
	*pm = m->next;
	free(m);
	if (!svc->members) {
		svc->stop = 1;
		join = svc->thread;
		must_join = 1;
		vdds__kick(svc->wake_efd);
		svc = NULL;
	}
	pthread_mutex_unlock(&svc_mu);
	if (must_join && !pthread_equal(join, pthread_self()))
		pthread_join(join, NULL);
}
