/* play.c — `vdds play FILE.mcap`: publish what an MCAP file recorded, one
 * publisher per topic, with the recorded publish times' spacing scaled by
 * --rate; again and again with --loop. The file is read once to find the
 * topics and messages, then each message again by its place: what is read
 * the second time is checked once more (the file may have changed). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "mcap.h"

static const char help[] =
	"usage: vdds play FILE.mcap [--rate X] [--loop] [--wait-subs N] [--topics A,B...]\n"
	"                 [--start T] [--end T]\n"
	"\n"
	"Publish every message of an MCAP file (chunked or not; zstd, lz4 or\n"
	"uncompressed; from vdds record or any other writer; a FIFO or pipe too) on\n"
	"its channel's topic, in the order and with the spacing of their publish\n"
	"times (their log times where a publish time is 0): one publisher per\n"
	"topic, its slots as large as the topic's largest message, its type name the\n"
	"channel's schema name. Channels whose topic is not a vdds topic name are\n"
	"skipped. A file cut short (a recording killed) is played up to its last\n"
	"complete record, and what was lost is said.\n"
	"\n"
	"  --rate X        play X times as fast (default 1; 0.5 is half speed)\n"
	"  --loop          start over at the end, until stopped\n"
	"  --wait-subs N   first wait until every topic has N subscribers\n"
	"  --topics LIST   only these topics (comma-separated)\n"
	"  --start T       only messages logged at or after T, and\n"
	"  --end T         up to T: nanoseconds since the epoch (log time), or\n"
	"                  +SECONDS after the file's first message; chunks outside\n"
	"                  the range are skipped unread\n"
	"  --help          this text\n"
	"\n"
	"Ends after the last message, or on SIGINT or SIGTERM (exit 0), also while\n"
	"it is still reading the file.\n";

struct ptopic {
	char name[VDDS_TOPIC_MAX + 1];
	char type[VDDS_TYPE_NAME_MAX + 1];
	uint32_t type_size, slots;
	size_t max_len;
	vdds_pub *pub;
	size_t slot_size; /* what each message is checked against */
};

/* One message to play: when, and where in the file (or, from a stream, its
 * bytes). */
struct cue {
	uint64_t time;
	struct mcap_pos pos;
	uint16_t channel;
	unsigned char *data; /* a stream's copy; NULL: read it at pos */
	size_t len;
};

/* A --start or --end: absolute nanoseconds, or relative to the first
 * message's log time. */
struct bound {
	bool set, relative;
	uint64_t ns;
};

/* What play holds, whatever the file: a cue per message (40 bytes), and
 * from a stream the messages themselves (compressed chunks can expand far
 * beyond the bytes that came). */
#define PLAY_MAX_MESSAGES (1u << 24)
#define PLAY_MAX_HELD (1ull << 30)

struct play {
	const char *path;
	double rate;
	bool loop, stream;
	uint64_t wait_subs;
	char *topics_arg; /* --topics, NULL: all */
	struct bound start, end;
	uint64_t t_lo, t_hi;
	struct mcap_reader *rd;
	struct ptopic topics[MCAP_MAX_CHANNELS];
	int n_topics;
	int by_channel[65536]; /* channel id -> topic index + 1; 0: skipped */
	struct cue *cues;      /* every message to play, in time order */
	size_t n_cues, cap_cues;
	uint64_t held; /* bytes of the stream's messages kept */
	int sigfd;
};

static const char *meta(const struct mcap_channel *ch, const char *key)
{
	for (int i = 0; i < ch->n_meta; i++)
		if (!strcmp(ch->meta[i].key, key))
			return ch->meta[i].value;
	return NULL;
}

static int read_error(struct play *p, int err)
{
	if (err == -EBADMSG || err == -ENODATA)
		return cli_fail(CLI_RUNTIME, "%s: %s", p->path, mcap_reader_error(p->rd));
	return cli_fail(CLI_RUNTIME, "reading %s: %s", p->path, strerror(-err));
}

