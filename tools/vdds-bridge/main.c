/* main.c — vdds-bridge: forwards vdds topics to Eclipse Cyclone DDS and back.
 * Options, signals, and the loop: one vdds waitset over the bridged topics,
 * the listeners' eventfd, the runtime directory's inotify, a signalfd. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bridge.h"
#include "escape.h"

#define DEFAULT_DEPTH 16
#define DEFAULT_SLOT_SIZE 4096
#define DEFAULT_SLOTS 64
#define DEFAULT_GRACE_S 10
#define DEFAULT_PEER_WRITERS 4096

static const char usage[] =
	"usage: vdds-bridge [--out PATTERN...] [--in PATTERN...] [--domain ID]\n"
	"                   [--depth N] [--durable] [--slot-size BYTES] [--slots N]\n"
	"                   [--grace SECONDS] [--peer-writers N]\n"
	"  --out PATTERN...   forward local vdds topics matching these globs to DDS\n"
	"  --in PATTERN...    forward DDS topics vdds/<match> into local vdds topics\n"
	"  --domain ID        DDS domain (default: Cyclone's default domain)\n"
	"  --depth N          keep-last depth of DDS writers and readers (default 16)\n"
	"  --durable          transient-local: a late DDS reader gets the last sample\n"
	"  --slot-size BYTES  slot size of imported topics, K/M/G suffixes (default 4096)\n"
	"  --slots N          slots of imported topics (default 64)\n"
	"  --grace SECONDS    an import ends this long after its last DDS writer left\n"
	"                     (default 10; 0: at once)\n"
	"  --peer-writers N   DDS writers of vdds topics counted per remote participant;\n"
	"                     more are ignored (default 4096)\n"
	"DDS topic vdds/<mapped name> carries vdds topic <name>: '_' is \"__\", '-' \"_h\",\n"
	"'.' \"_d\"; camera-front travels as vdds/camera_hfront (see vdds-bridge(1)).\n"
	"Cyclone DDS reads everything else from CYCLONEDDS_URI. SIGUSR1 prints counters.\n";

/* ---------------------------------------------------------------- options */

static int bad_usage(const char *what, const char *why)
{
	char shown[ESC_NAME_MAX];

	/* what may be a user's argument of any length and content */
	fprintf(stderr, "vdds-bridge: %s: %s\n%s", esc_str(what, shown, sizeof(shown)), why, usage);
	return 2;
}

