/* pub.c — `vdds pub TOPIC`: publish a payload from the command line, a
 * file or stdin, once, N times, or at a rate; creates the topic, or says
 * who owns it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
	"usage: vdds pub TOPIC [--rate HZ] [--count N] [--size BYTES] [--slots N]\n"
	"                [--wait-subs N] [--type NAME [--type-size BYTES]]\n"
	"                (DATA | --file F | -)\n"
	"\n"
	"Publish on TOPIC, creating it: the bytes of DATA, of file F, or of stdin ('-')\n"
	"as one sample.\n"
	"\n"
	"  --rate HZ       publish HZ times a second (default: as fast as slots allow)\n"
	"  --count N       publish N samples (default 1; with --rate, until stopped)\n"
	"  --size BYTES    make each sample BYTES long: the payload repeated (zeros if\n"
	"                  it is empty), or cut\n"
	"  --slots N       slots in the topic (default 64); a slot holds the sample, at\n"
	"                  least 4096 bytes\n"
	"  --wait-subs N   first wait until N subscribers are connected\n"
	"  --type NAME     declare the type name subscribers may ask for\n"
	"  --type-size BYTES\n"
	"                  declare the type's size, so that a typed subscriber (one\n"
	"                  naming a size) accepts the topic; each sample is then this\n"
	"                  long (as --size, which may not say otherwise)\n"
	"  --help          this text\n"
	"\n"
	"Ends after the last sample, or on SIGINT or SIGTERM (exit 0). Fails (exit 1)\n"
	"when another process publishes TOPIC already.\n"
	"\n"
	"Example, for a subscriber of a 24-byte type Pose:\n"
	"  vdds pub pose --type Pose --type-size 24 --rate 10 --file pose.bin\n";

struct pub_args {
	double rate;
	uint64_t count, size, slots, wait_subs, type_size;
	const char *file, *data, *type;
	bool have_count, have_size;
};

/* All of fd's bytes into a malloc'd buffer. */
static int slurp(int fd, unsigned char **buf, size_t *len)
{
	size_t cap = 4096;
	unsigned char *p = malloc(cap);

	*len = 0;
	if (!p)
		return -ENOMEM;
	for (;;) {
		if (*len == cap) {
			unsigned char *np = realloc(p, cap *= 2);

			if (!np) {
				free(p);
				return -ENOMEM;
			}
			p = np;
		}
		ssize_t n = read(fd, p + *len, cap - *len);

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(p);
			return -errno;
		}
		*len += (size_t)n;
	}
	*buf = p;
	return 0;
}

static int load_payload(const struct pub_args *a, unsigned char **buf, size_t *len)
{
	if (a->data) {
		*len = strlen(a->data);
		*buf = malloc(*len + 1);
		if (!*buf)
			return cli_fail(CLI_RUNTIME, "out of memory");
		memcpy(*buf, a->data, *len + 1);
		return CLI_OK;
	}
	/* no DATA: --file F, or else '-' (stdin) */
	int fd = a->file ? open(a->file, O_RDONLY | O_CLOEXEC) : 0;
	int err = fd < 0 ? -errno : slurp(fd, buf, len);

	if (fd > 0)
		close(fd);
	if (err < 0)
		return cli_fail(CLI_RUNTIME, "cannot read %s%s%s: %s", a->file ? "'" : "",
				a->file ? a->file : "stdin", a->file ? "'" : "", strerror(-err));
	return CLI_OK;
}

/* The sample: the payload, repeated or cut to `size` bytes if asked. */
static unsigned char *make_sample(unsigned char *payload, size_t len, const struct pub_args *a,
				  size_t *out)
{
	if (!a->have_size) {
		*out = len;
		return payload;
	}
	unsigned char *s = calloc(1, a->size ? a->size : 1);

	if (s && len)
		for (size_t i = 0; i < a->size; i++)
			s[i] = payload[i % len];
	free(payload);
	*out = a->size;
	return s;
}

