/* rate.c — `vdds hz` and `vdds bw`: a topic's publish rate (with the
 * spread of its intervals) and its bandwidth, over a window of the last
 * samples, from their publish timestamps. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

static const char hz_help[] =
	"usage: vdds hz TOPIC [--window N] [--count N] [--reconnect]\n"
	"\n"
	"Print TOPIC's publish rate once a second: the mean rate over the intervals\n"
	"between the last N samples' publish times, and those intervals' minimum,\n"
	"maximum and standard deviation.\n"
	"\n"
	"  --window N    intervals to measure over (default 1000)\n"
	"  --count N     stop after N samples, printing the last line\n"
	"  --reconnect   wait for a publisher, and for the next one\n"
	"  --help        this text\n";

static const char bw_help[] =
	"usage: vdds bw TOPIC [--window N] [--count N] [--reconnect]\n"
	"\n"
	"Print TOPIC's bandwidth once a second: bytes per second over the last N\n"
	"samples' publish times, and their mean, minimum and maximum size.\n"
	"\n"
	"  --window N    samples to measure over (default 1000)\n"
	"  --count N     stop after N samples, printing the last line\n"
	"  --reconnect   wait for a publisher, and for the next one\n"
	"  --help        this text\n";

struct rate {
	bool bw;
	uint64_t window, count, seen;
	uint64_t *t;   /* publish times, a ring of window + 1 */
	uint64_t *len; /* sizes, same ring */
	uint64_t n;    /* samples in the ring */
	uint64_t head; /* next slot */
	uint32_t epoch;
	bool printed_since; /* a line for the samples seen so far */
};

static uint64_t at(const struct rate *r, uint64_t i) /* i-th oldest */
{
	return (r->head + (r->window + 1) - r->n + i) % (r->window + 1);
}

static void print_hz(const struct rate *r)
{
	if (r->n < 2) {
		printf("rate: no interval yet (%" PRIu64 " sample%s)\n", r->n,
		       r->n == 1 ? "" : "s");
		return;
	}
	double sum = 0, sq = 0, lo = INFINITY, hi = 0;
	uint64_t k = r->n - 1;

	for (uint64_t i = 0; i < k; i++) {
		double d = (double)(r->t[at(r, i + 1)] - r->t[at(r, i)]);

		sum += d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	double mean = sum / (double)k;

	for (uint64_t i = 0; i < k; i++) {
		double d = (double)(r->t[at(r, i + 1)] - r->t[at(r, i)]) - mean;

		sq += d * d;
	}
	printf("rate: %.3f Hz  min: %.3f ms  max: %.3f ms  std dev: %.3f ms  window: %" PRIu64 "\n",
	       mean > 0 ? 1e9 / mean : 0.0, lo / 1e6, hi / 1e6, sqrt(sq / (double)k) / 1e6, k);
}

static void print_bw(const struct rate *r)
{
	if (r->n < 2) {
		printf("bw: no interval yet (%" PRIu64 " sample%s)\n", r->n, r->n == 1 ? "" : "s");
		return;
	}
	uint64_t total = 0, after_first = 0, lo = UINT64_MAX, hi = 0;

	for (uint64_t i = 0; i < r->n; i++) {
		uint64_t l = r->len[at(r, i)];

		total += l;
		after_first += i ? l : 0;
		lo = l < lo ? l : lo;
		hi = l > hi ? l : hi;
	}
	double span = (double)(r->t[at(r, r->n - 1)] - r->t[at(r, 0)]) / 1e9;
	double bps = span > 0 ? (double)after_first / span : 0;

	printf("bw: %.2f KiB/s (%.0f B/s)  mean: %.0f B  min: %" PRIu64 " B  max: %" PRIu64
	       " B  window: %" PRIu64 "\n",
	       bps / 1024, bps, (double)total / (double)r->n, lo, hi, r->n);
}

static void report(void *ctx)
{
	struct rate *r = ctx;

	if (r->bw)
		print_bw(r);
	else
		print_hz(r);
	fflush(stdout);
	r->printed_since = true;
}

static void report_end(void *ctx)
{
	struct rate *r = ctx;

	if (!r->printed_since)
		report(r);
}

static int on_sample(void *ctx, const struct vdds_sample *s)
{
	struct rate *r = ctx;

	if (s->epoch != r->epoch) { /* a new publisher: its own clock of samples */
		r->n = 0;
		r->epoch = s->epoch;
	}
	r->t[r->head] = s->timestamp_ns;
	r->len[r->head] = s->len;
	r->head = (r->head + 1) % (r->window + 1);
	if (r->n < r->window + 1)
		r->n++;
	r->printed_since = false;
	if (++r->seen == r->count) {
		report(r);
		return 1;
	}
	return 0;
}

static int run(int argc, char **argv, bool bw)
{
	static const struct option opts[] = { { "window", required_argument, NULL, 'w' },
					      { "count", required_argument, NULL, 'c' },
					      { "reconnect", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *cmd = bw ? "bw" : "hz";
	struct rate r = { .bw = bw, .window = 1000 };
	struct cli_loop l = {
		.tick_ms = 1000, .sample = on_sample, .tick = report, .end = report_end
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (!cli_parse_u64(optarg, 1, 10000000, &r.window))
				return cli_usage(
					cmd, "--window wants a count in [1, 10000000], not '%s'",
					cli_arg(optarg));
			break;
		case 'c':
			if (!cli_parse_u64(optarg, 1, UINT64_MAX, &r.count))
				return cli_usage(cmd, "--count wants a number >= 1, not '%s'",
						 cli_arg(optarg));
			break;
		case 'r': l.reconnect = true; break;
		case 'h': return cli_help(bw ? bw_help : hz_help);
		default:
			return cli_usage(cmd, "unknown option or missing value: '%s'",
					 cli_arg(argv[optind - 1]));
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, optind == argc ? "missing TOPIC" : "one TOPIC only");
	l.topic = argv[optind];
	if (cli_check_topic(cmd, l.topic))
		return CLI_USAGE;
	if (bw)
		r.window = r.window > 1 ? r.window - 1 : 1; /* the ring holds window + 1 */
	r.t = calloc(r.window + 1, sizeof(*r.t));
	r.len = calloc(r.window + 1, sizeof(*r.len));
	int rc = r.t && r.len ? cli_run_loop(&l, &r) : cli_fail(CLI_RUNTIME, "out of memory");

	free(r.t);
	free(r.len);
	return rc;
}

int cli_hz(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cli_bw(int argc, char **argv)
{
	return run(argc, argv, true);
}