/* A number in [min, max], with an optional K, M or G (binary) suffix. */
static int parse_num(const char *s, unsigned long long min, unsigned long long max, bool units,
		     unsigned long long *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	if (units && *end) {
		const char *u = strchr("KMG", *end);

		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (unsigned)(u - "KMG" + 1);
		end++;
	}
	if (*end || v > (max >> shift) || (v << shift) < min)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Patterns after --out or --in: up to the next option; also --out=PATTERN. */
static int take_patterns(int argc, char **argv, int *i, const char *eq, const char **list, int *n)
{
	int before = *n;

	if (eq) {
		if (*n == BRIDGE_MAX_PATTERNS)
			return -E2BIG;
		list[(*n)++] = eq;
		return 0;
	}
	while (*i + 1 < argc && argv[*i + 1][0] != '-') {
		if (*n == BRIDGE_MAX_PATTERNS)
			return -E2BIG;
		list[(*n)++] = argv[++*i];
	}
	return *n > before ? 0 : -EINVAL;
}

/* A pattern matches vdds names only: one with a character no name can hold
 * ('/', a space, ...) outside a bracket expression is a mistake, not a filter.
 * Inside brackets anything goes: [!/] is a legal way to say "not a slash". */
static bool pattern_can_match(const char *pat)
{
	bool in_brackets = false;

	for (const char *c = pat; *c; c++) {
		if (in_brackets) {
			in_brackets = *c != ']';
			continue;
		}
		if (*c == '[') {
			in_brackets = true;
			continue;
		}
		if (!isalnum((unsigned char)*c) && !strchr("_-.*?\\", *c))
			return false;
	}
	return true;
}

static int parse_args(int argc, char **argv, struct bridge_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long v = 0;
		const char *want = "missing or bad value";
		int err = 0;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf("vdds-bridge %s (Cyclone DDS)\n", vdds_version());
			exit(0);
		} else if (!strncmp(a, "--out", len) && len == 5) {
			err = take_patterns(argc, argv, &i, eq ? eq + 1 : NULL, o->out, &o->n_out);
		} else if (!strncmp(a, "--in", len) && len == 4) {
			err = take_patterns(argc, argv, &i, eq ? eq + 1 : NULL, o->in, &o->n_in);
		} else if (!strcmp(a, "--durable")) {
			o->durable = true;
		} else if (!val) {
			return bad_usage(a, "unknown option, or its value is missing");
		} else if (!strcmp(a, "--domain")) {
			/* Cyclone's domain ids: 0..230 map onto UDP ports */
			err = parse_num(val, 0, 230, false, &v);
			want = "a DDS domain id is 0 to 230";
			o->domain = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "--depth")) {
			err = parse_num(val, 1, INT32_MAX, false, &v);
			want = "a depth is 1 to 2147483647";
			o->depth = (int32_t)v;
			i++;
		} else if (!strcmp(a, "--slot-size")) {
			err = parse_num(val, 1, 1ull << 40, true, &v);
			want = "a slot size is 1 byte to 1024G (K, M or G suffix)";
			o->slot_size = (size_t)v;
			i++;
		} else if (!strcmp(a, "--slots")) {
			err = parse_num(val, 2, 1u << 20, false, &v);
			want = "slots are 2 to 1048576";
			o->slots = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "--grace")) {
			err = parse_num(val, 0, 86400, false, &v);
			want = "a grace is 0 to 86400 seconds";
			o->grace_s = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "--peer-writers")) {
			err = parse_num(val, 1, 1u << 20, false, &v);
			want = "writers per peer are 1 to 1048576";
			o->peer_writers = (uint32_t)v;
			i++;
		} else {
			return bad_usage(a, "unknown option");
		}
		if (err == -E2BIG)
			return bad_usage(a, "too many patterns");
		if (err < 0)
			return bad_usage(a, want);
	}
	if (o->n_out == 0 && o->n_in == 0)
		return bad_usage("nothing to bridge", "give --out, --in or both");
	for (int k = 0; k < o->n_out + o->n_in; k++) {
		const char *pat = k < o->n_out ? o->out[k] : o->in[k - o->n_out];
		if (!pattern_can_match(pat))
			return bad_usage(pat,
					 "can never match: a vdds topic name has only letters, "
					 "digits, '_', '-' and '.' (and globs * ? [...])");
	}
	return 0;
}

/* ------------------------------------------------------------------ setup */

/* Who we are: this boot, this runtime directory. Bridges that share both
 * share their topics too, and must not import each other's exports. */