static int parse(int argc, char **argv, struct pub_args *a)
{
	static const struct option opts[] = { { "rate", required_argument, NULL, 'r' },
					      { "count", required_argument, NULL, 'c' },
					      { "size", required_argument, NULL, 's' },
					      { "slots", required_argument, NULL, 'n' },
					      { "wait-subs", required_argument, NULL, 'w' },
					      { "file", required_argument, NULL, 'f' },
					      { "type", required_argument, NULL, 't' },
					      { "type-size", required_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!cli_parse_double(optarg, 1e-3, 1e6, &a->rate))
				return cli_usage(
					"pub",
					"--rate wants a rate in Hz in [0.001, 1e6], not '%s'",
					cli_arg(optarg));
			break;
		case 'c':
			if (!cli_parse_u64(optarg, 1, UINT64_MAX, &a->count))
				return cli_usage("pub", "--count wants a number >= 1, not '%s'",
						 cli_arg(optarg));
			a->have_count = true;
			break;
		case 's':
			if (!cli_parse_u64(optarg, 0, 1ull << 32, &a->size))
				return cli_usage("pub",
						 "--size wants bytes in [0, 4294967296], not '%s'",
						 cli_arg(optarg));
			a->have_size = true;
			break;
		case 'n':
			if (!cli_parse_u64(optarg, 2, 1u << 20, &a->slots))
				return cli_usage("pub",
						 "--slots wants a count in [2, 1048576], not '%s'",
						 cli_arg(optarg));
			break;
		case 'w':
			if (!cli_parse_u64(optarg, 0, VDDS_MAX_SUBSCRIBERS, &a->wait_subs))
				return cli_usage("pub",
						 "--wait-subs wants a count in [0, %d], not '%s'",
						 VDDS_MAX_SUBSCRIBERS, cli_arg(optarg));
			break;
		case 'f': a->file = optarg; break;
		case 't':
			if (strlen(optarg) > VDDS_TYPE_NAME_MAX)
				return cli_usage("pub", "--type is at most %d bytes",
						 VDDS_TYPE_NAME_MAX);
			a->type = optarg;
			break;
		case 'T':
			if (!cli_parse_u64(optarg, 1, UINT32_MAX, &a->type_size))
				return cli_usage("pub",
						 "--type-size wants bytes in [1, 4294967295], not "
						 "'%s'",
						 cli_arg(optarg));
			break;
		case 'h': return cli_help(help) == CLI_OK ? -1 : CLI_RUNTIME; /* -1: exit 0 */
		default:
			return cli_usage("pub", "unknown option or missing value: '%s'",
					 cli_arg(argv[optind - 1]));
		}
	}
	if (a->type_size && a->have_size && a->size != a->type_size)
		return cli_usage("pub",
				 "--size %llu and --type-size %llu differ: a typed sample is "
				 "exactly the type's size",
				 (unsigned long long)a->size, (unsigned long long)a->type_size);
	if (a->type_size && !a->have_size) {
		a->size = a->type_size; /* the payload repeated or cut to the type */
		a->have_size = true;
	}
	if (optind == argc)
		return cli_usage("pub", "missing TOPIC");
	if (cli_check_topic("pub", argv[optind]))
		return CLI_USAGE;
	int rest = argc - optind - 1;

	if (rest > 1)
		return cli_usage("pub", "one DATA only (quote it)");
	if (rest == 1 && a->file)
		return cli_usage("pub", "DATA or --file, not both");
	if (rest == 0 && !a->file)
		return cli_usage("pub", "nothing to publish: give DATA, --file F or - (stdin)");
	if (rest == 1 && strcmp(argv[optind + 1], "-") != 0)
		a->data = argv[optind + 1]; /* else '-': stdin, with neither data nor file */
	if (!a->have_count)
		a->count = a->rate > 0 ? 0 : 1; /* 0: until stopped */
	return CLI_OK;
}

