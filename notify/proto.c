/* proto.c — build, parse, send and receive handshake messages. The parser is
 * pure (no syscalls) so it can be fuzzed; it trusts nothing in the bytes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

static void hdr_init(struct vdds__msg_hdr *h, int kind, size_t size)
{
	h->magic = VDDS__PROTO_MAGIC;
	h->version = VDDS__PROTO_VERSION;
	h->kind = (uint16_t)kind;
	h->size = (uint32_t)size;
	h->reserved = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	memset(dst + n, 0, cap - n);
}

void vdds__msg_hello(struct vdds__msg_hello *m, const char *type_name, uint32_t type_size,
		     uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	hdr_init(&m->hdr, VDDS__MSG_HELLO, sizeof(*m));
	m->type_size = type_size;
	m->flags = flags;
	copy_str(m->type_name, sizeof(m->type_name), type_name);
}

void vdds__msg_welcome(struct vdds__msg_welcome *m, uint32_t lane_id, uint64_t topic_size,
		       uint64_t lane_size)
{
	memset(m, 0, sizeof(*m));
	hdr_init(&m->hdr, VDDS__MSG_WELCOME, sizeof(*m));
	m->lane_id = lane_id;
	m->topic_size = topic_size;
	m->lane_size = lane_size;
}

void vdds__msg_reject(struct vdds__msg_reject *m, int kind, int err, const char *reason)
{
	memset(m, 0, sizeof(*m));
	hdr_init(&m->hdr, kind, sizeof(*m));
	m->err = err < 0 ? -err : err;
	copy_str(m->reason, sizeof(m->reason), reason);
}

void vdds__reason_version(char *buf, size_t cap, unsigned expected, unsigned spoken)
{
	snprintf(buf, cap, "protocol version %u expected, publisher speaks %u", expected, spoken);
}

/* "'Pose' (24 B)"; with no name or size, the words given instead. */
static void describe_type(char *buf, size_t cap, const char *name, uint32_t size,
			  const char *no_name, const char *no_size)
{
	char sz[24];

	if (size)
		snprintf(sz, sizeof(sz), "%u B", (unsigned)size);
	else
		snprintf(sz, sizeof(sz), "%s", no_size);
	if (name[0])
		snprintf(buf, cap, "'%s' (%s)", name, sz);
	else
		snprintf(buf, cap, "%s (%s)", no_name, sz);
}

void vdds__reason_type(char *buf, size_t cap, const char *want_name, uint32_t want_size,
		       const char *have_name, uint32_t have_size)
{
	char want[VDDS__REASON_MAX], have[VDDS__REASON_MAX];

	describe_type(want, sizeof(want), want_name, want_size, "of any name", "any size");
	describe_type(have, sizeof(have), have_name, have_size, "no type name", "no size");
	snprintf(buf, cap, "type %s expected, publisher has %s", want, have);
}

void vdds__msg_wake(struct vdds__msg_wake *m)
{
	hdr_init(&m->hdr, VDDS__MSG_WAKE, sizeof(*m));
}

void vdds__msg_info_req(struct vdds__msg_info_req *m)
{
	memset(m, 0, sizeof(*m));
	hdr_init(&m->hdr, VDDS__MSG_INFO_REQ, sizeof(*m));
}

void vdds__msg_info_init(struct vdds__msg_info *m, uint32_t n)
{
	memset(m, 0, sizeof(*m));
	hdr_init(&m->hdr, VDDS__MSG_INFO, vdds__msg_info_size(n));
	m->n_subs = n;
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int vdds__msg_parse(const union vdds__msg *m, size_t len)
{
	if (len < sizeof(struct vdds__msg_hdr) || m->hdr.magic != VDDS__PROTO_MAGIC)
		return -EBADMSG;
	if (m->hdr.version != VDDS__PROTO_VERSION)
		return -EPROTO;
	if (m->hdr.size != len || m->hdr.reserved != 0)
		return -EBADMSG;
	switch (m->hdr.kind) {
	case VDDS__MSG_HELLO:
		if (len != sizeof(m->hello) || (m->hello.flags & ~VDDS__HELLO_NO_HISTORY) != 0 ||
		    !terminated(m->hello.type_name, sizeof(m->hello.type_name)))
			return -EBADMSG;
		break;
	case VDDS__MSG_WELCOME:
		if (len != sizeof(m->welcome) || m->welcome.reserved != 0)
			return -EBADMSG;
		break;
	case VDDS__MSG_REJECT:
	case VDDS__MSG_BYE:
		if (len != sizeof(m->reject) || m->reject.reserved != 0 || m->reject.err <= 0 ||
		    m->reject.err > 4095 || !terminated(m->reject.reason, sizeof(m->reject.reason)))
			return -EBADMSG;
		break;
	case VDDS__MSG_WAKE:
		if (len != sizeof(m->wake))
			return -EBADMSG;
		break;
	case VDDS__MSG_INFO_REQ:
		if (len != sizeof(m->info_req) || m->info_req.flags != 0 ||
		    m->info_req.reserved != 0)
			return -EBADMSG;
		break;
	case VDDS__MSG_INFO:
		if (len < vdds__msg_info_size(0) || m->info.n_subs > VDDS_MAX_SUBSCRIBERS ||
		    len != vdds__msg_info_size(m->info.n_subs) || m->info.reserved != 0 ||
		    !terminated(m->info.type_name, sizeof(m->info.type_name)) ||
		    !terminated(m->info.note, sizeof(m->info.note)))
			return -EBADMSG;
		for (uint32_t i = 0; i < m->info.n_subs; i++)
			if (m->info.subs[i].reserved != 0)
				return -EBADMSG;
		break;
	default: return -EBADMSG;
	}
	return m->hdr.kind;
}

int vdds__msg_send(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VDDS__WELCOME_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds < 0 || nfds > VDDS__WELCOME_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	ssize_t n;

	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Take every descriptor out of the control data: up to max_fds into fds,
 * the rest closed. Returns -EBADMSG if anything was not SCM_RIGHTS. */
static int collect_fds(struct msghdr *mh, int *fds, int max_fds, int *nfds)
{
	int bad = 0;

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max_fds) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				bad = 1;
			}
		}
	}
	return bad ? -EBADMSG : 0;
}

int vdds__msg_recv(int sock, union vdds__msg *m, int *fds, int max_fds, int *nfds, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * (VDDS__WELCOME_FDS + 4))];
	} ctl;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	int err = collect_fds(&mh, fds, max_fds, nfds);

	if (err == 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		err = -EBADMSG;
	if (err < 0) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return err;
	}
	return (int)n;
}
