/* main.c — the `vdds` command: see and poke vdds topics. Picks the
 * subcommand; holds what they share (messages, parsing, the runtime
 * directory, signals, subscribing, JSON). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"

char cli_dir[CLI_PATH_MAX];

static const char usage[] =
	"usage: vdds COMMAND [ARGS]   (vdds COMMAND --help for each)\n"
	"\n"
	"  ls [--json] [--prune] [--timeout MS]\n"
	"                                 topics in the runtime directory\n"
	"  info TOPIC [--json]            what a topic's publisher says about itself\n"
	"  echo TOPIC [--count N] [--format text|hex|raw|json] [--timeout MS]\n"
	"             [--reconnect] [--type NAME] [--type-size BYTES]\n"
	"                                 print samples\n"
	"  pub TOPIC [--rate HZ] [--count N] [--size BYTES] [--slots N] [--wait-subs N]\n"
	"            [--type NAME [--type-size BYTES]] (DATA | --file F | -)\n"
	"                                 publish samples\n"
	"  hz TOPIC [--window N] [--count N] [--reconnect]\n"
	"                                 publish rate\n"
	"  bw TOPIC [--window N] [--count N] [--reconnect]\n"
	"                                 bandwidth and mean sample size\n"
	"  record -o FILE.mcap [--count N] [--reconnect] [--compression zstd|lz4|none]\n"
	"            [--split-size BYTES] [--split-duration S] TOPIC|PATTERN...\n"
	"                                 record topics to an MCAP file\n"
	"  play FILE.mcap [--rate X] [--loop] [--wait-subs N] [--topics A,B...]\n"
	"            [--start T] [--end T]\n"
	"                                 publish what a file recorded, with its timing\n"
	"  mcap recover IN OUT            rewrite a cut-short MCAP file whole\n"
	"\n"
	"Topics live in $VDDS_DIR, else $XDG_RUNTIME_DIR/vdds, else /tmp/vdds-UID.\n"
	"Exit status: 0 success (also when stopped by SIGINT or SIGTERM, or when the\n"
	"reader of the output went away), 1 runtime error, 2 usage error. See vdds(1).\n";

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("vdds: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vdds %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see vdds %s --help)\n", cmd);
	return CLI_USAGE;
}

int cli_help(const char *text)
{
	fputs(text, stdout);
	return cli_flush_stdout();
}

int cli_flush_stdout(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return CLI_OK;
	/* a failed write drops what it held, so errno is the last failure's
	 * (this flush's, or the caller's write just before); and a pipe whose
	 * reader is gone says so itself, whatever errno became since */
	int err = errno ? errno : EIO;
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };

	if (err == EPIPE || (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR)))
		return CLI_OK;
	return cli_fail(CLI_RUNTIME, "cannot write to standard output: %s", strerror(err));
}

const char *cli_arg(const char *s)
{
	/* a few at a time, for one message that names two arguments */
	static char ring[4][96];
	static unsigned next;
	char *buf = ring[next++ % 4];

	return esc_str(s, buf, 84);
}

