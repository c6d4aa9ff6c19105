/* echo.c — `vdds echo TOPIC`: print samples with their seq and publish
 * time, as escaped text, hex, raw bytes or one JSON object per line. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "escape.h"
#include "loop.h"

static const char help[] =
	"usage: vdds echo TOPIC [--count N] [--format text|hex|raw|json] [--timeout MS]\n"
	"                 [--reconnect] [--type NAME] [--type-size BYTES]\n"
	"\n"
	"Print each sample published on TOPIC.\n"
	"\n"
	"  --count N     stop after N samples\n"
	"  --format F    text (default): 'seq=S time=T len=L: ' then the bytes, printable\n"
	"                ASCII as is and the rest escaped (\\\\ \\n \\t \\r \\xHH);\n"
	"                hex: the same header, then the bytes in hex;\n"
	"                raw: the exact bytes and nothing else (for pipes);\n"
	"                json: one JSON object per line (fields in vdds(1))\n"
	"  --timeout MS  fail (exit 1) when no sample came for MS milliseconds\n"
	"  --reconnect   wait for a publisher if there is none, and for the next one\n"
	"                when it goes away\n"
	"  --type NAME   subscribe as a typed subscriber would: the publisher's type\n"
	"                name must be NAME\n"
	"  --type-size BYTES\n"
	"                and its type size BYTES\n"
	"  --help        this text\n"
	"\n"
	"T is the publish time, CLOCK_MONOTONIC seconds. Ends on SIGINT or SIGTERM, and\n"
	"when the publisher goes away (exit 0); also when the reader of its output goes\n"
	"away (vdds echo TOPIC | head -1: exit 0).\n";

enum format { TEXT, HEX, RAW, JSON };

struct echo {
	const char *topic;
	enum format format;
	uint64_t count, seen;
};

static void header(const struct vdds_sample *s)
{
	printf("seq=%" PRIu64 " time=%" PRIu64 ".%09" PRIu64 " len=%zu: ", s->seq,
	       s->timestamp_ns / 1000000000u, s->timestamp_ns % 1000000000u, s->len);
}

static int on_sample(void *ctx, const struct vdds_sample *s)
{
	struct echo *e = ctx;
	const unsigned char *p = s->data;

	switch (e->format) {
	case RAW: fwrite(p, 1, s->len, stdout); break;
	case TEXT:
		header(s);
		esc_write(stdout, p, s->len);
		putchar('\n');
		break;
	case HEX:
		header(s);
		for (size_t i = 0; i < s->len; i++)
			printf("%02x", p[i]);
		putchar('\n');
		break;
	case JSON:
		fputs("{\"topic\":", stdout);
		cli_json_str(stdout, e->topic);
		printf(",\"seq\":%" PRIu64 ",\"timestamp_ns\":%" PRIu64 ",\"epoch\":%u,\"len\":%zu"
		       ",\"data\":",
		       s->seq, s->timestamp_ns, s->epoch, s->len);
		cli_json_base64(stdout, p, s->len);
		fputs("}\n", stdout);
		break;
	}
	fflush(stdout);
	return ++e->seen == e->count;
}

int cli_echo(int argc, char **argv)
{
	static const struct option opts[] = { { "count", required_argument, NULL, 'c' },
					      { "format", required_argument, NULL, 'f' },
					      { "timeout", required_argument, NULL, 't' },
					      { "reconnect", no_argument, NULL, 'r' },
					      { "type", required_argument, NULL, 'y' },
					      { "type-size", required_argument, NULL, 'Y' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	static const char *const formats[] = { "text", "hex", "raw", "json" };
	struct echo e = { .format = TEXT };
	struct cli_loop l = { .sample = on_sample };
	uint64_t v;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!cli_parse_u64(optarg, 1, UINT64_MAX, &e.count))
				return cli_usage("echo",
						 "--count wants a number of samples >= 1, not '%s'",
						 cli_arg(optarg));
			break;
		case 'f':
			for (v = 0; v < 4 && strcmp(optarg, formats[v]) != 0; v++)
				;
			if (v == 4)
				return cli_usage("echo",
						 "--format is text, hex, raw or json, not '%s'",
						 cli_arg(optarg));
			e.format = (enum format)v;
			break;
		case 't':
			if (!cli_parse_u64(optarg, 1, INT32_MAX, &v))
				return cli_usage("echo",
						 "--timeout wants milliseconds >= 1, not '%s'",
						 cli_arg(optarg));
			l.timeout_ms = (int)v;
			break;
		case 'r': l.reconnect = true; break;
		case 'y':
			if (strlen(optarg) > VDDS_TYPE_NAME_MAX)
				return cli_usage("echo", "--type is at most %d bytes",
						 VDDS_TYPE_NAME_MAX);
			l.type_name = optarg;
			break;
		case 'Y':
			if (!cli_parse_u64(optarg, 1, UINT32_MAX, &v))
				return cli_usage("echo",
						 "--type-size wants bytes in [1, 4294967295], not "
						 "'%s'",
						 cli_arg(optarg));
			l.type_size = (uint32_t)v;
			break;
		case 'h': return cli_help(help);
		default:
			return cli_usage("echo", "unknown option or missing value: '%s'",
					 cli_arg(argv[optind - 1]));
		}
	}
	if (optind != argc - 1)
		return cli_usage("echo", optind == argc ? "missing TOPIC" : "one TOPIC only");
	e.topic = l.topic = argv[optind];
	if (cli_check_topic("echo", e.topic))
		return CLI_USAGE;
	return cli_run_loop(&l, &e);
}
