/* fdlimit.h — the words for running out of file descriptors: an open that
 * fails with -EMFILE (or -ENFILE) says in vdds_last_error_detail() which
 * limit it met and what each topic costs, as its errno alone cannot. */
#ifndef VDDS_FDLIMIT_H
#define VDDS_FDLIMIT_H

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "errors.h"
#include "vdds.h"

/* File descriptors each handle holds (the README's Design section says
 * which): a publisher with the service thread, one serving itself
 * (no_service_thread: its own epoll set and timer too), a subscription. The
 * publisher's process also holds two per connected subscriber (its socket
 * and the lane's data eventfd), and the service thread two in all. */
#define VDDS__FDS_PER_PUB 3
#define VDDS__FDS_PER_SELF_SERVED_PUB 5
#define VDDS__FDS_PER_SUB 2

/* If err says the fds ran out, leave the reason for vdds_last_error_detail();
 * `each` names the handle ("published topic", "subscription"). A reason the
 * publisher gave ("publisher out of file descriptors": its fds, not ours)
 * is kept. Returns err. */
static inline int vdds__fd_limit_detail(int err, const char *each, int needs)
{
	char why[128];
	struct rlimit rl;

	if (vdds_last_error_detail()[0])
		return err;
	if (err == -EMFILE && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		snprintf(why, sizeof(why),
			 "out of file descriptors: this process's RLIMIT_NOFILE is %llu, each %s "
			 "needs %d",
			 (unsigned long long)rl.rlim_cur, each, needs);
		vdds__detail_set(why);
	} else if (err == -ENFILE) {
		snprintf(why, sizeof(why),
			 "out of file descriptors system-wide (fs.file-max), each %s needs %d",
			 each, needs);
		vdds__detail_set(why);
	}
	return err;
}

#endif