const char *cli_lib_error(int err)
{
	static char buf[4 * VDDS_ERROR_DETAIL_MAX + 128];
	const char *detail = vdds_last_error_detail();
	char esc[4 * VDDS_ERROR_DETAIL_MAX + 4];

	if (!detail[0])
		return vdds_strerror(err);
	/* the library's words may quote a peer's (a publisher's reason): escaped */
	snprintf(buf, sizeof(buf), "%s (%s)", vdds_strerror(err),
		 esc_str(detail, esc, sizeof(esc)));
	return buf;
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);

	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	double v = strtod(s, &end);

	if (errno || *end || !isfinite(v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int cli_check_topic(const char *cmd, const char *topic)
{
	if (vdds_topic_check(topic) == 0)
		return CLI_OK;
	return cli_usage(cmd,
			 "invalid topic name '%s': a topic is 1 to %d of A-Z a-z 0-9 _ . - and "
			 "does not start with '.' (no '/')",
			 cli_arg(topic), VDDS_TOPIC_MAX);
}

int cli_rundir(char *buf, size_t cap)
{
	return vdds_rundir(buf, cap, 0);
}

int cli_topic_error(int err, const char *topic, const char *doing)
{
	char detail[4 * VDDS_ERROR_DETAIL_MAX + 4];

	switch (-err) {
	case ENOENT:
	case ECONNREFUSED: /* a dead publisher's socket */
		return cli_fail(CLI_RUNTIME, "no publisher for topic '%s' in %s", topic, cli_dir);
	case ENOTSOCK:
		return cli_fail(CLI_RUNTIME,
				"%s/%s.sock is not a socket (a file, FIFO or symlink): not a "
				"vdds topic, left alone",
				cli_dir, topic);
	case EINTR:
		return cli_fail(CLI_RUNTIME, "interrupted while trying to %s '%s'", doing, topic);
	case EACCES:
		if (cli_rundir(cli_dir, CLI_PATH_MAX) == -EACCES)
			return cli_fail(
				CLI_RUNTIME,
				"runtime directory %s is not trusted: owned by another user or "
				"writable by others",
				cli_dir);
		return cli_fail(CLI_RUNTIME, "the publisher of '%s' refuses this user (uid %u)",
				topic, (unsigned)geteuid());
	case EPROTO:
		/* the publisher's own words (it chose them: escaped), e.g. "type
		 * 'Pose' (24 B) expected, publisher has 'Pose' (no size)" */
		if (vdds_last_error_detail()[0])
			return cli_fail(CLI_RUNTIME, "the publisher of '%s' refused: %s", topic,
					esc_str(vdds_last_error_detail(), detail, sizeof(detail)));
		return cli_fail(
			CLI_RUNTIME,
			"the publisher of '%s' does not speak this vdds protocol version, or "
			"its type differs",
			topic);
	case ENOSPC:
		return cli_fail(CLI_RUNTIME, "the publisher of '%s' has its maximum of subscribers",
				topic);
	case ETIMEDOUT:
		return cli_fail(CLI_RUNTIME, "the publisher of '%s' did not answer in time", topic);
	case EBADMSG:
		return cli_fail(CLI_RUNTIME, "the publisher of '%s' broke the protocol", topic);
	case ENAMETOOLONG:
		return cli_fail(CLI_RUNTIME, "runtime directory path %s is too long for '%s'",
				cli_dir, topic);
	default:
		/* with the library's words where it has some ("out of file
		 * descriptors: RLIMIT_NOFILE is 1024, ...") */
		if (vdds_last_error_detail()[0])
			return cli_fail(CLI_RUNTIME, "cannot %s '%s': %s", doing, topic,
					esc_str(vdds_last_error_detail(), detail, sizeof(detail)));
		return cli_fail(CLI_RUNTIME, "cannot %s '%s': %s", doing, topic, strerror(-err));
	}
}

int cli_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int cli_signal_pending(int sigfd)
{
	struct pollfd pfd = { .fd = sigfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

int cli_interruptible(int (*fn)(void *arg), void *arg)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	sigset_t set;

	/* no SA_RESTART: the blocked call returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	caught = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* a signal already pending is delivered to on_signal right here */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* one that lands between this test and the call's entering the kernel
	 * is missed by the call; the next one ends it */
	int r = caught ? -EINTR : fn(arg);

	sigprocmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (caught)
		raise(caught); /* blocked: pending for the signalfd, as if never let through */
	return r;
}

int cli_signal_read(int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

uint64_t cli_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t cli_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cli_sleep_until(uint64_t deadline_ns, int sigfd)
{
	struct pollfd pfd = { .fd = sigfd, .events = POLLIN };

	for (;;) {
		uint64_t now = cli_mono_ns();

		if (now >= deadline_ns)
			return 0;
		uint64_t left = deadline_ns - now;
		struct timespec ts = { .tv_sec = (time_t)(left / 1000000000u),
				       .tv_nsec = (long)(left % 1000000000u) };
		int n = ppoll(&pfd, 1, &ts, NULL);

		if (n > 0)
			return 1;
	}
}

struct sub_open {
	vdds_sub **sub;
	const char *topic;
	const struct vdds_sub_opts *o;
};

static int sub_open(void *arg)
{
	const struct sub_open *a = arg;

	return vdds_sub_open(a->sub, a->topic, a->o);
}

/* Wait for a publisher of topic to appear: a rename or create in the
 * runtime directory, then try again. */
static int wait_for_publisher(const char *topic, int sigfd, const struct vdds_sub_opts *o,
			      vdds_sub **sub)
{
	char dir[CLI_PATH_MAX];
	int err = vdds_rundir(dir, sizeof(dir), 1);

	if (err < 0)
		return err;
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (in < 0)
		return -errno;
	if (inotify_add_watch(in, dir, IN_MOVED_TO | IN_CREATE) < 0) {
		err = -errno;
		close(in);
		return err;
	}
	fprintf(stderr, "vdds: waiting for a publisher of '%s' in %s\n", topic, dir);
	for (;;) {
		/* watch first, then try: a publisher that came in between is seen */
		struct sub_open a = { sub, topic, o };

		err = cli_interruptible(sub_open, &a);
		if (err != -ENOENT)
			break;
		struct pollfd pfd[2] = { { .fd = in, .events = POLLIN },
					 { .fd = sigfd, .events = POLLIN } };
		char buf[4096];

		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (pfd[1].revents) {
			err = 1;
			break;
		}
		while (read(in, buf, sizeof(buf)) > 0) {
			/* drained: look again */
		}
	}
	close(in);
	return err;
}

int cli_subscribe(const char *topic, bool wait, int sigfd, vdds_sub **sub)
{
	struct vdds_sub_opts o = { .reconnect = wait };

	return cli_subscribe_opts(topic, &o, sigfd, sub);
}

int cli_subscribe_opts(const char *topic, const struct vdds_sub_opts *o, int sigfd, vdds_sub **sub)
{
	struct sub_open a = { sub, topic, o };
	int err = cli_interruptible(sub_open, &a);

	if (err == -ENOENT && o->reconnect)
		err = wait_for_publisher(topic, sigfd, o, sub);
	/* a signal during the open: whatever the open made of it (EINTR, or a
	 * timeout of the handshake it restarted), the user asked to stop */
	if (err < 0 && cli_signal_pending(sigfd))
		return 1;
	if (err < 0)
		cli_topic_error(err, topic, "subscribe to");
	return err;
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(f, "\\u%04x",
					*p); /* bytes as code points: names are ASCII */
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void cli_json_base64(FILE *f, const void *data, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;

	fputc('"', f);
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		fputc(tab[v >> 18], f);
		fputc(tab[(v >> 12) & 63], f);
		fputc(i + 1 < len ? tab[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < len ? tab[v & 63] : '=', f);
	}
	fputc('"', f);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	/* clang-format off */
	{ "ls", cli_ls }, { "info", cli_info }, { "echo", cli_echo },     { "pub", cli_pub },
	{ "hz", cli_hz }, { "bw", cli_bw },     { "record", cli_record }, { "play", cli_play },
	{ "mcap", cli_mcap },
	/* clang-format on */
};

int main(int argc, char **argv)
{
	/* a reader that went away (vdds echo t | head -1) is an EPIPE the
	 * commands handle (cli_flush_stdout), not a death by SIGPIPE (141) */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs("vdds: missing COMMAND: ls, info, echo, pub, hz, bw, record or play "
		      "(see vdds --help)\n",
		      stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_help(usage);
	if (!strcmp(argv[1], "--version"))
		return printf("vdds %s\n", vdds_version()), CLI_OK;
	cli_rundir(cli_dir, sizeof(cli_dir));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vdds: unknown command '%s' (see vdds --help)\n", cli_arg(argv[1]));
	return CLI_USAGE;
}
