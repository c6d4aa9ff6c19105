/* record.c — `vdds record -o FILE.mcap TOPIC|PATTERN...`: subscribe to
 * topics, and to those matching shell patterns as they appear (inotify on
 * the runtime directory), and write every sample to an MCAP file with its
 * publish time, seq and type name. One waitset waits on all of them, on the
 * signals that end it and on the once-a-second flush. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cli.h"
#include "mcap.h"

static const char help[] =
	"usage: vdds record -o FILE.mcap [--count N] [--reconnect] [--compression C]\n"
	"                   [--split-size BYTES] [--split-duration SECONDS] TOPIC|PATTERN...\n"
	"\n"
	"Record samples to an MCAP file (mcap.dev): one channel per topic, each\n"
	"message with its seq, its publish time and the time it was recorded (both\n"
	"CLOCK_REALTIME nanoseconds), the topic's type name as its schema name;\n"
	"chunked, with message and chunk indexes and a summary, so indexed readers\n"
	"seek by time. A PATTERN (with * ? or [...], quoted) picks up every matching\n"
	"topic, also those whose publisher starts later.\n"
	"\n"
	"  -o, --output FILE  the file to write: a new file renamed into place (an\n"
	"                     existing file is replaced, a symbolic link refused),\n"
	"                     or an existing FIFO or character device written to\n"
	"  --count N          stop after N messages\n"
	"  --reconnect        wait for TOPICs that have no publisher yet, and follow\n"
	"                     each topic to its next publisher\n"
	"  --compression C    zstd (default), lz4 or none\n"
	"  --split-size BYTES start a new file when one holds BYTES (before\n"
	"                     compression; K, M, G suffixes); the files are then\n"
	"                     FILE_000.mcap, FILE_001.mcap...\n"
	"  --split-duration S start a new file every S seconds (named the same way)\n"
	"  --help             this text\n"
	"\n"
	"Everything is written out at least once a second (and synced), so a\n"
	"recording killed outright keeps all but its last second: see vdds mcap\n"
	"recover. Ends on SIGINT, SIGTERM or SIGHUP, and when every recorded\n"
	"publisher went away and no PATTERN or --reconnect waits for more (exit 0);\n"
	"the file is complete then.\n";

#define MAX_TOPICS 256

struct topic {
	char name[VDDS_TOPIC_MAX + 1];
	vdds_sub *sub;    /* NULL when not subscribed */
	uint16_t channel; /* in the current file; 0: none yet */
	uint32_t epoch;   /* of the publisher the channel was made for */
	char type[VDDS_TYPE_NAME_MAX + 1];
	uint32_t type_size, slot_count;
	uint64_t slot_size;
};

struct rec {
	char **want; /* the TOPIC|PATTERN arguments */
	int n_want;
	bool reconnect, any_pattern;
	uint64_t count, written;
	enum mcap_compression compression;
	uint64_t split_size, split_ns; /* 0: no splitting */
	struct topic topics[MAX_TOPICS];
	int n_topics, live;
	vdds_waitset *ws;
	int sigfd, watch, tick; /* each one's address is its waitset key */
	struct mcap_writer *mcap;
	const char *path; /* -o */
	char part[4096];  /* the file being written: path, or a numbered part */
	char temp[4096];  /* its temporary name until it is renamed; "" after */
	unsigned parts;
	uint64_t part_start;     /* CLOCK_MONOTONIC */
	bool reported;           /* a write error was already said */
	int64_t real_minus_mono; /* to put publish times on CLOCK_REALTIME */
};

