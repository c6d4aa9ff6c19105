/* service.h — the one background thread per process that serves publishers'
 * control fds (accepting subscribers, noticing hang-ups). It is the only
 * global mutable state in vdds: started with the first registered publisher,
 * stopped and joined with the last. */
#ifndef VDDS_SERVICE_H
#define VDDS_SERVICE_H

struct vdds_pub;

/* Have the service thread call vdds__pub_control(pub) whenever fd (the
 * publisher's control epoll fd) is readable. Returns 0 or -errno. */
int vdds__service_add(struct vdds_pub *pub, int fd);

/* Stop serving pub; on return the thread is not inside vdds__pub_control(pub)
 * and never will be again. */
void vdds__service_remove(struct vdds_pub *pub, int fd);

/* Implemented by pub.c: do pending control work without blocking. */
void vdds__pub_control(struct vdds_pub *pub);

#endif
