/* info.c — `vdds info TOPIC`: everything a publisher says about itself when
 * asked over its socket (INFO_REQ), as text or one JSON object; and the
 * asking itself, for info and ls alike: many topics at once, never blocking,
 * never through a symlink, within one deadline for all. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "rundir.h"

static const char help[] =
	"usage: vdds info TOPIC [--json]\n"
	"\n"
	"Ask TOPIC's publisher about itself: its process, user and start time; its\n"
	"layout (slot size and count, type, overflow policy, history); its counters;\n"
	"and each subscriber (process, user, samples held, queued and lost).\n"
	"\n"
	"  --json   one JSON object (fields in vdds(1))\n"
	"  --help   this text\n";

static const char *overflow_name(uint32_t v)
{
	switch (v) {
	case VDDS_OVERFLOW_BLOCK: return "block";
	case VDDS_OVERFLOW_DROP_OLDEST: return "drop_oldest";
	case VDDS_OVERFLOW_FAIL: return "fail";
	default: return "unknown";
	}
}

static void print_time(FILE *f, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	char buf[64];

	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
	fputs(buf, f);
}

static void print_text(const char *topic, const struct vdds__msg_info *m)
{
	char type[ESC_NAME_MAX], note[4 * VDDS_NOTE_MAX + 4];

	printf("topic:        %s\n", topic);
	printf("publisher:    pid %d, uid %u, since ", m->pid, m->uid);
	print_time(stdout, m->start_ns);
	printf("\n");
	/* the publisher chose these strings: escaped, a terminal obeys no peer */
	printf("type:         %s (%u bytes)\n",
	       m->type_name[0] ? esc_str(m->type_name, type, sizeof(type)) : "(none)",
	       m->type_size);
	printf("slots:        %u of %" PRIu64 " bytes; %u free, %u loaned\n", m->slot_count,
	       m->slot_size, m->free_slots, m->loaned_slots);
	printf("overflow:     %s, history %u\n", overflow_name(m->overflow), m->history);
	printf("published:    %" PRIu64 "\n", m->published);
	printf("wakeups:      %" PRIu64 "\n", m->wakeups);
	printf("disconnects:  %" PRIu64 " (%" PRIu64 " cut off)\n", m->disconnects, m->kicked);
	if (m->note[0])
		printf("note:         %s\n", esc_str(m->note, note, sizeof(note)));
	printf("subscribers:  %u connected (of at most %u)\n", m->n_subs, m->max_subs);
	if (m->n_subs)
		printf("  %-8s %-8s %-6s %-6s %-7s %s\n", "PID", "UID", "LANE", "HELD", "QUEUED",
		       "LOST");
	for (uint32_t i = 0; i < m->n_subs; i++) {
		const struct vdds__msg_info_sub *s = &m->subs[i];

		printf("  %-8d %-8u %-6u %-6u %-7u %" PRIu64 "\n", s->pid, s->uid, s->lane_id,
		       s->held, s->queued, s->lost);
	}
}

void cli_info_json(FILE *f, const char *topic, const struct vdds__msg_info *m)
{
	fputs("{\"topic\":", f);
	cli_json_str(f, topic);
	fputs(",\"dir\":", f);
	cli_json_str(f, cli_dir);
	fprintf(f, ",\"pid\":%d,\"uid\":%u,\"start_time_ns\":%" PRIu64, m->pid, m->uid,
		m->start_ns);
	fprintf(f, ",\"layout\":{\"slot_size\":%" PRIu64 ",\"slot_count\":%u", m->slot_size,
		m->slot_count);
	fprintf(f, ",\"max_subscribers\":%u,\"type_name\":", m->max_subs);
	cli_json_str(f, m->type_name);
	fprintf(f, ",\"type_size\":%u,\"overflow\":\"%s\",\"history\":%u}", m->type_size,
		overflow_name(m->overflow), m->history);
	fprintf(f,
		",\"stats\":{\"slot_count\":%u,\"free_slots\":%u,\"loaned_slots\":%u,"
		"\"subscribers\":%u,\"published\":%" PRIu64 ",\"wakeups\":%" PRIu64
		",\"disconnects\":%" PRIu64 ",\"kicked\":%" PRIu64 "}",
		m->slot_count, m->free_slots, m->loaned_slots, m->subscribers, m->published,
		m->wakeups, m->disconnects, m->kicked);
	fputs(",\"note\":", f);
	cli_json_str(f, m->note);
	fputs(",\"subscribers\":[", f);
	for (uint32_t i = 0; i < m->n_subs; i++) {
		const struct vdds__msg_info_sub *s = &m->subs[i];

		fprintf(f,
			"%s{\"pid\":%d,\"uid\":%u,\"lane\":%u,\"held\":%u,\"queued\":%u,"
			"\"lost\":%" PRIu64 "}",
			i ? "," : "", s->pid, s->uid, s->lane_id, s->held, s->queued, s->lost);
	}
	fputs("]}\n", f);
}

