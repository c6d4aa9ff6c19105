/* introspect.c — the client side of introspection: one connection, one
 * INFO_REQ, one answer (INFO or REJECT), checked before it is believed. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "introspect.h"
#include "rundir.h"

static int await_answer(int sock, union vdds__msg *m, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;
	int fds[1], nfds, n;

	for (;;) {
		int ms = timeout_ms > 0 ? vdds__ms_left(deadline) : timeout_ms;

		n = poll(&pfd, 1, ms);
		if (n > 0)
			break;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	int len = vdds__msg_recv(sock, m, fds, 0, &nfds, MSG_DONTWAIT);

	/* refused at accept (pub_ctl.c admits before reading): the reset for
	 * our unread request comes first, then the REJECT sent before it */
	if (len == -ECONNRESET)
		len = vdds__msg_recv(sock, m, fds, 0, &nfds, MSG_DONTWAIT);
	if (len == 0 || len == -ECONNRESET)
		return -ENOENT; /* hung up without answering: it is going away */
	if (len < 0)
		return len;
	int kind = vdds__msg_parse(m, (size_t)len);

	if (kind == VDDS_MSG_REJECT)
		return -m->reject.err;
	if (kind == VDDS_MSG_INFO)
		return 0;
	return kind == -EPROTO ? -EPROTO : -EBADMSG;
}

int vdds__introspect(const char *dir, const char *topic, struct vdds__msg_info *info,
		     int timeout_ms)
{
	struct vdds__msg_info_req req;
	int err = vdds__topic_valid(topic);

	if (err < 0 || !dir || !info)
		return -EINVAL;
	int sock = vdds__topic_connect(dir, topic, 0);

	if (sock < 0)
		return sock;
	union vdds__msg *m = calloc(1, sizeof(*m));

	if (!m) {
		close(sock);
		return -ENOMEM;
	}
	vdds__msg_info_req(&req);
	err = vdds__msg_send(sock, &req, sizeof(req), NULL, 0);
	/* EPIPE: it stopped reading, having refused us: read why */
	if (err == 0 || err == -EPIPE || err == -ECONNRESET)
		err = await_answer(sock, m, timeout_ms);
	if (err == -EPIPE || err == -ECONNRESET)
		err = -ENOENT;
	if (err == 0) {
		memset(info, 0, sizeof(*info));
		memcpy(info, &m->info, m->info.hdr.size);
	}
	free(m);
	close(sock);
	return err;
}
