/* info.c — `vdds info TOPIC`: everything a publisher says about itself when
 * asked (vdds_topic_info), as text or one JSON object; and asking many
 * topics at once for ls (vdds_topic_info_many) with room for their
 * descriptors. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "escape.h"

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

static void print_text(const char *topic, const struct vdds_topic_info *m)
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
	printf("subscribers:  %u connected (of at most %u)\n", m->n_subs, m->max_subscribers);
	if (m->n_subs)
		printf("  %-8s %-8s %-6s %-6s %-7s %s\n", "PID", "UID", "LANE", "HELD", "QUEUED",
		       "LOST");
	for (uint32_t i = 0; i < m->n_subs; i++) {
		const struct vdds_topic_sub *s = &m->subs[i];

		printf("  %-8d %-8u %-6u %-6u %-7u %" PRIu64 "\n", s->pid, s->uid, s->lane, s->held,
		       s->queued, s->lost);
	}
}

void cli_info_json(FILE *f, const char *topic, const struct vdds_topic_info *m)
{
	fputs("{\"topic\":", f);
	cli_json_str(f, topic);
	fputs(",\"dir\":", f);
	cli_json_str(f, cli_dir);
	fprintf(f, ",\"pid\":%d,\"uid\":%u,\"start_time_ns\":%" PRIu64, m->pid, m->uid,
		m->start_ns);
	fprintf(f, ",\"layout\":{\"slot_size\":%" PRIu64 ",\"slot_count\":%u", m->slot_size,
		m->slot_count);
	fprintf(f, ",\"max_subscribers\":%u,\"type_name\":", m->max_subscribers);
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
		const struct vdds_topic_sub *s = &m->subs[i];

		fprintf(f,
			"%s{\"pid\":%d,\"uid\":%u,\"lane\":%u,\"held\":%u,\"queued\":%u,"
			"\"lost\":%" PRIu64 "}",
			i ? "," : "", s->pid, s->uid, s->lane, s->held, s->queued, s->lost);
	}
	fputs("]}\n", f);
}

/* The one message of each way asking a publisher can fail. */
int cli_introspect_error(int err, const char *topic)
{
	char detail[4 * VDDS_ERROR_DETAIL_MAX + 4];

	/* the library's words, when it has some: which version it speaks */
	if (err == -EPROTO && vdds_last_error_detail()[0])
		return cli_fail(CLI_RUNTIME,
				"the publisher of '%s' speaks an older vdds protocol without "
				"introspection (it answered EPROTO: %s)",
				topic, esc_str(vdds_last_error_detail(), detail, sizeof(detail)));
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
	struct vdds_topic_info *m = calloc(1, sizeof(*m));

	if (!m)
		return cli_fail(CLI_RUNTIME, "out of memory");
	int err = vdds_topic_info(cli_dir, topic, m, CLI_INFO_WAIT_MS);
	int rc = CLI_OK;

	if (err < 0)
		rc = cli_introspect_error(err, topic);
	else if (json)
		cli_info_json(stdout, topic, m);
	else
		print_text(topic, m);
	free(m);
	return rc == CLI_OK ? cli_flush_stdout() : rc;
}

/* ------------------------------------------------------ asking publishers */

/* Let this process hold one descriptor per topic at once where the hard
 * limit allows (vdds_topic_info_many keeps 64 of the soft limit free). */
static void raise_fd_limit(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t need = (rlim_t)want + 64;

	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit more = { need, rl.rlim_max };

		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			more.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &more);
	}
}

int cli_probe(struct cli_probes *p, int timeout_ms)
{
	raise_fd_limit(p->n);
	free(p->info);
	free(p->err);
	p->info = calloc(p->n + 1, sizeof(*p->info));
	p->err = calloc(p->n + 1, sizeof(*p->err));
	if (!p->info || !p->err)
		return -ENOMEM;
	return vdds_topic_info_many(cli_dir, (const char *const *)p->topic, p->n, p->info, p->err,
				    timeout_ms);
}

void cli_probes_free(struct cli_probes *p)
{
	for (size_t i = 0; p->topic && i < p->n; i++)
		free(p->topic[i]);
	free(p->topic);
	free(p->info);
	free(p->err);
	memset(p, 0, sizeof(*p));
}