/* The one message of each way asking a publisher can fail. */
int cli_introspect_error(int err, const char *topic)
{
	if (err == -EPROTO)
		return cli_fail(CLI_RUNTIME,
				"the publisher of '%s' speaks an older vdds protocol without "
				"introspection (it answered EPROTO)",
				topic);
	return cli_topic_error(err, topic, "ask the publisher of");
}

int cli_info(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool json = false;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h')
			return cli_help(help);
		else
			return cli_usage("info", "unknown option '%s'", cli_arg(argv[optind - 1]));
	}
	if (optind != argc - 1)
		return cli_usage("info", optind == argc ? "missing TOPIC" : "one TOPIC only");
	const char *topic = argv[optind];

	if (cli_check_topic("info", topic))
		return CLI_USAGE;
	struct cli_probe *p = calloc(1, sizeof(*p));

	if (!p)
		return cli_fail(CLI_RUNTIME, "out of memory");
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	cli_probe(p, 1, CLI_INFO_WAIT_MS);
	int rc = CLI_OK;

	if (p->err < 0)
		rc = cli_introspect_error(p->err, topic);
	else if (json)
		cli_info_json(stdout, topic, &p->info);
	else
		print_text(topic, &p->info);
	free(p);
	return rc == CLI_OK ? cli_flush_stdout() : rc;
}

/* ------------------------------------------------------ asking publishers */

/* How far asking one topic got. */
enum { P_TODO, P_FULL, P_ASKED, P_DONE };

/* Let this process hold one descriptor per topic at once where the hard
 * limit allows; returns how many probes may be open together. */
static size_t fd_budget(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 32;
	rlim_t need = (rlim_t)want + 64;

	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit more = { need, rl.rlim_max };

		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			more.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			rl = more;
	}
	return rl.rlim_cur > 96 ? (size_t)(rl.rlim_cur - 64) : 32;
}

/* Connect to <cli_dir>/<topic>.sock without following a symlink and without
 * blocking: the file must itself be a socket (a .sock symlink could lead out
 * of the runtime directory), and is reached through the descriptor that
 * showed it to be one. Returns the connected fd, or -ENOTSOCK (a regular
 * file, FIFO, symlink...), -ECONNREFUSED (a socket nobody listens on: its
 * publisher died), -EAGAIN (its backlog is full), -ENOENT (gone), -errno. */