/* Who publishes topic already: asked within the usual deadline, without
 * blocking on a publisher that does not answer. */
static int owned(const char *topic)
{
	struct vdds_topic_info *m = calloc(1, sizeof(*m));
	int pid = 0;

	if (m) {
		pid = vdds_topic_info(cli_dir, topic, m, CLI_INFO_WAIT_MS) == 0 ? m->pid : 0;
		free(m);
	}
	if (pid > 0)
		return cli_fail(CLI_RUNTIME, "topic '%s' already has a publisher (pid %d) in %s",
				topic, pid, cli_dir);
	return cli_fail(CLI_RUNTIME, "topic '%s' already has a publisher in %s", topic, cli_dir);
}

static int wait_subs(vdds_pub *pub, uint64_t n, int sigfd)
{
	struct vdds_pub_stats st;

	for (;;) {
		if (vdds_pub_stats(pub, &st) == 0 && st.subscribers >= n)
			return 0;
		if (cli_sleep_until(cli_mono_ns() + 5000000u, sigfd))
			return 1;
	}
}

/* Loan (waiting for a slot, but never past a signal) and publish. 1 when a
 * signal came first. */
static int publish(vdds_pub *pub, const unsigned char *s, size_t len, int sigfd)
{
	void *buf;
	int err;

	while ((err = vdds_pub_loan(pub, &buf, 100)) == -ETIMEDOUT)
		if (cli_signal_read(sigfd))
			return 1;
	if (err < 0)
		return err;
	memcpy(buf, s, len);
	return vdds_pub_publish(pub, buf, len);
}

int cli_pub(int argc, char **argv)
{
	struct pub_args a = { 0 };
	int rc = parse(argc, argv, &a);

	if (rc != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	const char *topic = argv[optind];
	unsigned char *payload = NULL, *sample;
	size_t len = 0;

	if ((rc = load_payload(&a, &payload, &len)) != CLI_OK)
		return rc;
	if (!(sample = make_sample(payload, len, &a, &len)))
		return cli_fail(CLI_RUNTIME, "out of memory");
	struct vdds_pub_opts o = { .slot_size = len > 4096 ? len : 4096,
				   .slot_count = (uint32_t)a.slots,
				   .type_name = a.type,
				   .type_size = (uint32_t)a.type_size };
	vdds_pub *pub;
	int err = vdds_pub_open(&pub, topic, &o);

	if (err == -EEXIST) {
		free(sample);
		return owned(topic);
	}
	if (err < 0) {
		free(sample);
		return cli_topic_error(err, topic, "publish on");
	}
	/* blocked from here on, for the signalfd: nothing above waits long
	 * (owned() is bounded), so until now a signal simply ends the process */
	int sigfd = cli_signal_fd();

	if (sigfd < 0) {
		vdds_pub_close(pub);
		free(sample);
		return cli_fail(CLI_RUNTIME, "signalfd: %s", strerror(-sigfd));
	}
	uint64_t sent = 0, t0;
	uint64_t period = a.rate > 0 ? (uint64_t)(1e9 / a.rate) : 0;
	int stopped = a.wait_subs ? wait_subs(pub, a.wait_subs, sigfd) : 0;

	rc = CLI_OK;
	t0 = cli_mono_ns();
	while (!stopped && (a.count == 0 || sent < a.count)) {
		if (period && (stopped = cli_sleep_until(t0 + sent * period, sigfd)))
			break;
		err = publish(pub, sample, len, sigfd);
		if (err > 0)
			break;
		if (err < 0) {
			rc = cli_fail(CLI_RUNTIME, "publishing on '%s': %s", topic,
				      cli_lib_error(err));
			break;
		}
		sent++;
	}
	fprintf(stderr, "vdds: published %llu sample%s of %zu bytes on '%s'\n",
		(unsigned long long)sent, sent == 1 ? "" : "s", len, topic);
	vdds_pub_close(pub);
	free(sample);
	close(sigfd);
	return rc;
}
