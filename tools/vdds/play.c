/* play.c — `vdds play FILE.mcap`: publish what an MCAP file recorded, one
 * publisher per topic, with the recorded publish times' spacing scaled by
 * --rate; again and again with --loop. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mcap.h"
#include "rundir.h"

static const char help[] =
	"usage: vdds play FILE.mcap [--rate X] [--loop] [--wait-subs N]\n"
	"\n"
	"Publish every message of an MCAP file (unchunked, as vdds record writes them)\n"
	"on its channel's topic, in the order and with the spacing of their publish\n"
	"times (their log times where a publish time is 0): one publisher per\n"
	"topic, its slots as large as the topic's largest message, its type name the\n"
	"channel's schema name. Channels whose topic is not a vdds topic name are\n"
	"skipped.\n"
	"\n"
	"  --rate X        play X times as fast (default 1; 0.5 is half speed)\n"
	"  --loop          start over at the end, until stopped\n"
	"  --wait-subs N   first wait until every topic has N subscribers\n"
	"  --help          this text\n"
	"\n"
	"Ends after the last message, or on SIGINT or SIGTERM (exit 0).\n";

struct ptopic {
	char name[VDDS_TOPIC_MAX + 1];
	char type[VDDS_TYPE_NAME_MAX + 1];
	uint32_t type_size, slots;
	size_t max_len;
	vdds_pub *pub;
};

/* One message to play: when, and where in the file. */
struct cue {
	uint64_t time, offset;
};

struct play {
	const char *path;
	double rate;
	bool loop;
	uint64_t wait_subs;
	struct mcap_reader *rd;
	struct ptopic topics[MCAP_MAX_CHANNELS];
	int n_topics;
	int by_channel[65536]; /* channel id -> topic index + 1; 0: skipped */
	struct cue *cues;      /* every message to play, in time order */
	size_t n_cues, cap_cues;
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
	if (err == -EBADMSG || err == -ENOTSUP)
		return cli_fail(CLI_RUNTIME, "%s: %s", p->path, mcap_reader_error(p->rd));
	return cli_fail(CLI_RUNTIME, "reading %s: %s", p->path, strerror(-err));
}

