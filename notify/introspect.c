/* introspect.c — the client side of introspection: connect, one INFO_REQ,
 * one answer (INFO or REJECT), checked before it is believed. Internally one
 * topic at a time (vdds__introspect); publicly (vdds_topic_info*) many at
 * once, never blocking, never through a symlink, within one deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "introspect.h"
#include "rundir.h"

/* The answer waiting on sock, checked whole: 0 for an INFO (in m), else
 * the error. With detail, a refusal's words become this thread's detail. */
static int read_answer(int sock, union vdds__msg *m, bool detail)
{
	int fds[1], nfds;
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

	if (kind == VDDS__MSG_INFO)
		return 0;
	if (kind == VDDS__MSG_REJECT) {
		if (detail && m->reject.reason[0])
			vdds__detail_set(m->reject.reason);
		return -m->reject.err;
	}
	if (kind != -EPROTO)
		return -EBADMSG;
	if (detail) {
		char why[VDDS_ERROR_DETAIL_MAX];

		vdds__reason_version(why, sizeof(why), VDDS__PROTO_VERSION, m->hdr.version);
		vdds__detail_set(why);
	}
	return -EPROTO;
}

static int await_answer(int sock, union vdds__msg *m, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	uint64_t deadline = timeout_ms > 0 ? vdds__deadline(timeout_ms) : 0;

	for (;;) {
		int ms = timeout_ms > 0 ? vdds__ms_left(deadline) : timeout_ms;
		int n = poll(&pfd, 1, ms);

		if (n > 0)
			break;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	return read_answer(sock, m, false);
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

/* ------------------------------------------------------------ public calls */

/* The checked wire answer as the public struct, field by field: the wire
 * layout is the protocol's, the struct is the API's, and either may change
 * without the other. Reserves and pads stay zero. */
static void to_public(struct vdds_topic_info *out, const struct vdds__msg_info *m)
{
	uint32_t n = m->n_subs < VDDS_MAX_SUBSCRIBERS ? m->n_subs : VDDS_MAX_SUBSCRIBERS;

	memset(out, 0, sizeof(*out));
	out->pid = m->pid;
	out->uid = m->uid;
	out->start_ns = m->start_ns;
	out->slot_size = m->slot_size;
	out->slot_count = m->slot_count;
	out->max_subscribers = m->max_subs;
	out->type_size = m->type_size;
	out->overflow = m->overflow;
	out->history = m->history;
	out->n_subs = n;
	_Static_assert(sizeof(out->type_name) == sizeof(m->type_name), "type name room");
	memcpy(out->type_name, m->type_name, sizeof(out->type_name));
	out->type_name[sizeof(out->type_name) - 1] = '\0';
	out->free_slots = m->free_slots;
	out->loaned_slots = m->loaned_slots;
	out->subscribers = m->subscribers;
	out->published = m->published;
	out->wakeups = m->wakeups;
	out->disconnects = m->disconnects;
	out->kicked = m->kicked;
	_Static_assert(sizeof(out->note) == sizeof(m->note), "note room");
	memcpy(out->note, m->note, sizeof(out->note));
	out->note[sizeof(out->note) - 1] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		out->subs[i].pid = m->subs[i].pid;
		out->subs[i].uid = m->subs[i].uid;
		out->subs[i].lane = m->subs[i].lane_id;
		out->subs[i].held = m->subs[i].held;
		out->subs[i].queued = m->subs[i].queued;
		out->subs[i].lost = m->subs[i].lost;
	}
}

/* How far asking one topic got: not connected yet; its backlog was full (try
 * again within the deadline); request sent, answer awaited; answered or failed. */
enum { P_UNASKED, P_FULL, P_ASKED, P_DONE };

/* Many topics being asked: the caller's arrays, and per topic its phase and
 * connection; pfd/who the connections of one round. */
struct probes {
	const char *dir;
	const char *const *topics;
	struct vdds_topic_info *infos;
	int *errs;
	size_t n, budget;
	bool detail; /* a single topic: its refusal's words as the detail */
	unsigned char *phase;
	int *fd;
	struct pollfd *pfd;
	size_t *who;
	union vdds__msg *m; /* the receive buffer, one answer at a time */
};

/* How many connections may be open together: what RLIMIT_NOFILE leaves,
 * less 64 for the caller's own files. The limit is the caller's to raise. */
static size_t fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 32;
	return rl.rlim_cur > 96 ? (size_t)(rl.rlim_cur - 64) : 32;
}