static int find_origin(struct bridge *b)
{
	char boot[64] = "";
	struct stat st;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f) {
		if (!fgets(boot, sizeof(boot), f))
			boot[0] = '\0';
		fclose(f);
	}
	boot[strcspn(boot, "\n")] = '\0';
	if (!boot[0] && gethostname(boot, sizeof(boot) - 1) < 0)
		return -errno;
	if (stat(b->rundir, &st) < 0)
		return -errno;
	snprintf(b->origin, sizeof(b->origin), "%s:%llx:%llx", boot, (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	return 0;
}

static int open_fds(struct bridge *b)
{
	sigset_t set;

	/* blocked before Cyclone starts its threads, which inherit the mask:
	 * the three signals then reach only the signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	b->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	b->grace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->signal_fd < 0 || b->wake_fd < 0 || b->retry_fd < 0 || b->grace_fd < 0)
		return -errno;
	int err = vdds_waitset_new(&b->ws);

	if (err < 0)
		return err;
	if ((err = vdds_waitset_add_fd(b->ws, b->signal_fd, POLLIN, NULL)) < 0 ||
	    (err = vdds_waitset_add_fd(b->ws, b->wake_fd, POLLIN, NULL)) < 0 ||
	    (err = vdds_waitset_add_fd(b->ws, b->retry_fd, POLLIN, NULL)) < 0 ||
	    (err = vdds_waitset_add_fd(b->ws, b->grace_fd, POLLIN, NULL)) < 0)
		return err;
	return 0;
}

static void close_all(struct bridge *b)
{
	for (struct topic *t = b->topics; t; t = t->next)
		bridge_stop_topic(b, t);
	bridge_dds_close(b);
	while (b->topics) {
		struct topic *t = b->topics;

		b->topics = t->next;
		free(t);
	}
	vdds_waitset_free(b->ws);
	int fds[] = { b->wake_fd, b->watch_fd, b->signal_fd, b->retry_fd, b->grace_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* ------------------------------------------------------------------- loop */

static void on_signal(struct bridge *b)
{
	struct signalfd_siginfo si;

	while (read(b->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			bridge_print_counters(b, "SIGUSR1");
		else
			b->stop = true;
	}
}

static void on_wake(struct bridge *b)
{
	uint64_t n;

	/* read first, then look at the marks: a mark set after the look comes
	 * with a write that makes the eventfd readable again */
	if (read(b->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (atomic_exchange_explicit(&b->discovery_pending, false, memory_order_acquire))
		bridge_discovery(b);
	for (struct topic *t = b->topics; t; t = t->next)
		if (t->mode == TOPIC_IN &&
		    atomic_exchange_explicit(&t->pending, false, memory_order_acquire))
			bridge_pump_in(b, t);
}

static void on_event(struct bridge *b, const struct vdds_event *ev)
{
	struct topic *t = ev->user;

	switch (ev->kind) {
	case VDDS_EVENT_SUB:
		/* an earlier event of this batch may have stopped the topic */
		if (t->mode == TOPIC_OUT && vdds_sub_fd(t->sub) == ev->fd)
			bridge_pump_out(b, t);
		break;
	case VDDS_EVENT_PUB:
		if (t->mode == TOPIC_IN && vdds_pub_fd(t->pub) == ev->fd)
			vdds_pub_dispatch(t->pub);
		break;
	default:
		if (ev->fd == b->signal_fd)
			on_signal(b);
		else if (ev->fd == b->wake_fd)
			on_wake(b);
		else if (ev->fd == b->watch_fd)
			bridge_rundir_event(b);
		else if (ev->fd == b->retry_fd)
			bridge_retry_stalled(b);
		else if (ev->fd == b->grace_fd)
			bridge_expire_imports(b);
	}
}

int main(int argc, char **argv)
{
	struct bridge b = {
		.opts = { .domain = DDS_DOMAIN_DEFAULT,
			  .depth = DEFAULT_DEPTH,
			  .slot_size = DEFAULT_SLOT_SIZE,
			  .slots = DEFAULT_SLOTS,
			  .grace_s = DEFAULT_GRACE_S,
			  .peer_writers = DEFAULT_PEER_WRITERS },
		.wake_fd = -1,
		.watch_fd = -1,
		.signal_fd = -1,
		.retry_fd = -1,
		.grace_fd = -1,
	};
	int err = parse_args(argc, argv, &b.opts);

	if (err)
		return err;
	/* vdds's runtime directory, with vdds's own checks (owner, mode), made
	 * if missing so that it can be watched before the first topic appears */
	if ((err = vdds_rundir(b.rundir, sizeof(b.rundir), 1)) < 0 || (err = find_origin(&b)) < 0) {
		bridge_log("runtime directory: %s", vdds_strerror(err));
		return 1;
	}
	if ((err = open_fds(&b)) < 0) {
		bridge_log("setting up: %s", vdds_strerror(err));
		goto out;
	}
	if ((err = bridge_dds_open(&b)) < 0)
		goto out;
	char domain[16] = "default";

	if (b.opts.domain != DDS_DOMAIN_DEFAULT)
		snprintf(domain, sizeof(domain), "%u", b.opts.domain);
	if ((err = bridge_watch_rundir(&b)) < 0 ||
	    (err = vdds_waitset_add_fd(b.ws, b.watch_fd, POLLIN, NULL)) < 0) {
		bridge_log("watching %s: %s", b.rundir, vdds_strerror(err));
		goto out;
	}
	/* said once every fd it keeps is open: a count taken now is its baseline */
	bridge_log("running: runtime directory %s, waitset %s, DDS domain %s", b.rundir,
		   vdds_waitset_backend(b.ws), domain);
	on_wake(&b); /* publications discovered before the loop */
	bridge_reap(&b);
	while (!b.stop) {
		struct vdds_event ev[32];
		int n = vdds_waitset_wait(b.ws, ev, 32, -1);

		if (n < 0) {
			bridge_log("waitset: %s", vdds_strerror(n));
			err = n;
			break;
		}
		for (int i = 0; i < n && !b.stop; i++)
			on_event(&b, &ev[i]);
		bridge_note_counters(&b);
		/* after the batch: a later event of it may name a topic let go */
		bridge_reap(&b);
	}
out:
	bridge_print_counters(&b, "exit");
	close_all(&b);
	if (err == 0)
		bridge_log("stopped");
	return err == 0 ? 0 : 1;
}
