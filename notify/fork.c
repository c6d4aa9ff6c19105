/* fork.c — the registry of open handles and the pthread_atfork handlers that
 * leave a child of fork() nothing of them (see fork.h for the rules). */
#include <pthread.h>
#include <unistd.h>

#include "fork.h"
#include "service.h"

/* The registered handles: with the service thread, the one global of vdds
 * (vdds.h); reg_mu guards the list, and is taken after svc_mu, never before. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vdds__forkable *handles;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	vdds__service_atfork_prepare();
	pthread_mutex_lock(&reg_mu);
	for (struct vdds__forkable *f = handles; f; f = f->next)
		if (f->ops->lock)
			f->ops->lock(f);
}

static void atfork_parent(void)
{
	for (struct vdds__forkable *f = handles; f; f = f->next)
		if (f->ops->unlock)
			f->ops->unlock(f);
	pthread_mutex_unlock(&reg_mu);
	vdds__service_atfork_parent();
}

/* The child: every handle is the parent's; none stays registered. */
static void atfork_child(void)
{
	for (struct vdds__forkable *f = handles, *next; f; f = next) {
		next = f->next;
		f->forked = 1;
		f->prev = f->next = NULL;
		f->ops->child(f);
	}
	handles = NULL;
	pthread_mutex_unlock(&reg_mu);
	vdds__service_atfork_child();
}

static void install(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void vdds__fork_init(void)
{
	pthread_once(&fork_once, install);
}

void vdds__fork_add(struct vdds__forkable *f, const struct vdds__fork_ops *ops)
{
	vdds__fork_init();
	f->ops = ops;
	f->pid = getpid();
	f->forked = 0;
	f->prev = NULL;
	pthread_mutex_lock(&reg_mu);
	f->next = handles;
	if (handles)
		handles->prev = f;
	handles = f;
	pthread_mutex_unlock(&reg_mu);
}

void vdds__fork_remove(struct vdds__forkable *f)
{
	if (!f->ops)
		return; /* never added */
	pthread_mutex_lock(&reg_mu);
	if (f->prev)
		f->prev->next = f->next;
	else if (handles == f)
		handles = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	pthread_mutex_unlock(&reg_mu);
	f->ops = NULL;
}

int vdds__fork_foreign(const struct vdds__forkable *f)
{
	return f->forked || (f->ops && f->pid != getpid());
}
