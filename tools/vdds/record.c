/* record.c — `vdds record -o FILE.mcap TOPIC|PATTERN...`: subscribe to
 * topics, and to those matching shell patterns as they appear (inotify on
 * the runtime directory), and write every sample to an MCAP file with its
 * publish time, seq and type name. One waitset waits on all of them. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cli.h"
#include "mcap.h"
#include "rundir.h"

static const char help[] =
	"usage: vdds record -o FILE.mcap [--count N] [--reconnect] TOPIC|PATTERN...\n"
	"\n"
	"Record samples to an MCAP file (mcap.dev): one channel per topic, each\n"
	"message with its seq, its publish time and the time it was recorded (both\n"
	"CLOCK_REALTIME nanoseconds), the topic's type name as its schema name.\n"
	"A PATTERN (with * ? or [...], quoted) picks up every matching topic, also\n"
	"those whose publisher starts later.\n"
	"\n"
	"  -o, --output FILE  the file to write (replaced)\n"
	"  --count N          stop after N messages\n"
	"  --reconnect        wait for TOPICs that have no publisher yet, and follow\n"
	"                     each topic to its next publisher\n"
	"  --help             this text\n"
	"\n"
	"Ends on SIGINT or SIGTERM, and when every recorded publisher went away and no\n"
	"PATTERN or --reconnect waits for more (exit 0); the file is complete then.\n";

#define MAX_TOPICS 256

struct topic {
	char name[VDDS_TOPIC_MAX + 1];
	vdds_sub *sub; /* NULL when not subscribed */
	uint16_t channel;
	char type[VDDS_TYPE_NAME_MAX + 1];
};

struct rec {
	char **want; /* the TOPIC|PATTERN arguments */
	int n_want;
	bool reconnect, any_pattern;
	uint64_t count, written;
	struct topic topics[MAX_TOPICS];
	int n_topics, live;
	vdds_waitset *ws;
	struct mcap_writer *mcap;
	const char *path;
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

/* A channel for topic t, or its channel again if the type is unchanged. */
static int channel_for(struct rec *r, struct topic *t)
{
	struct vdds__msg_info m;
	char size[24], slot[24], slots[24];
	const char *type = "";

	memset(&m, 0, sizeof(m));
	if (vdds__introspect(cli_dir, t->name, &m, CLI_INFO_WAIT_MS) == 0)
		type = m.type_name;
	if (t->channel && !strcmp(t->type, type))
		return 0;
	snprintf(t->type, sizeof(t->type), "%s", type);
	snprintf(size, sizeof(size), "%u", m.type_size);
	snprintf(slot, sizeof(slot), "%" PRIu64, m.slot_size);
	snprintf(slots, sizeof(slots), "%u", m.slot_count);
	const struct mcap_kv meta[] = { { "vdds.type_name", type },
					{ "vdds.type_size", size },
					{ "vdds.slot_size", slot },
					{ "vdds.slot_count", slots } };

	return mcap_writer_channel(r->mcap, t->name, type, "x-vdds-raw", meta, 4, &t->channel);
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

		if (vdds__topic_valid(topic) == 0 && wanted(r, topic) && !(t && t->sub))
			start(r, topic); /* -ENOENT: a stale socket; others: try next time */
	}
	closedir(d);
}

/* Take and write everything t has. Returns 1 when --count is reached. */
static int drain(struct rec *r, struct topic *t)
{
	struct vdds_sample s;
	int err;

	while ((err = vdds_sub_take(t->sub, &s)) == 0) {
		uint64_t now = cli_real_ns();

		err = mcap_writer_message(r->mcap, t->channel, (uint32_t)s.seq, now,
					  (uint64_t)((int64_t)s.timestamp_ns + r->real_minus_mono),
					  s.data, s.len);
		vdds_sub_release(t->sub, &s);
		if (err < 0)
			return cli_fail(CLI_RUNTIME, "writing %s: %s", r->path, strerror(-err)), -1;
		if (++r->written == r->count)
			return 1;
	}
	if (err == -EAGAIN)
		return 0;
	if (err == -EPIPE)
		fprintf(stderr, "vdds: the publisher of '%s' went away\n", t->name);
	else
		fprintf(stderr, "vdds: stopped recording '%s': %s\n", t->name, vdds_strerror(err));
	stop(r, t);
	return 0;
}

