/* ls.c — `vdds ls`: every topic in the runtime directory, all asked over
 * their sockets at once within one deadline; sockets left by dead
 * publishers shown as stale, and with --prune removed, under the topic's
 * lock so that a live or starting publisher's files are never touched. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"

static const char help[] =
	"usage: vdds ls [--json] [--prune] [--timeout MS]\n"
	"\n"
	"List every topic in the runtime directory: its publisher's pid, subscribers,\n"
	"free and total slots, samples published and type. All publishers are asked at\n"
	"once; one that has not answered within the timeout is unresponsive. A socket\n"
	"whose publisher died is stale; a *.sock that is not a socket (a regular file,\n"
	"FIFO or symlink) is not-socket and is never followed.\n"
	"\n"
	"  --json        one JSON object (fields in vdds(1))\n"
	"  --prune       remove stale sockets and lock files: only sockets that refused\n"
	"                a connection, and only while this command holds the topic's\n"
	"                lock, which a live or starting publisher would hold instead\n"
	"  --timeout MS  how long to wait for all answers together (default 2000)\n"
	"  --help        this text\n";

enum state { LIVE, STALE, REFUSED, OLD, SILENT, BROKEN, GONE, NOT_SOCKET };
static const char *const state_names[] = { "live",         "stale",  "refused", "old-protocol",
					   "unresponsive", "broken", "gone",    "not-socket" };

static enum state state_of(int err)
{
	switch (-err) {
	case 0: return LIVE;
	case ECONNREFUSED: return STALE; /* a socket nobody listens on */
	case EACCES: return REFUSED;
	case EPROTO: return OLD;
	case ETIMEDOUT: return SILENT;
	case ENOENT: return GONE; /* removed, or hung up as it closes */
	case ENOTSOCK: return NOT_SOCKET;
	default: return BROKEN;
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A listing being gathered: the names so far, and room for how many. */
struct scan {
	struct cli_probes *p;
	size_t cap;
};

/* vdds_topic_list's callback: one more name. */
static int add_topic(const char *topic, void *arg)
{
	struct scan *sc = arg;
	struct cli_probes *p = sc->p;

	if (p->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 16;
		char **nt = realloc(p->topic, cap * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		p->topic = nt;
		sc->cap = cap;
	}
	if (!(p->topic[p->n] = strdup(topic)))
		return -ENOMEM;
	p->n++;
	return 0;
}

/* Every topic with a file of this suffix in dir, sorted, into *p. Names are
 * only read here: nothing is opened or followed. Returns 0 or -errno. */
static int scan(const char *dir, const char *suffix, struct cli_probes *p)
{
	struct scan sc = { p, 0 };
	int err = vdds_topic_list(dir, suffix, add_topic, &sc);

	if (p->n)
		qsort(p->topic, p->n, sizeof(*p->topic), by_name);
	return err;
}

static void print_json(const struct cli_probes *v)
{
	size_t n = v->n;

	fputs("{\"dir\":", stdout);
	cli_json_str(stdout, cli_dir);
	fputs(",\"topics\":[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct vdds_topic_info *m = &v->info[i];
		enum state st = state_of(v->err[i]);

		fputs(i ? ",{\"topic\":" : "{\"topic\":", stdout);
		cli_json_str(stdout, v->topic[i]);
		printf(",\"state\":\"%s\"", state_names[st]);
		if (st == LIVE) {
			printf(",\"pid\":%d,\"subscribers\":%u,\"slot_count\":%u,\"free_slots\":%u,"
			       "\"loaned_slots\":%u,\"published\":%" PRIu64 ",\"type_name\":",
			       m->pid, m->n_subs, m->slot_count, m->free_slots, m->loaned_slots,
			       m->published);
			cli_json_str(stdout, m->type_name);
		}
		fputs("}", stdout);
	}
	fputs("]}\n", stdout);
}

static void print_text(const struct cli_probes *v)
{
	size_t n = v->n;

	if (n == 0) {
		fprintf(stderr, "vdds: no topics in %s\n", cli_dir);
		return;
	}
	printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", "TOPIC", "STATE", "PID", "SUBS",
	       "FREE/SLOTS", "PUBLISHED", "TYPE");
	for (size_t i = 0; i < n; i++) {
		const struct vdds_topic_info *m = &v->info[i];
		enum state st = state_of(v->err[i]);

		if (st != LIVE) {
			printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", v->topic[i],
			       state_names[st], "-", "-", "-", "-", "-");
			continue;
		}
		char slots[32], type[ESC_NAME_MAX];

		snprintf(slots, sizeof(slots), "%u/%u", m->free_slots, m->slot_count);
		/* the publisher chose its type name: escaped before a terminal sees it */
		printf("%-24s %-12s %-8d %-5u %-11s %-10" PRIu64 " %s\n", v->topic[i], "live",
		       m->pid, m->n_subs, slots, m->published,
		       m->type_name[0] ? esc_str(m->type_name, type, sizeof(type)) : "-");
	}
}

/* Unlink <topic><suffix> if it is still a file of this kind (S_IFSOCK,
 * S_IFREG): what is not what vdds made there is left alone. */