static bool is_pattern(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool wanted(const struct rec *r, const char *topic)
{
	for (int i = 0; i < r->n_want; i++)
		if (fnmatch(r->want[i], topic, 0) == 0)
			return true;
	return false;
}

static struct topic *find(struct rec *r, const char *name)
{
	for (int i = 0; i < r->n_topics; i++)
		if (!strcmp(r->topics[i].name, name))
			return &r->topics[i];
	return NULL;
}

/* A write error, said once: every later write fails the same way. */
static int write_failed(struct rec *r, int err)
{
	if (!r->reported)
		cli_fail(CLI_RUNTIME, "writing %s: %s", r->part, strerror(-err));
	r->reported = true;
	return CLI_RUNTIME;
}

/* The topic's Channel in the current file. */
static int declare(struct rec *r, struct topic *t)
{
	char size[24], slot[24], slots[24];

	snprintf(size, sizeof(size), "%u", t->type_size);
	snprintf(slot, sizeof(slot), "%" PRIu64, t->slot_size);
	snprintf(slots, sizeof(slots), "%u", t->slot_count);
	const struct mcap_kv meta[] = { { "vdds.type_name", t->type },
					{ "vdds.type_size", size },
					{ "vdds.slot_size", slot },
					{ "vdds.slot_count", slots } };
	/* the type is named, no schema text: encoding "" */
	const struct mcap_schema sc = { t->type, "", NULL, 0 };

	return mcap_writer_channel(r->mcap, t->name, &sc, "x-vdds-raw", meta, 4, &t->channel);
}

/* A channel for topic t, or its channel again if the type is unchanged. */
static int channel_for(struct rec *r, struct topic *t)
{
	struct vdds_topic_info m;
	const char *type = "";

	memset(&m, 0, sizeof(m));
	if (vdds_topic_info(cli_dir, t->name, &m, CLI_INFO_WAIT_MS) == 0)
		type = m.type_name;
	if (t->channel && !strcmp(t->type, type))
		return 0;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->type_size = m.type_size;
	t->slot_size = m.slot_size;
	t->slot_count = m.slot_count;
	return declare(r, t);
}

/* Subscribe to name (not yet subscribed). 0, or -errno (-ENOENT: no live
 * publisher). */
static int start(struct rec *r, const char *name)
{
	struct topic *t = find(r, name);

	if (!t) {
		if (r->n_topics == MAX_TOPICS)
			return -ENOSPC;
		t = &r->topics[r->n_topics++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name);
	}
	struct vdds_sub_opts o = { .reconnect = r->reconnect };
	int err = vdds_sub_open(&t->sub, name, &o);

	if (err < 0)
		return err;
	if ((err = channel_for(r, t)) < 0 || (err = vdds_waitset_add_sub(r->ws, t->sub, t)) < 0) {
		vdds_sub_close(t->sub);
		t->sub = NULL;
		return err;
	}
	r->live++;
	fprintf(stderr, "vdds: recording '%s'\n", name);
	return 0;
}

static void stop(struct rec *r, struct topic *t)
{
	vdds_waitset_remove(r->ws, vdds_sub_fd(t->sub));
	vdds_sub_close(t->sub);
	t->sub = NULL;
	r->live--;
}

/* Every socket in the directory whose topic is wanted and not recorded. */
static void scan(struct rec *r)
{
	DIR *d = opendir(cli_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char topic[VDDS_TOPIC_MAX + 1];

		if (n <= 5 || n - 5 > VDDS_TOPIC_MAX || strcmp(de->d_name + n - 5, ".sock") != 0)
			continue;
		memcpy(topic, de->d_name, n - 5);
		topic[n - 5] = '\0';
		struct topic *t = find(r, topic);

		if (vdds_topic_check(topic) == 0 && wanted(r, topic) && !(t && t->sub))
			start(r, topic); /* -ENOENT: a stale socket; others: try next time */
	}
	closedir(d);
}

/* SIGINT, SIGTERM and SIGHUP (a closed terminal ends a recording as
 * cleanly as Ctrl-C), blocked, as a signalfd. */
static int signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

/* Open an existing FIFO or character device for writing. A FIFO without a
 * reader is retried (opened non-blocking: a blocking open would sit in the
 * kernel deaf to signals) until one comes or a signal: 1. */
static int open_special(struct rec *r, int *fd)
{
	for (;;) {
		*fd = open(r->part, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (*fd >= 0)
			break;
		if (errno != ENXIO)
			return -errno;
		if (cli_sleep_until(cli_mono_ns() + 50000000u, r->sigfd))
			return 1;
	}
	int fl = fcntl(*fd, F_GETFL);

	if (fl < 0 || fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int err = -errno;

		close(*fd);
		return err;
	}
	return 0;
}

/* Open the file for r->part. -o never follows a symbolic link and never
 * removes what record did not create. A regular file is written under a
 * temporary name in the same directory, created with O_EXCL (so no link is
 * followed and nothing existing is touched), and renamed over r->part once
 * the recording has started (commit()): a recording that fails to start
 * leaves the old file as it was and removes only its own temporary file;
 * rename() replaces a link itself, never its target. An existing FIFO or
 * character device is written to in place (a pipe to another tool) and
 * never removed. Returns 0, 1 on a signal, or -errno. */
static int open_part(struct rec *r)
{
	struct stat st;
	int fd, err;

	r->temp[0] = '\0';
	bool exists = lstat(r->part, &st) == 0;

	if (exists && S_ISLNK(st.st_mode))
		return -ELOOP;
	if (exists && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (exists && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
		if ((err = open_special(r, &fd)) != 0)
			return err;
	} else {
		const char *slash = strrchr(r->part, '/');
		int dirlen = slash ? (int)(slash - r->part + 1) : 0;

		if (snprintf(r->temp, sizeof(r->temp), "%.*s.%s.XXXXXX", dirlen, r->part,
			     r->part + dirlen) >= (int)sizeof(r->temp))
			return -ENAMETOOLONG;
		if ((fd = mkostemp(r->temp, O_CLOEXEC)) < 0) {
			r->temp[0] = '\0';
			return -errno;
		}
		mode_t um = umask(0); /* mkostemp makes it 0600: as a new file would be */

		umask(um);
		fchmod(fd, 0666 & ~um);
	}
	const struct mcap_writer_opts o = { .profile = "x-vdds",
					    .library = "vdds record",
					    .compression = r->compression,
					    .chunk_size = 1u << 20 };

	r->part_start = cli_mono_ns();
	return mcap_writer_open(&r->mcap, fd, &o);
}

/* The recording has started: the file takes its real name. */
static int commit(struct rec *r)
{
	if (!r->temp[0])
		return 0;
	if (rename(r->temp, r->part) < 0)
		return -errno;
	r->temp[0] = '\0';
	return 0;
}

/* Finish the current file. ok: say what it holds. */
static int close_part(struct rec *r, bool ok)
{
	uint64_t n = mcap_writer_messages(r->mcap);
	int err = mcap_writer_close(r->mcap);

	r->mcap = NULL;
	if (r->temp[0]) { /* never started: ours to remove */
		unlink(r->temp);
		r->temp[0] = '\0';
		return 0;
	}
	if (err < 0)
		return write_failed(r, err);
	if (ok && (r->split_size || r->split_ns))
		fprintf(stderr, "vdds: wrote %" PRIu64 " messages to %s\n", n, r->part);
	return 0;
}

static void part_name(struct rec *r)
{
	size_t n = strlen(r->path);

	if (!r->split_size && !r->split_ns)
		snprintf(r->part, sizeof(r->part), "%s", r->path);
	else if (n > 5 && !strcmp(r->path + n - 5, ".mcap"))
		snprintf(r->part, sizeof(r->part), "%.*s_%03u.mcap", (int)(n - 5), r->path,
			 r->parts);
	else
		snprintf(r->part, sizeof(r->part), "%s_%03u", r->path, r->parts);
}

/* Close this part and start the next, every channel declared again. */
static int next_part(struct rec *r)
{
	int err;

	if (close_part(r, true) != 0)
		return CLI_RUNTIME;
	r->parts++;
	part_name(r);
	if ((err = open_part(r)) != 0 || (err = commit(r)) < 0) {
		if (err > 0)
			return CLI_OK; /* a signal while opening: done */
		return cli_fail(CLI_RUNTIME, "cannot write '%s': %s", r->part, strerror(-err));
	}
	for (int i = 0; i < r->n_topics; i++)
		if (r->topics[i].channel && (err = declare(r, &r->topics[i])) < 0)
			return write_failed(r, err);
	return -1;
}

/* Take and write everything t has. Returns -1 to go on, or an exit code:
 * CLI_OK when --count is reached. */
static int drain(struct rec *r, struct topic *t)
{
	struct vdds_sample s;
	int err;

	while ((err = vdds_sub_take(t->sub, &s)) == 0) {
		uint64_t now = cli_real_ns();

		/* a new publisher (--reconnect) may have another type */
		if (s.epoch != t->epoch && (t->epoch = s.epoch, err = channel_for(r, t)) < 0) {
			vdds_sub_release(t->sub, &s);
			return write_failed(r, err);
		}
		err = mcap_writer_message(r->mcap, t->channel, (uint32_t)s.seq, now,
					  (uint64_t)((int64_t)s.timestamp_ns + r->real_minus_mono),
					  s.data, s.len);
		vdds_sub_release(t->sub, &s);
		if (err < 0)
			return write_failed(r, err);
		if (++r->written == r->count)
			return CLI_OK;
		if (r->split_size && mcap_writer_bytes(r->mcap) >= r->split_size &&
		    (err = next_part(r)) >= 0)
			return err;
	}
	if (err == -EAGAIN)
		return -1;
	if (err == -EPIPE)
		fprintf(stderr, "vdds: the publisher of '%s' went away\n", t->name);
	else
		fprintf(stderr, "vdds: stopped recording '%s': %s\n", t->name, cli_lib_error(err));
	stop(r, t);
	return -1;
}

/* BYTES with an optional K, M or G (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t mul = 1;

	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K':
	case 'k': mul = 1ull << 10; break;
	case 'M':
	case 'm': mul = 1ull << 20; break;
	case 'G':
	case 'g': mul = 1ull << 30; break;
	default: break;
	}
	if (mul > 1)
		num[n - 1] = '\0';
	if (!cli_parse_u64(num, 1, UINT64_MAX / mul, out))
		return false;
	*out *= mul;
	return *out >= 4096;
}

static int parse_opt(int c, struct rec *r)
{
	uint64_t v;

	switch (c) {
	case 'o': r->path = optarg; return CLI_OK;
	case 'c':
		if (!cli_parse_u64(optarg, 1, UINT64_MAX, &r->count))
			return cli_usage("record", "--count wants a number >= 1, not '%s'", optarg);
		return CLI_OK;
	case 'r': r->reconnect = true; return CLI_OK;
	case 'z':
		if (!strcmp(optarg, "zstd"))
			r->compression = MCAP_ZSTD;
		else if (!strcmp(optarg, "lz4"))
			r->compression = MCAP_LZ4;
		else if (!strcmp(optarg, "none"))
			r->compression = MCAP_NONE;
		else
			return cli_usage("record", "--compression is zstd, lz4 or none, not '%s'",
					 optarg);
		return CLI_OK;
	case 's':
		if (!parse_size(optarg, &r->split_size))
			return cli_usage("record",
					 "--split-size wants a size >= 4096 (K, M, G), not '%s'",
					 optarg);
		return CLI_OK;
	case 'd':
		if (!cli_parse_u64(optarg, 1, (uint64_t)10 * 365 * 86400, &v))
			return cli_usage("record", "--split-duration wants seconds >= 1, not '%s'",
					 optarg);
		r->split_ns = v * 1000000000ull;
		return CLI_OK;
	case 'h': cli_help(help); return -1;
	default: return cli_usage("record", "unknown option or missing value: '%s'", optarg);
	}
}

static int parse(int argc, char **argv, struct rec *r)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { "count", required_argument, NULL, 'c' },
					      { "reconnect", no_argument, NULL, 'r' },
					      { "compression", required_argument, NULL, 'z' },
					      { "split-size", required_argument, NULL, 's' },
					      { "split-duration", required_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c, rc;

	opterr = 0;
	optind = 1;
	r->compression = MCAP_ZSTD;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			optarg = argv[optind - 1];
		if ((rc = parse_opt(c, r)) != CLI_OK)
			return rc;
	}
	if (!r->path)
		return cli_usage("record", "missing -o FILE.mcap");
	if (optind == argc)
		return cli_usage("record", "missing TOPIC or PATTERN");
	r->want = argv + optind;
	r->n_want = argc - optind;
	for (int i = 0; i < r->n_want; i++) {
		if (is_pattern(r->want[i]))
			r->any_pattern = true;
		else if (cli_check_topic("record", r->want[i]))
			return CLI_USAGE;
	}
	return CLI_OK;
}

/* The TOPICs named outright: each must have a publisher, unless we wait. */
static int start_named(struct rec *r)
{
	for (int i = 0; i < r->n_want; i++) {
		if (is_pattern(r->want[i]) || find(r, r->want[i]))
			continue;
		int err = start(r, r->want[i]);

		if (err == -ENOENT && r->reconnect)
			continue; /* the directory watch brings it */
		if (err < 0)
			return cli_topic_error(err, r->want[i], "record");
	}
	return CLI_OK;
}

/* Once a second: everything so far to the disk; a new part when due. */
static int on_tick(struct rec *r)
{
	uint64_t ticks;
	int err;

	if (read(r->tick, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return cli_fail(CLI_RUNTIME, "timerfd: %s", strerror(errno));
	if (r->split_ns && cli_mono_ns() - r->part_start >= r->split_ns &&
	    mcap_writer_messages(r->mcap) > 0)
		return next_part(r);
	if ((err = mcap_writer_flush(r->mcap)) < 0)
		return write_failed(r, err);
	return -1;
}

static int run(struct rec *r)
{
	for (;;) {
		if (r->live == 0 && !r->any_pattern && !r->reconnect) {
			fprintf(stderr, "vdds: every recorded publisher went away\n");
			return CLI_OK;
		}
		struct vdds_event ev[16];
		int n = vdds_waitset_wait(r->ws, ev, 16, -1), rc;

		if (n < 0)
			return cli_fail(CLI_RUNTIME, "waitset: %s", cli_lib_error(n));
		for (int i = 0; i < n; i++) {
			if (ev[i].user == &r->sigfd) {
				int sig = cli_signal_read(r->sigfd);

				fprintf(stderr, "vdds: stopped by %s\n",
					sig == SIGTERM  ? "SIGTERM"
					: sig == SIGHUP ? "SIGHUP"
							: "SIGINT");
				return CLI_OK;
			}
			if (ev[i].user == &r->tick) {
				if ((rc = on_tick(r)) >= 0)
					return rc;
				continue;
			}
			if (ev[i].user == &r->watch) {
				char buf[4096];

				while (read(r->watch, buf, sizeof(buf)) > 0) {
					/* drained: look at the directory */
				}
				scan(r);
				continue;
			}
			struct topic *t = ev[i].user;

			if (t->sub && (rc = drain(r, t)) >= 0)
				return rc;
		}
	}
}

static int add_fd(struct rec *r, int fd, int *key)
{
	*key = fd;
	return fd < 0 ? -errno : vdds_waitset_add_fd(r->ws, fd, POLLIN, key);
}

/* Signals, the flush tick and (for patterns and --reconnect) the watch on
 * the runtime directory, in the waitset. */
static int setup(struct rec *r)
{
	struct itimerspec one_s = { { 1, 0 }, { 1, 0 } };
	int err;

	if ((r->sigfd = signals()) < 0)
		return cli_fail(CLI_RUNTIME, "signalfd: %s", strerror(-r->sigfd));
	if ((err = vdds_waitset_new(&r->ws)) < 0 || (err = add_fd(r, r->sigfd, &r->sigfd)) < 0 ||
	    (err = add_fd(r, timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
			  &r->tick)) < 0 ||
	    timerfd_settime(r->tick, 0, &one_s, NULL) < 0)
		return cli_fail(CLI_RUNTIME, "setting up: %s", strerror(err < 0 ? -err : errno));
	if (r->any_pattern || r->reconnect) {
		/* watch before scanning: a publisher that starts in between is seen */
		char dir[CLI_PATH_MAX];

		err = vdds_rundir(dir, sizeof(dir), 1);
		if (err < 0 ||
		    (err = add_fd(r, inotify_init1(IN_CLOEXEC | IN_NONBLOCK), &r->watch)) < 0 ||
		    inotify_add_watch(r->watch, dir, IN_MOVED_TO | IN_CREATE) < 0)
			return cli_fail(CLI_RUNTIME, "cannot watch %s: %s", dir,
					strerror(err < 0 ? -err : errno));
	}
	return CLI_OK;
}

int cli_record(int argc, char **argv)
{
	struct rec *r = calloc(1, sizeof(*r));
	int rc, err;

	if (!r)
		return cli_fail(CLI_RUNTIME, "out of memory");
	r->sigfd = r->watch = r->tick = -1;
	if ((rc = parse(argc, argv, r)) != CLI_OK || !r->path) {
		free(r);
		return rc < 0 ? CLI_OK : rc;
	}
	r->real_minus_mono = (int64_t)(cli_real_ns() - cli_mono_ns());
	if ((rc = setup(r)) != CLI_OK)
		goto out;
	part_name(r);
	if ((err = open_part(r)) != 0) {
		if (err > 0)
			goto out; /* a signal while waiting for the FIFO's reader */
		rc = cli_fail(CLI_RUNTIME, "cannot write '%s': %s", r->part,
			      err == -ELOOP ? "it is a symbolic link (not followed)"
					    : strerror(-err));
		goto out;
	}
	if ((rc = start_named(r)) != CLI_OK)
		goto out;
	if (r->any_pattern)
		scan(r);
	if ((err = commit(r)) < 0) {
		rc = cli_fail(CLI_RUNTIME, "cannot write '%s': %s", r->part, strerror(-err));
		goto out;
	}
	rc = run(r);
out:
	for (int i = 0; i < r->n_topics; i++)
		if (r->topics[i].sub)
			stop(r, &r->topics[i]);
	if (r->mcap && close_part(r, rc == CLI_OK) != 0)
		rc = CLI_RUNTIME;
	if (r->temp[0]) /* created, never written to (no memory for a writer) */
		unlink(r->temp);
	if (rc == CLI_OK && (r->split_size || r->split_ns))
		fprintf(stderr, "vdds: wrote %" PRIu64 " message%s on %d topic%s to %u files\n",
			r->written, r->written == 1 ? "" : "s", r->n_topics,
			r->n_topics == 1 ? "" : "s", r->parts + 1);
	else if (rc == CLI_OK)
		fprintf(stderr, "vdds: wrote %" PRIu64 " message%s on %d topic%s to %s\n",
			r->written, r->written == 1 ? "" : "s", r->n_topics,
			r->n_topics == 1 ? "" : "s", r->part);
	vdds_waitset_free(r->ws);
	if (r->watch >= 0)
		close(r->watch);
	if (r->tick >= 0)
		close(r->tick);
	if (r->sigfd >= 0)
		close(r->sigfd);
	free(r);
	return rc;
}
