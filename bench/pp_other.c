/* pp_other.c — the remaining ping-pong baselines: io_uring multishot poll on
 * an eventfd, a spin on shared memory (the floor), POSIX named semaphores. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <semaphore.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "pingpong.h"

/* ------------------------------------------------ io_uring multishot poll */

/* Each side's ring polls its eventfd with one multishot poll, never read:
 * one completion per write. The ring is made in the side's own process,
 * SINGLE_ISSUER + DEFER_TASKRUN where the kernel has them (6.1+). */
struct uring_side {
	struct io_uring ring;
	int tx, rx;
	int armed;
};

static int uring_open(struct pp_side *s)
{
	struct io_uring_params p;
	struct uring_side *u = calloc(1, sizeof(*u));
	int *fd = ((struct pp_fds *)s->shared)->fd;
	int err;

	if (u == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		return -1;
	}
	u->tx = fd[s->is_a ? 0 : 1];
	u->rx = fd[s->is_a ? 1 : 0];
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	err = io_uring_queue_init_params(8, &u->ring, &p);
	if (err == -EINVAL) {
		fprintf(stderr, "pingpong: io_uring without SINGLE_ISSUER|DEFER_TASKRUN"
				" (kernel before 6.1)\n");
		memset(&p, 0, sizeof(p));
		err = io_uring_queue_init_params(8, &u->ring, &p);
	}
	if (err < 0) {
		fprintf(stderr, "pingpong: io_uring_queue_init: %s\n", strerror(-err));
		free(u);
		return -1;
	}
	s->st = u;
	return 0;
}

static int uring_send(struct pp_side *s, uint64_t i)
{
	(void)i;
	return pp_write8(((struct uring_side *)s->st)->tx, 1, "eventfd write");
}

static int uring_recv(struct pp_side *s, uint64_t i)
{
	struct uring_side *u = s->st;
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int got = 0, err;

	(void)i;
	while (!got) {
		if (!u->armed) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

			if (sqe == NULL) {
				fprintf(stderr, "pingpong: io_uring: no SQE\n");
				return -1;
			}
			io_uring_prep_poll_multishot(sqe, u->rx, POLLIN);
			io_uring_sqe_set_data64(sqe, 1);
			u->armed = 1;
		}
		err = io_uring_submit_and_wait(&u->ring, 1);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "pingpong: io_uring_submit_and_wait: %s\n", strerror(-err));
			return -1;
		}
		seen = 0;
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			seen++;
			if (cqe->res < 0) {
				fprintf(stderr, "pingpong: io_uring poll: %s\n",
					strerror(-cqe->res));
				return -1;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				u->armed = 0; /* the multishot ended: re-arm */
			if (cqe->res & POLLIN)
				got = 1;
		}
		io_uring_cq_advance(&u->ring, seen);
	}
	return 0;
}

static void uring_close(struct pp_side *s)
{
	struct uring_side *u = s->st;

	if (u == NULL)
		return;
	io_uring_queue_exit(&u->ring);
	free(u);
	s->st = NULL;
}

const struct pp_mech pp_uring_poll = {
	.name = "uring-poll",
	.open = uring_open,
	.send = uring_send,
	.recv = uring_recv,
	.close = uring_close,
	.prepare = pp_efd_prepare,
	.release = pp_fds_release,
};

/* ---------------------------------------------------- shared-memory spin */

struct spin_shm {
	alignas(64) _Atomic uint64_t ping; /* A -> B: message number + 1 */
	alignas(64) _Atomic uint64_t pong; /* B -> A */
};

static int spin_prepare(void **shared, const char *prefix)
{
	void *m = mmap(NULL, sizeof(struct spin_shm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	(void)prefix;
	if (m == MAP_FAILED)
		return pp_fail("mmap");
	*shared = m; /* zero-filled */
	return 0;
}

static void spin_release(void *shared)
{
	if (munmap(shared, sizeof(struct spin_shm)) < 0)
		perror("pingpong: munmap");
}

static int spin_open(struct pp_side *s)
{
	(void)s;
	return 0;
}

static _Atomic uint64_t *spin_word(struct pp_side *s, int tx)
{
	struct spin_shm *m = s->shared;

	return (s->is_a == tx) ? &m->ping : &m->pong;
}

static int spin_send(struct pp_side *s, uint64_t i)
{
	/* release: nothing else to order; the value is the message */
	atomic_store_explicit(spin_word(s, 1), i + 1, memory_order_release);
	return 0;
}

static int spin_recv(struct pp_side *s, uint64_t i)
{
	_Atomic uint64_t *w = spin_word(s, 0);

	/* acquire: pairs with spin_send's release */
	while (atomic_load_explicit(w, memory_order_acquire) != i + 1)
		;
	return 0;
}

static void spin_close(struct pp_side *s)
{
	(void)s;
}

const struct pp_mech pp_spin = {
	.name = "spin",
	.flags = PP_CROSS_ONLY,
	.prepare = spin_prepare,
	.open = spin_open,
	.send = spin_send,
	.recv = spin_recv,
	.close = spin_close,
	.release = spin_release,
};

/* ------------------------------------------------ POSIX named semaphores */

struct sem_pair {
	sem_t *ping, *pong;
};

static int sem_prepare(void **shared, const char *prefix)
{
	struct sem_pair *p = calloc(1, sizeof(*p));
	char ping[64], pong[64];

	if (p == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		return -1;
	}
	*shared = p;
	snprintf(ping, sizeof(ping), "/%s-ping", prefix);
	snprintf(pong, sizeof(pong), "/%s-pong", prefix);
	p->ping = sem_open(ping, O_CREAT | O_EXCL, 0600, 0);
	if (p->ping == SEM_FAILED)
		return pp_fail("sem_open ping");
	p->pong = sem_open(pong, O_CREAT | O_EXCL, 0600, 0);
	if (p->pong == SEM_FAILED)
		return pp_fail("sem_open pong");
	/* The mappings stay shared across fork; the names can go now, so that
	 * a killed run leaves nothing in /dev/shm. */
	if (sem_unlink(ping) < 0 || sem_unlink(pong) < 0)
		return pp_fail("sem_unlink");
	return 0;
}

static void sem_release(void *shared)
{
	struct sem_pair *p = shared;

	if (p->ping != NULL && p->ping != SEM_FAILED && sem_close(p->ping) < 0)
		perror("pingpong: sem_close");
	if (p->pong != NULL && p->pong != SEM_FAILED && sem_close(p->pong) < 0)
		perror("pingpong: sem_close");
	free(p);
}

static int sem_side_open(struct pp_side *s)
{
	(void)s;
	return 0;
}

static int sem_send(struct pp_side *s, uint64_t i)
{
	struct sem_pair *p = s->shared;

	(void)i;
	if (sem_post(s->is_a ? p->ping : p->pong) < 0)
		return pp_fail("sem_post");
	return 0;
}

static int sem_recv(struct pp_side *s, uint64_t i)
{
	struct sem_pair *p = s->shared;
	sem_t *rx = s->is_a ? p->pong : p->ping;

	(void)i;
	while (sem_wait(rx) < 0) {
		if (errno != EINTR)
			return pp_fail("sem_wait");
	}
	return 0;
}

const struct pp_mech pp_sem = {
	.name = "sem",
	.prepare = sem_prepare,
	.open = sem_side_open,
	.send = sem_send,
	.recv = sem_recv,
	.close = spin_close,
	.release = sem_release,
};