static void unlink_if(const char *topic, const char *suffix, mode_t kind)
{
	char path[CLI_PATH_MAX];
	struct stat st;

	if (vdds_topic_path(cli_dir, topic, suffix, path, sizeof(path)) == 0 &&
	    lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind)
		unlink(path);
}

/* Remove a topic's files if nobody holds its lock: a live publisher holds it
 * from before its socket exists until after it is gone, so holding it here
 * means none is live or starting. Unlink the lock file before letting go of
 * it, as a publisher does: one that opened it meanwhile finds it unlinked
 * and takes a fresh one. Returns 1 if removed, 0 if held, or -errno. */
static int prune_one(const char *topic)
{
	int fd = vdds_topic_lock(cli_dir, topic, ".lock", O_RDWR);

	if (fd == -EEXIST)
		return 0;
	if (fd < 0)
		return fd;
	unlink_if(topic, ".sock", S_IFSOCK);
	unlink_if(topic, ".new", S_IFSOCK);
	unlink_if(topic, ".lock", S_IFREG);
	close(fd);
	return 1;
}

/* Lock or half-made socket files of topics that have nothing at all at
 * <topic>.sock: prune_one decides under the lock. */
static int prune_leftovers(void)
{
	static const char *const leftovers[] = { ".lock", ".new" };
	int removed = 0;

	for (size_t k = 0; k < 2; k++) {
		struct cli_probes w = { 0 };

		scan(cli_dir, leftovers[k], &w);
		for (size_t i = 0; i < w.n; i++) {
			char path[CLI_PATH_MAX];
			struct stat st;

			if (vdds_topic_path(cli_dir, w.topic[i], ".sock", path, sizeof(path)) < 0 ||
			    lstat(path, &st) == 0)
				continue;
			if (prune_one(w.topic[i]) > 0) {
				fprintf(stderr, "vdds: removed leftover files of '%s'\n",
					w.topic[i]);
				removed++;
			}
		}
		cli_probes_free(&w);
	}
	return removed;
}

/* Every socket that refused a connection (its publisher died: the kernel
 * says nobody listens), then leftovers; nothing else is ever removed. */
static int prune(const struct cli_probes *v)
{
	int removed = 0, failed = 0;

	for (size_t i = 0; i < v->n; i++) {
		if (state_of(v->err[i]) != STALE)
			continue;
		int r = prune_one(v->topic[i]);

		if (r < 0) {
			cli_fail(0, "cannot prune '%s': %s", v->topic[i], strerror(-r));
			failed = 1;
		} else if (r > 0) {
			fprintf(stderr, "vdds: removed stale socket of '%s'\n", v->topic[i]);
			removed++;
		}
	}
	removed += prune_leftovers();
	if (removed == 0 && !failed)
		fprintf(stderr, "vdds: nothing stale in %s\n", cli_dir);
	return failed ? CLI_RUNTIME : CLI_OK;
}

int cli_ls(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "prune", no_argument, NULL, 'p' },
					      { "timeout", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool json = false, do_prune = false;
	uint64_t timeout = CLI_INFO_WAIT_MS;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'p')
			do_prune = true;
		else if (c == 't' && cli_parse_u64(optarg, 1, 600000, &timeout))
			continue;
		else if (c == 't' || optopt == 't') /* a bad value, or none */
			return cli_usage("ls", "--timeout wants milliseconds in [1, 600000]");
		else if (c == 'h')
			return cli_help(help);
		else
			return cli_usage("ls", "unknown option '%s'", cli_arg(argv[optind - 1]));
	}
	if (optind != argc)
		return cli_usage("ls", "unexpected argument '%s'", cli_arg(argv[optind]));
	int err = cli_rundir(cli_dir, CLI_PATH_MAX);

	if (err == -EACCES)
		return cli_fail(CLI_RUNTIME,
				"runtime directory %s is not trusted: owned by another user or "
				"writable by others",
				cli_dir);
	if (err != 0 && err != -ENOENT)
		return cli_fail(CLI_RUNTIME, "cannot use runtime directory %s: %s", cli_dir,
				strerror(-err));
	struct cli_probes v = { 0 };
	int rc = CLI_OK;

	for (int pass = 0; err == 0 && pass < 1 + do_prune; pass++) {
		cli_probes_free(&v);
		err = scan(cli_dir, ".sock", &v);
		if (err == 0)
			err = cli_probe(&v, (int)timeout);
		if (err < 0) {
			cli_probes_free(&v);
			return cli_fail(CLI_RUNTIME, "cannot list %s: %s", cli_dir, strerror(-err));
		}
		if (do_prune && pass == 0)
			rc = prune(&v); /* then list what is left */
	}
	if (do_prune && err == -ENOENT)
		fprintf(stderr, "vdds: nothing stale in %s\n", cli_dir);
	if (json)
		print_json(&v);
	else
		print_text(&v);
	cli_probes_free(&v);
	err = cli_flush_stdout();
	return rc == CLI_OK ? err : rc;
}