static bool topic_wanted(const struct play *p, const char *topic)
{
	size_t n = strlen(topic);

	if (!p->topics_arg)
		return true;
	for (const char *s = p->topics_arg; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
		if (!strncmp(s, topic, n) && (s[n] == ',' || s[n] == '\0'))
			return true;
	return false;
}

/* A new channel: its topic (found or added), or skipped. */
static void map_channel(struct play *p, const struct mcap_channel *c)
{
	char esc[ESC_NAME_MAX];
	int t;

	if (vdds_topic_check(c->topic) < 0) {
		fprintf(stderr, "vdds: skipping channel '%s': not a vdds topic name\n",
			esc_str(c->topic, esc, sizeof(esc)));
		return;
	}
	if (!topic_wanted(p, c->topic))
		return;
	for (t = 0; t < p->n_topics && strcmp(p->topics[t].name, c->topic) != 0; t++)
		;
	if (t == p->n_topics) {
		struct ptopic *pt = &p->topics[p->n_topics++];
		const char *v;
		uint64_t u;

		snprintf(pt->name, sizeof(pt->name), "%s", c->topic);
		if (strlen(c->schema_name) <= VDDS_TYPE_NAME_MAX)
			snprintf(pt->type, sizeof(pt->type), "%s", c->schema_name);
		if ((v = meta(c, "vdds.type_size")) && cli_parse_u64(v, 0, UINT32_MAX, &u))
			pt->type_size = (uint32_t)u;
		if ((v = meta(c, "vdds.slot_count")) && cli_parse_u64(v, 2, 1u << 20, &u))
			pt->slots = (uint32_t)u;
	}
	p->by_channel[c->id] = t + 1;
}

static uint64_t bound_ns(const struct bound *b, uint64_t first, uint64_t dflt)
{
	if (!b->set)
		return dflt;
	return b->relative ? first + b->ns : b->ns;
}

static int add_cue(struct play *p, const struct mcap_message *m, int t)
{
	if (p->n_cues == PLAY_MAX_MESSAGES)
		return -E2BIG;
	if (p->stream && m->len > PLAY_MAX_HELD - p->held)
		return -EFBIG;
	if (p->n_cues == p->cap_cues) {
		size_t cap = p->cap_cues ? 2 * p->cap_cues : 1024;
		struct cue *c = realloc(p->cues, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		p->cues = c;
		p->cap_cues = cap;
	}
	struct cue *c = &p->cues[p->n_cues];

	*c = (struct cue){ m->publish_time ? m->publish_time : m->log_time, m->pos, m->channel->id,
			   NULL, m->len };
	if (p->stream) { /* no second read of a stream: keep the bytes */
		if (m->len && !(c->data = malloc(m->len)))
			return -ENOMEM;
		if (m->len)
			memcpy(c->data, m->data, m->len);
		p->held += m->len;
	}
	p->n_cues++;
	if (m->len > p->topics[t].max_len)
		p->topics[t].max_len = m->len;
	return 0;
}

/* Map each channel to a topic and find each topic's largest message. */
static int survey(struct play *p)
{
	struct mcap_message m;
	const struct mcap_channel *ch;
	int err, n_seen = 0;
	bool first = true;

	/* absolute bounds are known now: the index can skip the first chunks too */
	if (!p->start.relative && !p->end.relative)
		mcap_reader_set_range(p->rd, bound_ns(&p->start, 0, 0),
				      bound_ns(&p->end, 0, UINT64_MAX));
	while ((err = mcap_reader_next(p->rd, &m)) > 0) {
		int n = mcap_reader_channels(p->rd, &ch);

		for (; n_seen < n; n_seen++)
			map_channel(p, &ch[n_seen]);
		if (first) { /* the range is known once the first time is */
			p->t_lo = bound_ns(&p->start, m.log_time, 0);
			p->t_hi = bound_ns(&p->end, m.log_time, UINT64_MAX);
			mcap_reader_set_range(p->rd, p->t_lo, p->t_hi);
			first = false;
		}
		int t = p->by_channel[m.channel->id] - 1;

		if (t < 0 || m.log_time < p->t_lo || m.log_time > p->t_hi)
			continue;
		if ((err = add_cue(p, &m, t)) == -E2BIG)
			return cli_fail(CLI_RUNTIME,
					"%s: more than %u messages to play (play's bound)", p->path,
					PLAY_MAX_MESSAGES);
		if (err == -EFBIG)
			return cli_fail(
				CLI_RUNTIME,
				"%s: more than 1 GiB of messages from a stream (play's bound)",
				p->path);
		if (err < 0)
			return cli_fail(CLI_RUNTIME, "out of memory");
	}
	if (err == -EINTR)
		return -1;
	if (err == -ENODATA) {
		struct stat st;
		uint64_t good = mcap_reader_good_bytes(p->rd);

		if (!p->stream && stat(p->path, &st) == 0 && (uint64_t)st.st_size >= good)
			fprintf(stderr,
				"vdds: %s is cut short (%s): playing what its first %" PRIu64
				" bytes hold; the last %" PRIu64 " bytes are lost\n",
				p->path, mcap_reader_error(p->rd), good,
				(uint64_t)st.st_size - good);
		else
			fprintf(stderr,
				"vdds: %s is cut short (%s): playing what its first %" PRIu64
				" bytes hold\n",
				p->path, mcap_reader_error(p->rd), good);
	} else if (err < 0) {
		return read_error(p, err);
	}
	if (p->n_topics == 0)
		return cli_fail(CLI_RUNTIME, "%s: no message on a vdds topic to play", p->path);
	return CLI_OK;
}

/* By time, then file order: a recorder writes each topic's samples as it
 * takes them, so the file may interleave topics out of publish order. */
static int by_time(const void *a, const void *b)
{
	const struct cue *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->pos.chunk != y->pos.chunk)
		return x->pos.chunk < y->pos.chunk ? -1 : 1;
	return x->pos.off < y->pos.off ? -1 : x->pos.off > y->pos.off;
}

static int open_pubs(struct play *p)
{
	for (int i = 0; i < p->n_topics; i++) {
		struct ptopic *t = &p->topics[i];
		struct vdds_pub_opts o = { .slot_size = t->max_len > 4096 ? t->max_len : 4096,
					   .slot_count = t->slots,
					   .type_name = t->type,
					   .type_size = t->type_size };

		t->slot_size = o.slot_size;
		int err = vdds_pub_open(&t->pub, t->name, &o);

		if (err == -EEXIST)
			return cli_fail(CLI_RUNTIME, "topic '%s' already has a publisher in %s",
					t->name, cli_dir);
		if (err < 0)
			return cli_topic_error(err, t->name, "publish on");
	}
	return CLI_OK;
}

static int wait_subs(struct play *p)
{
	struct vdds_pub_stats st;

	for (int i = 0; i < p->n_topics; i++) {
		while (vdds_pub_stats(p->topics[i].pub, &st) == 0 && st.subscribers < p->wait_subs)
			if (cli_sleep_until(cli_mono_ns() + 5000000u, p->sigfd))
				return 1;
	}
	return 0;
}

/* Publish one message; 1 if a signal came while waiting for a slot. */
static int publish(struct play *p, const struct ptopic *t, const void *data, size_t len)
{
	void *buf;
	int err;

	while ((err = vdds_pub_loan(t->pub, &buf, 100)) == -ETIMEDOUT)
		if (cli_signal_read(p->sigfd))
			return 1;
	if (err < 0)
		return err;
	if (len) /* data is NULL for an empty message */
		memcpy(buf, data, len);
	return vdds_pub_publish(t->pub, buf, len);
}

/* The bytes of cue c, read again and checked again: the file may have
 * changed since the survey, so its channel must still map to a topic and its
 * length fit that topic's slots. Sets *t; 0 or an exit code + 2. */
static int fetch(struct play *p, const struct cue *c, int *t, const void **data, size_t *len)
{
	struct mcap_message m;
	int err;

	if (c->data || p->stream) {
		*t = p->by_channel[c->channel] - 1;
		*data = c->data;
		*len = c->len;
		return 0;
	}
	if ((err = mcap_reader_message_at(p->rd, c->pos, &m)) < 0)
		return err == -EINTR ? 1 : read_error(p, err) + 2;
	*t = p->by_channel[m.channel->id] - 1;
	if (*t < 0 || m.len > p->topics[*t].slot_size)
		return cli_fail(CLI_RUNTIME, "%s changed while playing: a message no longer fits",
				p->path) +
		       2;
	*data = m.data;
	*len = m.len;
	return 0;
}

/* One pass over the file. Returns 0 at its end, 1 on a signal, or an exit
 * code + 2 on an error (printed). */
static int play_once(struct play *p, uint64_t *played)
{
	uint64_t start = cli_mono_ns();
	int err;

	for (size_t i = 0; i < p->n_cues; i++) {
		const struct cue *c = &p->cues[i];
		const void *data = NULL;
		size_t len = 0;
		int t = -1;

		if (cli_sleep_until(
			    start + (uint64_t)((double)(c->time - p->cues[0].time) / p->rate),
			    p->sigfd))
			return 1;
		if ((err = fetch(p, c, &t, &data, &len)) != 0)
			return err;
		if ((err = publish(p, &p->topics[t], data, len)) > 0)
			return 1;
		if (err < 0)
			return cli_fail(CLI_RUNTIME, "publishing on '%s': %s", p->topics[t].name,
					cli_lib_error(err)) +
			       2;
		(*played)++;
	}
	return 0;
}

static bool parse_bound(const char *s, struct bound *b)
{
	double sec;
	uint64_t ns;

	b->set = true;
	b->relative = s[0] == '+';
	if (b->relative) {
		if (!cli_parse_double(s + 1, 0, 1e9, &sec) && strcmp(s + 1, "0") != 0)
			return false;
		b->ns = strcmp(s + 1, "0") ? (uint64_t)llround(sec * 1e9) : 0;
		return true;
	}
	if (!cli_parse_u64(s, 0, UINT64_MAX, &ns))
		return false;
	b->ns = ns;
	return true;
}

static int parse(struct play *p, int argc, char **argv)
{
	static const struct option opts[] = { { "rate", required_argument, NULL, 'r' },
					      { "loop", no_argument, NULL, 'l' },
					      { "wait-subs", required_argument, NULL, 'w' },
					      { "topics", required_argument, NULL, 't' },
					      { "start", required_argument, NULL, 's' },
					      { "end", required_argument, NULL, 'e' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!cli_parse_double(optarg, 1e-3, 1e6, &p->rate))
				return cli_usage("play",
						 "--rate wants a factor in [0.001, 1e6], not '%s'",
						 optarg);
			break;
		case 'l': p->loop = true; break;
		case 'w':
			if (!cli_parse_u64(optarg, 0, VDDS_MAX_SUBSCRIBERS, &p->wait_subs))
				return cli_usage("play",
						 "--wait-subs wants a count in [0, %d], not '%s'",
						 VDDS_MAX_SUBSCRIBERS, optarg);
			break;
		case 't': p->topics_arg = optarg; break;
		case 's':
		case 'e':
			if (!parse_bound(optarg, c == 's' ? &p->start : &p->end))
				return cli_usage("play",
						 "--%s wants nanoseconds or +SECONDS, not '%s'",
						 c == 's' ? "start" : "end", optarg);
			break;
		case 'h': cli_help(help); return -1;
		default:
			return cli_usage("play", "unknown option or missing value: '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage("play", optind == argc ? "missing FILE.mcap" : "one FILE only");
	p->path = argv[optind];
	return CLI_OK;
}

/* Open the file; a FIFO without a writer yet is opened non-blocking (the
 * reader then waits for its bytes together with the signals). */
static int open_input(struct play *p)
{
	struct stat st;
	int fd = open(p->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), err;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return cli_fail(CLI_RUNTIME, "cannot read '%s': %s", p->path, strerror(err));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return cli_fail(CLI_RUNTIME, "cannot read '%s': it is a directory", p->path);
	}
	p->stream = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
	err = mcap_reader_open(&p->rd, fd, p->stream, p->sigfd);
	if (err == -EINTR)
		return -1;
	if (err == -EBADMSG || err == -ENODATA)
		return cli_fail(CLI_RUNTIME, "%s: %s", p->path, mcap_reader_error(p->rd));
	if (err < 0)
		return cli_fail(CLI_RUNTIME, "cannot read '%s': %s", p->path, strerror(-err));
	return CLI_OK;
}

int cli_play(int argc, char **argv)
{
	struct play *p = calloc(1, sizeof(*p));
	int rc = CLI_RUNTIME;
	uint64_t played = 0;

	if (!p)
		return cli_fail(CLI_RUNTIME, "out of memory");
	p->rate = 1;
	p->sigfd = -1;
	if ((rc = parse(p, argc, argv)) != CLI_OK || !p->path) {
		rc = rc < 0 ? CLI_OK : rc;
		goto out;
	}
	/* signals first: they end the parse of a large file or a wait on a FIFO */
	if ((p->sigfd = cli_signal_fd()) < 0) {
		rc = cli_fail(CLI_RUNTIME, "signalfd: %s", strerror(-p->sigfd));
		goto out;
	}
	if ((rc = open_input(p)) != CLI_OK || (rc = survey(p)) != CLI_OK ||
	    (rc = open_pubs(p)) != CLI_OK) {
		if (rc < 0) {
			fprintf(stderr, "vdds: stopped by a signal\n");
			rc = CLI_OK;
		}
		goto out;
	}
	qsort(p->cues, p->n_cues, sizeof(*p->cues), by_time);
	int r = p->wait_subs ? wait_subs(p) : 0;

	while (r == 0 && p->n_cues > 0) {
		r = play_once(p, &played);
		if (!p->loop)
			break;
	}
	rc = r >= 2 ? r - 2 : CLI_OK;
	if (r == 1)
		fprintf(stderr, "vdds: stopped by a signal\n");
	fprintf(stderr, "vdds: played %" PRIu64 " message%s on %d topic%s from %s\n", played,
		played == 1 ? "" : "s", p->n_topics, p->n_topics == 1 ? "" : "s", p->path);
out:
	for (int i = 0; i < p->n_topics; i++)
		vdds_pub_close(p->topics[i].pub);
	mcap_reader_close(p->rd);
	for (size_t i = 0; i < p->n_cues; i++)
		free(p->cues[i].data);
	free(p->cues);
	if (p->sigfd >= 0)
		close(p->sigfd);
	free(p);
	return rc;
}
