/* kick.h — wake whoever sleeps on an eventfd: the one way vdds writes one. */
#ifndef VDDS_KICK_H
#define VDDS_KICK_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* syscall(), not write(): no cancellation-point bookkeeping on the hot path.
 * The only failure of a valid eventfd is EAGAIN, when its counter is
 * saturated, so a wakeup is pending anyway. */
static inline void vdds__kick(int efd)
{
	uint64_t one = 1;

	syscall(SYS_write, efd, &one, sizeof(one));
}

#endif
