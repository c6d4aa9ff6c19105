/* service.h — the one background thread per process that serves control
 * fds (publishers accepting subscribers, noticing hang-ups). It is the only
 * global mutable state in vdds: started with the first registered fd,
 * stopped and joined with the last. */
#ifndef VDDS_SERVICE_H
#define VDDS_SERVICE_H

/* Control work for one registered fd: must not block. */
typedef void vdds__service_fn(void *arg);

/* Have the service thread call fn(arg) whenever fd is readable. fn runs with
 * the service's lock held (see the lock order in service.c), so it must not
 * call vdds__service_add or vdds__service_remove. Returns 0 or -errno. */
int vdds__service_add(int fd, vdds__service_fn *fn, void *arg);

/* Stop serving fd; on return the thread is not inside its fn and never will
 * be again. */
void vdds__service_remove(int fd);

#endif