static int parse(int argc, char **argv, struct rec *r)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { "count", required_argument, NULL, 'c' },
					      { "reconnect", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': r->path = optarg; break;
		case 'c':
			if (!cli_parse_u64(optarg, 1, UINT64_MAX, &r->count))
				return cli_usage("record", "--count wants a number >= 1, not '%s'",
						 optarg);
			break;
		case 'r': r->reconnect = true; break;
		case 'h': return cli_help(help) - 1;
		default:
			return cli_usage("record", "unknown option or missing value: '%s'",
					 argv[optind - 1]);
		}
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

static int run(struct rec *r, int sigfd, int watch)
{
	for (;;) {
		if (r->live == 0 && !r->any_pattern && !r->reconnect) {
			fprintf(stderr, "vdds: every recorded publisher went away\n");
			return CLI_OK;
		}
		struct vdds_event ev[16];
		int n = vdds_waitset_wait(r->ws, ev, 16, -1);

		if (n < 0)
			return cli_fail(CLI_RUNTIME, "waitset: %s", vdds_strerror(n));
		for (int i = 0; i < n; i++) {
			if (ev[i].user == &sigfd) {
				int sig = cli_signal_read(sigfd);

				fprintf(stderr, "vdds: stopped by %s\n",
					sig == SIGTERM ? "SIGTERM" : "SIGINT");
				return CLI_OK;
			}
			if (ev[i].user == &watch) {
				char buf[4096];

				while (read(watch, buf, sizeof(buf)) > 0) {
					/* drained: look at the directory */
				}
				scan(r);
				continue;
			}
			struct topic *t = ev[i].user;
			int d = t->sub ? drain(r, t) : 0;

			if (d != 0)
				return d > 0 ? CLI_OK : CLI_RUNTIME;
		}
	}
}

int cli_record(int argc, char **argv)
{
	struct rec *r = calloc(1, sizeof(*r));
	int rc, sigfd = -1, watch = -1, err;

	if (!r)
		return cli_fail(CLI_RUNTIME, "out of memory");
	if ((rc = parse(argc, argv, r)) != CLI_OK) {
		free(r);
		return rc < 0 ? CLI_OK : rc;
	}
	rc = CLI_RUNTIME;
	r->real_minus_mono = (int64_t)(cli_real_ns() - cli_mono_ns());
	sigfd = cli_signal_fd();
	err = sigfd < 0 ? sigfd : vdds_waitset_new(&r->ws);
	if (err == 0)
		err = vdds_waitset_add_fd(r->ws, sigfd, POLLIN, &sigfd);
	if (err < 0) { /* each returns -errno, which errno need not hold */
		cli_fail(CLI_RUNTIME, "setting up: %s", strerror(-err));
		goto out;
	}
	if ((err = mcap_writer_open(&r->mcap, r->path, "x-vdds", "vdds record")) < 0) {
		cli_fail(CLI_RUNTIME, "cannot write '%s': %s", r->path, strerror(-err));
		r->mcap = NULL;
		goto out;
	}
	if (r->any_pattern || r->reconnect) {
		/* watch before scanning: a publisher that starts in between is seen */
		char dir[VDDS_PATH_MAX];

		watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		err = vdds__rundir(dir, sizeof(dir), 1, 0);
		if (err < 0 || watch < 0 ||
		    inotify_add_watch(watch, dir, IN_MOVED_TO | IN_CREATE) < 0 ||
		    vdds_waitset_add_fd(r->ws, watch, POLLIN, &watch) < 0) {
			cli_fail(CLI_RUNTIME, "cannot watch %s: %s", dir,
				 err < 0 ? strerror(-err) : strerror(errno));
			goto out;
		}
	}
	if ((rc = start_named(r)) != CLI_OK)
		goto out;
	if (r->any_pattern)
		scan(r);
	rc = run(r, sigfd, watch);
out:
	for (int i = 0; i < r->n_topics; i++)
		if (r->topics[i].sub)
			stop(r, &r->topics[i]);
	if (r->mcap) {
		err = mcap_writer_close(r->mcap);
		if (rc != CLI_OK && r->written == 0)
			unlink(r->path); /* it never started: leave nothing behind */
		else if (err < 0)
			rc = cli_fail(CLI_RUNTIME, "writing %s: %s", r->path, strerror(-err));
		else
			fprintf(stderr, "vdds: wrote %" PRIu64 " messages on %d topics to %s\n",
				r->written, r->n_topics, r->path);
	}
	vdds_waitset_free(r->ws);
	if (watch >= 0)
		close(watch);
	if (sigfd >= 0)
		close(sigfd);
	free(r);
	return rc;
}