static int connect_nofollow(const char *topic)
{
	struct sockaddr_un a, via = { .sun_family = AF_UNIX };
	struct stat st;
	int err = vdds__topic_addr(&a, cli_dir, topic, ".sock");

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

/* The answer waiting on sock, checked whole as vdds__introspect checks it. */
static int take_answer(int sock, struct cli_probe *p)
{
	union vdds__msg *m = malloc(sizeof(*m));
	int fds[1], nfds, err;

	if (!m)
		return -ENOMEM;
	int len = vdds__msg_recv(sock, m, fds, 0, &nfds, MSG_DONTWAIT);

	/* refused at accept (the publisher admits before it reads): the reset
	 * for our unread request comes first, then the REJECT sent before it */
	if (len == -ECONNRESET)
		len = vdds__msg_recv(sock, m, fds, 0, &nfds, MSG_DONTWAIT);
	if (len == 0 || len == -ECONNRESET)
		err = -ENOENT; /* hung up without answering: it is going away */
	else if (len < 0)
		err = len;
	else {
		int kind = vdds__msg_parse(m, (size_t)len);

		if (kind == VDDS_MSG_INFO)
			err = 0;
		else if (kind == VDDS_MSG_REJECT)
			err = -m->reject.err;
		else
			err = kind == -EPROTO ? -EPROTO : -EBADMSG;
	}
	if (err == 0)
		memcpy(&p->info, &m->info, m->info.hdr.size);
	free(m);
	return err;
}

/* Connect and send INFO_REQ: the phase it reached; *fd the connection when
 * asked. */
static int start_probe(struct cli_probe *p, int *fd)
{
	struct vdds__msg_info_req req;
	int sock = connect_nofollow(p->topic);

	if (sock == -EAGAIN)
		return P_FULL;
	if (sock < 0) {
		p->err = sock;
		return P_DONE;
	}
	vdds__msg_info_req(&req);
	int err = vdds__msg_send(sock, &req, sizeof(req), NULL, 0);

	if (err < 0 && err != -EPIPE && err != -ECONNRESET) {
		close(sock);
		p->err = err;
		return P_DONE;
	}
	/* EPIPE, ECONNRESET: it stopped reading, having refused us at accept:
	 * its REJECT, if it sent one, is waiting to say why */
	*fd = sock;
	return P_ASKED;
}

/* One round: start what the descriptor budget allows, in order, and retry
 * full backlogs; the asked ones into pfd/who. Returns how many are asked. */
static size_t start_round(struct cli_probe *v, size_t n, unsigned char *phase, int *fd,
			  size_t budget, struct pollfd *pfd, size_t *who, bool *full)
{
	size_t k = 0;

	*full = false;
	for (size_t i = 0; i < n; i++)
		k += phase[i] == P_ASKED;
	for (size_t i = 0; i < n; i++) {
		if ((phase[i] == P_TODO || phase[i] == P_FULL) && k < budget) {
			phase[i] = (unsigned char)start_probe(&v[i], &fd[i]);
			k += phase[i] == P_ASKED;
		}
		*full |= phase[i] == P_FULL || phase[i] == P_TODO;
	}
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (phase[i] == P_ASKED) {
			pfd[k] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
			who[k++] = i;
		}
	return k;
}

void cli_probe(struct cli_probe *v, size_t n, int timeout_ms)
{
	uint64_t deadline = cli_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned char *phase = calloc(n + 1, 1);
	int *fd = calloc(n + 1, sizeof(*fd));
	struct pollfd *pfd = calloc(n + 1, sizeof(*pfd));
	size_t *who = calloc(n + 1, sizeof(*who));
	size_t budget = fd_budget(n), k = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&v[i].info, 0, sizeof(v[i].info));
		v[i].err = phase && fd && pfd && who ? -ETIMEDOUT : -ENOMEM; /* until it answers */
	}
	for (bool waiting = phase && fd && pfd && who && n > 0; waiting;) {
		bool full;

		k = start_round(v, n, phase, fd, budget, pfd, who, &full);
		uint64_t now = cli_mono_ns();

		if ((k == 0 && !full) || now >= deadline)
			break;
		/* a full backlog cannot be polled for: look again soon */
		uint64_t wait_ns = deadline - now;

		if (full && wait_ns > 10000000u)
			wait_ns = 10000000u;
		int r = poll(pfd, k, (int)((wait_ns + 999999) / 1000000));

		for (size_t j = 0; r > 0 && j < k; j++) {
			if (!pfd[j].revents)
				continue;
			v[who[j]].err = take_answer(pfd[j].fd, &v[who[j]]);
			phase[who[j]] = P_DONE;
			close(pfd[j].fd);
		}
	}
	for (size_t i = 0; phase && fd && i < n; i++)
		if (phase[i] == P_ASKED)
			close(fd[i]);
	free(who);
	free(pfd);
	free(fd);
	free(phase);
}
