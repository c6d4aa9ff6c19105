/* info.c — `vdds info TOPIC`: everything a publisher says about itself when
 * asked over its socket (INFO_REQ), as text or one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"

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
	printf("topic:        %s\n", topic);
	printf("publisher:    pid %d, uid %u, since ", m->pid, m->uid);
	print_time(stdout, m->start_ns);
	printf("\n");
	printf("type:         %s (%u bytes)\n", m->type_name[0] ? m->type_name : "(none)",
	       m->type_size);
	printf("slots:        %u of %" PRIu64 " bytes; %u free, %u loaned\n", m->slot_count,
	       m->slot_size, m->free_slots, m->loaned_slots);
	printf("overflow:     %s, history %u\n", overflow_name(m->overflow), m->history);
	printf("published:    %" PRIu64 "\n", m->published);
	printf("wakeups:      %" PRIu64 "\n", m->wakeups);
	printf("disconnects:  %" PRIu64 " (%" PRIu64 " cut off)\n", m->disconnects, m->kicked);
	if (m->note[0])
		printf("note:         %s\n", m->note);
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
			return cli_usage("info", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc - 1)
		return cli_usage("info", optind == argc ? "missing TOPIC" : "one TOPIC only");
	const char *topic = argv[optind];

	if (cli_check_topic("info", topic))
		return CLI_USAGE;
	struct vdds__msg_info m;
	int err = vdds__introspect(cli_dir, topic, &m, CLI_INFO_WAIT_MS);

	if (err < 0)
		return cli_introspect_error(err, topic);
	if (json)
		cli_info_json(stdout, topic, &m);
	else
		print_text(topic, &m);
	return fflush(stdout) == 0 ? CLI_OK : CLI_RUNTIME;
}