/* Map each channel to a topic and find each topic's largest message. */
static int survey(struct play *p)
{
	struct mcap_message m;
	const struct mcap_channel *ch;
	int err, n_seen = 0;

	while ((err = mcap_reader_next(p->rd, &m)) > 0) {
		int n = mcap_reader_channels(p->rd, &ch);

		for (; n_seen < n; n_seen++) {
			const struct mcap_channel *c = &ch[n_seen];
			int t;

			if (vdds__topic_valid(c->topic) < 0) {
				fprintf(stderr,
					"vdds: skipping channel '%s': not a vdds topic name\n",
					c->topic);
				continue;
			}
			for (t = 0; t < p->n_topics && strcmp(p->topics[t].name, c->topic) != 0;
			     t++)
				;
			if (t == p->n_topics) {
				struct ptopic *pt = &p->topics[p->n_topics++];
				const char *v;
				uint64_t u;

				snprintf(pt->name, sizeof(pt->name), "%s", c->topic);
				if (strlen(c->schema_name) <= VDDS_TYPE_NAME_MAX)
					snprintf(pt->type, sizeof(pt->type), "%s", c->schema_name);
				if ((v = meta(c, "vdds.type_size")) &&
				    cli_parse_u64(v, 0, UINT32_MAX, &u))
					pt->type_size = (uint32_t)u;
				if ((v = meta(c, "vdds.slot_count")) &&
				    cli_parse_u64(v, 2, 1u << 20, &u))
					pt->slots = (uint32_t)u;
			}
			p->by_channel[c->id] = t + 1;
		}
		int t = p->by_channel[m.channel->id] - 1;

		if (t < 0)
			continue;
		if (m.len > p->topics[t].max_len)
			p->topics[t].max_len = m.len;
		if (p->n_cues == p->cap_cues) {
			size_t cap = p->cap_cues ? 2 * p->cap_cues : 1024;
			struct cue *c = realloc(p->cues, cap * sizeof(*c));

			if (!c)
				return cli_fail(CLI_RUNTIME, "out of memory");
			p->cues = c;
			p->cap_cues = cap;
		}
		p->cues[p->n_cues++] = (struct cue){ m.publish_time ? m.publish_time : m.log_time,
						     m.offset };
	}
	if (err < 0)
		return read_error(p, err);
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
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int open_pubs(struct play *p)
{
	for (int i = 0; i < p->n_topics; i++) {
		struct ptopic *t = &p->topics[i];
		struct vdds_pub_opts o = { .slot_size = t->max_len > 4096 ? t->max_len : 4096,
					   .slot_count = t->slots,
					   .type_name = t->type,
					   .type_size = t->type_size };
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
static int publish(struct play *p, vdds_pub *pub, const struct mcap_message *m)
{
	void *buf;
	int err;

	while ((err = vdds_pub_loan(pub, &buf, 100)) == -ETIMEDOUT)
		if (cli_signal_read(p->sigfd))
			return 1;
	if (err < 0)
		return err;
	memcpy(buf, m->data, m->len);
	return vdds_pub_publish(pub, buf, m->len);
}

/* One pass over the file. Returns 0 at its end, 1 on a signal, or an exit
 * code + 2 on an error (printed). */
static int play_once(struct play *p, uint64_t *played)
{
	struct mcap_message m;
	uint64_t start = cli_mono_ns();
	int err;

	for (size_t i = 0; i < p->n_cues; i++) {
		const struct cue *c = &p->cues[i];

		if (cli_sleep_until(
			    start + (uint64_t)((double)(c->time - p->cues[0].time) / p->rate),
			    p->sigfd))
			return 1;
		if ((err = mcap_reader_message_at(p->rd, c->offset, &m)) < 0)
			return read_error(p, err) + 2;
		int t = p->by_channel[m.channel->id] - 1;

		if ((err = publish(p, p->topics[t].pub, &m)) > 0)
			return 1;
		if (err < 0)
			return cli_fail(CLI_RUNTIME, "publishing on '%s': %s", p->topics[t].name,
					vdds_strerror(err)) +
			       2;
		(*played)++;
	}
	return 0;
}

int cli_play(int argc, char **argv)
{
	static const struct option opts[] = { { "rate", required_argument, NULL, 'r' },
					      { "loop", no_argument, NULL, 'l' },
					      { "wait-subs", required_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct play *p = calloc(1, sizeof(*p));
	int c, rc = CLI_RUNTIME;

	if (!p)
		return cli_fail(CLI_RUNTIME, "out of memory");
	p->rate = 1;
	p->sigfd = -1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!cli_parse_double(optarg, 1e-3, 1e6, &p->rate)) {
				rc = cli_usage("play",
					       "--rate wants a factor in [0.001, 1e6], not '%s'",
					       optarg);
				goto out;
			}
			break;
		case 'l': p->loop = true; break;
		case 'w':
			if (!cli_parse_u64(optarg, 0, VDDS_MAX_SUBSCRIBERS, &p->wait_subs)) {
				rc = cli_usage("play",
					       "--wait-subs wants a count in [0, %d], not '%s'",
					       VDDS_MAX_SUBSCRIBERS, optarg);
				goto out;
			}
			break;
		case 'h': rc = cli_help(help); goto out;
		default:
			rc = cli_usage("play", "unknown option or missing value: '%s'",
				       argv[optind - 1]);
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage("play", optind == argc ? "missing FILE.mcap" : "one FILE only");
		goto out;
	}
	p->path = argv[optind];
	int err = mcap_reader_open(&p->rd, p->path);

	if (err == -EBADMSG) {
		rc = cli_fail(CLI_RUNTIME, "%s: %s", p->path, mcap_reader_error(p->rd));
		goto out;
	}
	if (err < 0) {
		rc = cli_fail(CLI_RUNTIME, "cannot read '%s': %s", p->path, strerror(-err));
		goto out;
	}
	if ((p->sigfd = cli_signal_fd()) < 0) {
		rc = cli_fail(CLI_RUNTIME, "signalfd: %s", strerror(-p->sigfd));
		goto out;
	}
	if ((rc = survey(p)) != CLI_OK || (rc = open_pubs(p)) != CLI_OK)
		goto out;
	qsort(p->cues, p->n_cues, sizeof(*p->cues), by_time);
	uint64_t played = 0;
	int r = p->wait_subs ? wait_subs(p) : 0;

	while (r == 0) {
		r = play_once(p, &played);
		if (!p->loop)
			break;
	}
	rc = r >= 2 ? r - 2 : CLI_OK;
	if (r == 1)
		fprintf(stderr, "vdds: stopped by a signal\n");
	fprintf(stderr, "vdds: played %" PRIu64 " messages on %d topics from %s\n", played,
		p->n_topics, p->path);
out:
	for (int i = 0; i < p->n_topics; i++)
		vdds_pub_close(p->topics[i].pub);
	mcap_reader_close(p->rd);
	free(p->cues);
	if (p->sigfd >= 0)
		close(p->sigfd);
	free(p);
	return rc;
}
