/* pub_serve.c — how a publisher's control side is served: as callbacks of
 * the service thread's watches (one for the listening socket, which also
 * carries the silent-client sweep's deadline and the data path's pokes, one
 * per connection), or, with no_service_thread, from the publisher's own epoll
 * set (vdds_pub_fd) and a timerfd that both ticks for the sweep and is how the
 * data path asks for control work. What is done is pub_ctl.c's. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "pub_internal.h"
#include "service.h"

#define HELLO_SWEEP_MS 250 /* how often silent clients are looked for */
#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP)

/* ----------------------------------------------- watching, both ways */

static void on_conn(void *arg, uint32_t events)
{
	struct vdds__conn *c = arg;

	(void)events;
	vdds__pub_serve_conn(c->pub, c);
}

int vdds__pub_watch_conn(struct vdds_pub *p, struct vdds__conn *c)
{
	struct epoll_event ev = { .events = CONN_EVENTS, .data.ptr = c };

	if (p->threaded)
		return vdds__service_add_locked(c->fd, CONN_EVENTS, on_conn, c, &c->watch);
	return epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

void vdds__pub_unwatch_conn(struct vdds_pub *p, struct vdds__conn *c)
{
	if (p->threaded)
		vdds__service_remove_locked(c->watch);
	else
		epoll_ctl(p->ctl_epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

/* Listen (on) or not: accept4 ran out of fds, and the listening socket would
 * stay readable (level-triggered) and spin us until it has some again. */
void vdds__pub_listen_on(struct vdds_pub *p, int on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = NULL };

	if (p->threaded)
		vdds__service_modify_locked(p->listen_watch, ev.events);
	else
		epoll_ctl(p->ctl_epfd, EPOLL_CTL_MOD, p->listen_fd, &ev);
}

/* The sweep for silent clients (and a paused accept) runs every
 * HELLO_SWEEP_MS while there is something to sweep: a deadline of the
 * service thread's, re-set by each sweep, or our own periodic timerfd. */
static void set_tick(struct vdds_pub *p, int on)
{
	long ns = on ? HELLO_SWEEP_MS * 1000000l : 0;
	struct itimerspec its = { .it_interval = { 0, ns }, .it_value = { 0, ns } };

	if (on == p->tick_on)
		return;
	p->tick_on = on;
	if (p->threaded)
		vdds__service_set_deadline_locked(p->listen_watch,
						  on ? vdds__now_ns() + (uint64_t)ns : 0);
	else
		timerfd_settime(p->timer_fd, 0, &its, NULL);
}

void vdds__pub_update_tick(struct vdds_pub *p)
{
	set_tick(p, p->handshakes > 0 || p->accept_paused);
}

/* ------------------------------------------ with the service thread */

/* The listening socket's watch: connections, the sweep's deadline, and the
 * data path's pokes (lanes to cut off). */
static void on_listen(void *arg, uint32_t events)
{
	struct vdds_pub *p = arg;

	if (events & VDDS__SVC_DEADLINE) {
		p->tick_on = 0; /* a deadline fires once */
		vdds__pub_sweep(p);
	}
	if (events & VDDS__SVC_POKED)
		vdds__pub_serve_cut_offs(p);
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		vdds__pub_accept(p);
	vdds__pub_update_tick(p);
}

/* ------------------------------------------------- serving itself */

/* The timerfd: the sweep's tick, or the data path asking (it fires it at
 * once, which ends the tick: update_tick starts it again). */
static void on_timer(struct vdds_pub *p)
{
	uint64_t ticks;

	if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: nothing to read; the sweep is harmless anyway */
	}
	vdds__pub_sweep(p);
	vdds__pub_serve_cut_offs(p);
	vdds__pub_update_tick(p);
}

void vdds__pub_control(struct vdds_pub *p)
{
	struct epoll_event evs[32];
	int n = epoll_wait(p->ctl_epfd, evs, 32, 0);
	int timer = 0, listen = 0;

	/* connections first: the sweep and accepting (which serves ready
	 * handshakes before it refuses a peer) may free a connection whose
	 * event is still in evs */
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &p->timer_fd)
			timer = 1;
		else if (!evs[i].data.ptr)
			listen = 1;
		else
			vdds__pub_serve_conn(p, evs[i].data.ptr);
	}
	if (timer)
		on_timer(p);
	if (listen)
		vdds__pub_accept(p);
}

void vdds__pub_ask_control(struct vdds_pub *p)
{
	struct itimerspec now = { .it_value = { 0, 1 } };

	if (p->threaded) {
		vdds__service_poke(&p->poke);
	} else {
		/* the data path and the control side share this thread */
		p->tick_on = 0;
		timerfd_settime(p->timer_fd, 0, &now, NULL);
	}
}

/* -------------------------------------------------- start and stop */

/* Our own epoll set for vdds_pub_fd(): the listening socket and the timerfd;
 * later, each subscriber's socket. */
static int make_own_control(struct vdds_pub *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event tick = { .events = EPOLLIN, .data.ptr = &p->timer_fd };

	p->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->ctl_epfd < 0)
		return -errno;
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->timer_fd < 0 || epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, p->listen_fd, &ev) < 0 ||
	    epoll_ctl(p->ctl_epfd, EPOLL_CTL_ADD, p->timer_fd, &tick) < 0)
		return -errno;
	return 0;
}

int vdds__pub_serve_start(struct vdds_pub *p)
{
	int err;

	if (!p->threaded)
		return make_own_control(p);
	if ((err = vdds__service_join()) < 0)
		return err;
	vdds__service_lock();
	err = vdds__service_add_locked(p->listen_fd, EPOLLIN, on_listen, p, &p->listen_watch);
	p->poke.id = p->listen_watch;
	vdds__service_unlock();
	if (err < 0)
		vdds__service_leave();
	return err;
}

void vdds__pub_serve_stop(struct vdds_pub *p)
{
	if (!p->threaded) {
		if (p->ctl_epfd >= 0)
			close(p->ctl_epfd);
		if (p->timer_fd >= 0)
			close(p->timer_fd);
		p->ctl_epfd = p->timer_fd = -1;
		return;
	}
	if (!p->listen_watch)
		return; /* never joined */
	/* under svc_mu: the thread is in none of our callbacks, and once our
	 * watches are gone it never will be */
	vdds__service_lock();
	for (struct vdds__conn *c = p->conns; c; c = c->next)
		vdds__service_remove_locked(c->watch);
	vdds__service_remove_locked(p->listen_watch);
	vdds__service_unpoke_locked(&p->poke);
	vdds__service_unlock();
	p->listen_watch = 0;
	vdds__service_leave();
}
