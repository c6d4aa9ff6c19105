/* sub_link.c — a subscriber's handshake with a publisher: connect, HELLO,
 * WELCOME with three descriptors, and checking every one of them (kind, size,
 * seals, header contents) before anything is read through them. The
 * handshake is a state machine that never blocks (a "dial"); opening drives
 * it with a deadline, reconnecting from the subscriber's fd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "proto.h"
#include "rundir.h"
#include "segment.h"
#include "sub_link.h"

#define WELCOME_WAIT_MS 5000 /* how long a subscriber waits for the answer to its HELLO */

static int is_eventfd(int fd)
{
	char path[64], target[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

int vdds__sub_target_dir(const struct vdds__sub_target *t, char *dir, size_t cap)
{
	int err = vdds__rundir(dir, cap, 0, t->publisher_uid);

	return err < 0 && err != -EACCES && err != -ENAMETOOLONG ? -ENOENT : err;
}

/* The WELCOME came without its descriptors (MSG_CTRUNC): was that because
 * this process has no room for them? The kernel installs what fits and
 * drops the rest, and what was installed is closed by now, so look for room
 * for all of them. */
static int out_of_fds(int sock)
{
	int probe[VDDS__WELCOME_FDS], n = 0, err = 0;

	while (n < VDDS__WELCOME_FDS && (probe[n] = fcntl(sock, F_DUPFD_CLOEXEC, 0)) >= 0)
		n++;
	if (n < VDDS__WELCOME_FDS)
		err = errno == EMFILE || errno == ENFILE ? -errno : 0;
	while (n > 0)
		close(probe[--n]);
	return err;
}

/* Read the answer to our HELLO, without waiting: -EAGAIN if it has not
 * come. On WELCOME take the three descriptors; a refusal's reason is kept
 * for vdds_last_error_detail(). */
static int read_welcome(int sock, struct vdds__msg_welcome *w, int fds[])
{
	union vdds__msg m;
	int nfds, n;
	int len = vdds__msg_recv(sock, &m, fds, VDDS__WELCOME_FDS, &nfds, MSG_DONTWAIT);

	/* a publisher that refused us at once may have closed before reading
	 * our HELLO: the reset is reported first, then what it sent before */
	if (len == -ECONNRESET)
		len = vdds__msg_recv(sock, &m, fds, VDDS__WELCOME_FDS, &nfds, MSG_DONTWAIT);
	if (len == -EAGAIN)
		return len;
	if (len == -EBADMSG && (n = out_of_fds(sock)) < 0)
		return n;
	if (len <= 0) /* hung up before answering: it is going away */
		return len == 0 || len == -ECONNRESET ? -ENOENT : len;
	int kind = vdds__msg_parse(&m, (size_t)len);

	if (kind == VDDS__MSG_REJECT && nfds == 0) {
		vdds__detail_set(m.reject.reason); /* parse checked it is terminated */
		return -m.reject.err;
	}
	if (kind == VDDS__MSG_WELCOME && nfds == VDDS__WELCOME_FDS) {
		*w = m.welcome;
		return 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (kind != -EPROTO)
		return -EBADMSG;
	/* a publisher of another version: whatever it said, we cannot read it,
	 * but its header says which version it speaks */
	char why[VDDS__REASON_MAX];

	vdds__reason_version(why, sizeof(why), VDDS__PROTO_VERSION, m.hdr.version);
	vdds__detail_set(why);
	return -EPROTO;
}

/* The publisher welcomed us, so its header should name the type we asked
 * for; if it does not, say so as its REJECT would have. `topic` is our
 * checked copy of the header (its name is terminated). */
static int check_type(const struct vdds__sub_target *t, const struct vdds__topic_hdr *topic)
{
	char why[VDDS__REASON_MAX];

	if ((!t->type_name[0] || strcmp(t->type_name, topic->type_name) == 0) &&
	    (!t->type_size || t->type_size == topic->type_size))
		return 0;
	vdds__reason_type(why, sizeof(why), t->type_name, t->type_size, topic->type_name,
			  topic->type_size);
	vdds__detail_set(why);
	return -EPROTO;
}

/* Check and map what WELCOME handed us. Takes ownership of fds. */
static int adopt(struct vdds__sub_link *l, const struct vdds__msg_welcome *w, int fds[],
		 const struct vdds__sub_target *t)
{
	int err = -EBADMSG;

	l->data_efd = fds[2];
	if (w->topic_size > (1ull << 46) || w->lane_size > (1ull << 30) || !is_eventfd(fds[2]))
		goto out;
	if ((err = vdds__segment_map_peer(fds[0], w->topic_size, VDDS__SEALS_TOPIC, 0,
					  &l->topic_map)) < 0)
		goto out;
	l->topic_size = w->topic_size;
	if ((err = vdds__segment_map_peer(fds[1], w->lane_size, VDDS__SEALS_LANE, 1,
					  &l->lane_map)) < 0)
		goto out;
	l->lane_size = w->lane_size;
	/* the publisher can still write both headers: from here on only the
	 * checked copy in l->core is read, never the segments' headers */
	if ((err = vdds__subcore_init(&l->core, l->topic_map, l->topic_size, l->lane_map,
				      l->lane_size)) < 0)
		goto out;
	err = check_type(t, &l->core.hdr);
out:
	/* the mappings keep the memory; the memfds themselves are not needed */
	close(fds[0]);
	close(fds[1]);
	return err;
}

/* ------------------------------------------------------------- dialling
 *
 * A handshake is a small state machine that never blocks, so that whoever
 * drives it decides how long to wait: vdds_sub_open() polls its socket with
 * a deadline; a reconnecting subscriber (sub_reconnect.c) puts the socket in
 * its epoll set and advances it from take(), wait() and waitsets, so that a
 * publisher that is stopped, stuck or hostile costs it nothing but that
 * publisher's samples. */

int vdds__sub_dial_start(struct vdds__sub_dial *d, const struct vdds__sub_target *t, int nonblock)
{
	char dir[VDDS__PATH_MAX];
	int err = vdds__sub_target_dir(t, dir, sizeof(dir));

	vdds__detail_clear();
	d->sock = -1;
	d->state = VDDS__DIAL_HELLO;
	if (err < 0)
		return err;
	int sock = vdds__topic_connect(dir, t->topic, nonblock);

	if (sock < 0)
		return sock;
	d->sock = sock;
	return 0;
}

uint32_t vdds__sub_dial_events(const struct vdds__sub_dial *d)
{
	return d->state == VDDS__DIAL_WELCOME ? POLLIN : POLLOUT;
}

void vdds__sub_dial_abort(struct vdds__sub_dial *d)
{
	if (d->sock >= 0)
		close(d->sock);
	d->sock = -1;
}

int vdds__sub_dial_step(struct vdds__sub_dial *d, struct vdds__sub_link *l,
			const struct vdds__sub_target *t)
{
	struct vdds__msg_welcome w = { 0 };
	int fds[VDDS__WELCOME_FDS];
	int err;

	if (d->state == VDDS__DIAL_HELLO) {
		struct vdds__msg_hello hello;

		vdds__msg_hello(&hello, t->type_name, t->type_size, t->hello_flags);
		err = vdds__msg_send(d->sock, &hello, sizeof(hello), NULL, 0);
		if (err == -EAGAIN)
			return -EINPROGRESS; /* its queue is full: when writable */
		/* hung up, or stopped reading: a refusal at accept (admission)
		 * may be waiting for us to read */
		if (err < 0 && err != -EPIPE && err != -ECONNRESET)
			goto err_abort;
		d->state = VDDS__DIAL_WELCOME;
	}
	err = read_welcome(d->sock, &w, fds);
	if (err == -EAGAIN)
		return -EINPROGRESS;
	memset(l, 0, sizeof(*l));
	l->sock = l->data_efd = -1;
	if (err < 0 || (err = adopt(l, &w, fds, t)) < 0) {
		vdds__sub_link_close(l);
		goto err_abort;
	}
	l->sock = d->sock;
	d->sock = -1;
	/* a child of fork() gets none of the publisher's memory (fork.h) */
	madvise(l->topic_map, l->topic_size, MADV_DONTFORK);
	madvise(l->lane_map, l->lane_size, MADV_DONTFORK);
	return 0;

err_abort:
	vdds__sub_dial_abort(d);
	return err == -EPIPE || err == -ECONNRESET ? -ENOENT : err;
}

int vdds__sub_link_open(struct vdds__sub_link *l, const struct vdds__sub_target *t)
{
	struct vdds__sub_dial d;
	/* a blocking connect: open is documented to wait for room in the
	 * publisher's backlog; the answer is awaited with a deadline */
	int err = vdds__sub_dial_start(&d, t, 0);
	uint64_t deadline = vdds__deadline(WELCOME_WAIT_MS);

	memset(l, 0, sizeof(*l));
	l->sock = l->data_efd = -1;
	while (err == 0 && (err = vdds__sub_dial_step(&d, l, t)) == -EINPROGRESS) {
		struct pollfd pfd = { .fd = d.sock, .events = (short)vdds__sub_dial_events(&d) };
		int n = poll(&pfd, 1, vdds__ms_left(deadline));

		if (n == 0) {
			vdds__sub_dial_abort(&d);
			return -ETIMEDOUT;
		}
		err = n < 0 && errno != EINTR ? -errno : 0;
	}
	if (err < 0)
		vdds__sub_dial_abort(&d);
	return err;
}

void vdds__sub_link_close(struct vdds__sub_link *l)
{
	vdds__subcore_fini(&l->core);
	if (l->topic_map)
		munmap(l->topic_map, l->topic_size);
	if (l->lane_map)
		munmap(l->lane_map, l->lane_size);
	if (l->data_efd >= 0)
		close(l->data_efd);
	/* closing the socket is what tells the publisher to reclaim our slots */
	if (l->sock >= 0)
		close(l->sock);
	memset(l, 0, sizeof(*l));
	l->sock = l->data_efd = -1;
}
