/* service.c — the service thread. One per process, serving every publisher
 * that did not ask for no_service_thread. Its state is the only global in
 * vdds; a mutex guards it, and control work for a publisher runs with that
 * mutex held, which is what lets vdds__service_remove() promise that the
 * thread is done with a publisher. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "service.h"

struct member {
	struct vdds_pub *pub;
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

static int is_member(const struct service *s, const struct vdds_pub *pub)
{
	for (const struct member *m = s->members; m; m = m->next)
		if (m->pub == pub)
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
			struct vdds_pub *pub = evs[i].data.ptr;

			/* an event fetched before a publisher left may name it */
			if (pub && is_member(s, pub))
				vdds__pub_control(pub);
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

int vdds__service_add(struct vdds_pub *pub, int fd)
{
	struct member *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_once(&svc_once, install_atfork);
	pthread_mutex_lock(&svc_mu);
	if (!svc)
		svc = service_start();
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = pub };

	if (!svc || epoll_ctl(svc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = svc ? -errno : -EAGAIN;

		pthread_mutex_unlock(&svc_mu);
		free(m);
		return err;
	}
	m->pub = pub;
	m->next = svc->members;
	svc->members = m;
	pthread_mutex_unlock(&svc_mu);
	return 0;
}

void vdds__service_remove(struct vdds_pub *pub, int fd)
{
	pthread_t join = 0;
	int must_join = 0;

	pthread_mutex_lock(&svc_mu);
	if (!svc || !is_member(svc, pub)) {
		pthread_mutex_unlock(&svc_mu);
		return;
	}
	epoll_ctl(svc->epfd, EPOLL_CTL_DEL, fd, NULL);
	for (struct member **pm = &svc->members; *pm; pm = &(*pm)->next) {
		if ((*pm)->pub == pub) {
			struct member *m = *pm;

			*pm = m->next;
			free(m);
			break;
		}
	}
	if (!svc->members) {
		uint64_t one = 1;

		svc->stop = 1;
		join = svc->thread;
		must_join = 1;
		if (write(svc->wake_efd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd; the thread also
			 * checks stop after any other wakeup */
		}
		svc = NULL;
	}
	pthread_mutex_unlock(&svc_mu);
	if (must_join && !pthread_equal(join, pthread_self()))
		pthread_join(join, NULL);
}