/* Connect to <dir>/<topic>.sock without following a symlink and without
 * blocking: the file must itself be a socket (a .sock symlink could lead out
 * of the runtime directory), and is reached through the descriptor that
 * showed it to be one. Returns the connected fd, or -ENOTSOCK (a regular
 * file, FIFO, symlink...), -ECONNREFUSED (a socket nobody listens on: its
 * publisher died), -EAGAIN (its backlog is full), -ENOENT (gone), -errno. */
static int connect_nofollow(const char *dir, const char *topic)
{
	struct sockaddr_un a, via = { .sun_family = AF_UNIX };
	struct stat st;
	int err = vdds__topic_addr(&a, dir, topic, ".sock");

	if (err < 0)
		return err;
	int path = open(a.sun_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (path < 0)
		return errno == ELOOP ? -ENOTSOCK : -errno;
	int sock = -ENOTSOCK;

	if (fstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		goto out_close_path;
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		sock = -errno;
		goto out_close_path;
	}
	/* /proc/self/fd/N names the very inode fstat checked; without /proc,
	 * the path, which was a socket an instant ago in a directory only this
	 * user may write */
	snprintf(via.sun_path, sizeof(via.sun_path), "/proc/self/fd/%d", path);
	err = connect(sock, (struct sockaddr *)&via, sizeof(via)) < 0 ? -errno : 0;
	if (err == -ENOENT && access("/proc/self/fd", F_OK) < 0)
		err = connect(sock, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
	if (err < 0) {
		close(sock);
		sock = err;
	}
out_close_path:
	close(path);
	return sock;
}

/* Connect and send INFO_REQ: the phase topic i reached; fd[i] the
 * connection when asked. */
static int start_probe(struct probes *p, size_t i)
{
	struct vdds__msg_info_req req;
	int sock = connect_nofollow(p->dir, p->topics[i]);

	if (sock == -EAGAIN)
		return P_FULL;
	if (sock < 0) {
		p->errs[i] = sock;
		return P_DONE;
	}
	vdds__msg_info_req(&req);
	int err = vdds__msg_send(sock, &req, sizeof(req), NULL, 0);

	if (err < 0 && err != -EPIPE && err != -ECONNRESET) {
		close(sock);
		p->errs[i] = err;
		return P_DONE;
	}
	/* EPIPE, ECONNRESET: it stopped reading, having refused us at accept:
	 * its REJECT, if it sent one, is waiting to say why */
	p->fd[i] = sock;
	return P_ASKED;
}

/* One round: start what the descriptor budget allows, in order, and retry
 * full backlogs; the asked ones into pfd/who. Returns how many are asked;
 * *full when some could not be started yet. */
static size_t start_round(struct probes *p, bool *full)
{
	size_t k = 0;

	*full = false;
	for (size_t i = 0; i < p->n; i++)
		k += p->phase[i] == P_ASKED;
	for (size_t i = 0; i < p->n; i++) {
		if ((p->phase[i] == P_UNASKED || p->phase[i] == P_FULL) && k < p->budget) {
			p->phase[i] = (unsigned char)start_probe(p, i);
			k += p->phase[i] == P_ASKED;
		}
		*full |= p->phase[i] == P_FULL || p->phase[i] == P_UNASKED;
	}
	k = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->phase[i] == P_ASKED) {
			p->pfd[k] = (struct pollfd){ .fd = p->fd[i], .events = POLLIN };
			p->who[k++] = i;
		}
	return k;
}

/* Take the answers poll found ready in this round. */
static void take_answers(struct probes *p, size_t k)
{
	for (size_t j = 0; j < k; j++) {
		size_t i = p->who[j];

		if (!p->pfd[j].revents)
			continue;
		p->errs[i] = read_answer(p->pfd[j].fd, p->m, p->detail);
		if (p->errs[i] == 0)
			to_public(&p->infos[i], &p->m->info);
		p->phase[i] = P_DONE;
		close(p->pfd[j].fd);
	}
}

static void run_probes(struct probes *p, int timeout_ms)
{
	uint64_t deadline = timeout_ms >= 0 ? vdds__deadline(timeout_ms) : UINT64_MAX;

	for (;;) {
		bool full;
		size_t k = start_round(p, &full);
		uint64_t now = vdds__now_ns();

		if ((k == 0 && !full) || now >= deadline)
			break;
		/* a full backlog cannot be polled for: look again soon */
		int ms = -1;

		if (deadline != UINT64_MAX || full) {
			uint64_t wait_ns = deadline - now;

			if (full && wait_ns > 10000000u)
				wait_ns = 10000000u;
			wait_ns = (wait_ns + 999999) / 1000000;
			ms = wait_ns > INT32_MAX ? INT32_MAX : (int)wait_ns;
		}
		if (poll(p->pfd, k, ms) > 0)
			take_answers(p, k);
	}
	for (size_t i = 0; i < p->n; i++)
		if (p->phase[i] == P_ASKED)
			close(p->fd[i]);
}

static int probe_all(const char *dir, const char *const *topics, size_t n,
		     struct vdds_topic_info *infos, int *errs, int timeout_ms, bool detail)
{
	char own[VDDS__PATH_MAX];
	struct probes p = {
		.dir = dir, .topics = topics, .infos = infos, .errs = errs, .n = n, .detail = detail
	};
	int err = 0;

	vdds__detail_clear();
	if (n && (!topics || !infos || !errs))
		return vdds__detail_setf(-EINVAL, "vdds_topic_info: %s NULL",
					 !topics  ? "topics"
					 : !infos ? "info"
						  : "errs");
	for (size_t i = 0; i < n; i++) {
		if ((err = vdds__topic_name_check(topics[i])) < 0)
			return err;
		errs[i] = -ETIMEDOUT; /* until it answers */
		memset(&infos[i], 0, sizeof(infos[i]));
	}
	if (!dir && (err = vdds__rundir(own, sizeof(own), 0, 0)) < 0) {
		if (err != -ENOENT)
			return err;
		for (size_t i = 0; i < n; i++)
			errs[i] = -ENOENT; /* no runtime directory: no publisher */
		return 0;
	}
	p.dir = dir ? dir : own;
	p.budget = fd_budget();
	p.phase = calloc(n + 1, 1);
	p.fd = calloc(n + 1, sizeof(*p.fd));
	p.pfd = calloc(n + 1, sizeof(*p.pfd));
	p.who = calloc(n + 1, sizeof(*p.who));
	p.m = malloc(sizeof(*p.m));
	if (p.phase && p.fd && p.pfd && p.who && p.m)
		run_probes(&p, timeout_ms);
	else
		err = -ENOMEM;
	free(p.m);
	free(p.who);
	free(p.pfd);
	free(p.fd);
	free(p.phase);
	return err;
}

int vdds_topic_info_many(const char *dir, const char *const *topics, size_t n,
			 struct vdds_topic_info *infos, int *errs, int timeout_ms)
{
	return probe_all(dir, topics, n, infos, errs, timeout_ms, false);
}

int vdds_topic_info(const char *dir, const char *topic, struct vdds_topic_info *info,
		    int timeout_ms)
{
	int err, perr;

	if (!info)
		return vdds__detail_setf(-EINVAL, "vdds_topic_info: info NULL");
	perr = probe_all(dir, &topic, 1, info, &err, timeout_ms, true);
	return perr < 0 ? perr : err;
}
