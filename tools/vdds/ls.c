/* ls.c — `vdds ls`: every topic in the runtime directory, all asked over
 * their sockets at once within one deadline; sockets left by dead
 * publishers shown as stale, and with --prune removed, under the topic's
 * lock so that a live or starting publisher's files are never touched. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "rundir.h"

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

static int by_topic(const void *a, const void *b)
{
	return strcmp(((const struct cli_probe *)a)->topic, ((const struct cli_probe *)b)->topic);
}

/* The topic part of a directory entry named <topic><suffix>, if valid. */
static bool topic_of(const char *name, const char *suffix, char *topic)
{
	size_t n = strlen(name), s = strlen(suffix);

	if (n <= s || n - s > VDDS_TOPIC_MAX || strcmp(name + n - s, suffix) != 0)
		return false;
	memcpy(topic, name, n - s);
	topic[n - s] = '\0';
	return vdds__topic_valid(topic) == 0;
}

/* Every topic with a file of this suffix in dir, sorted; *n entries,
 * malloc'd. Names are only read here: nothing is opened or followed. */
static struct cli_probe *scan(const char *dir, const char *suffix, size_t *n, int *err)
{
	DIR *d = opendir(dir);
	struct cli_probe *v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	*err = 0;
	if (!d) {
		*err = -errno;
		return NULL;
	}
	while ((de = readdir(d))) {
		char topic[VDDS_TOPIC_MAX + 1];

		if (!topic_of(de->d_name, suffix, topic))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct cli_probe *nv = realloc(v, cap * sizeof(*v));

			if (!nv) {
				*err = -ENOMEM;
				break;
			}
			v = nv;
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		snprintf(v[*n].topic, sizeof(v[*n].topic), "%s", topic);
		(*n)++;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof(*v), by_topic);
	return v;
}

static void print_json(const struct cli_probe *v, size_t n)
{
	fputs("{\"dir\":", stdout);
	cli_json_str(stdout, cli_dir);
	fputs(",\"topics\":[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct vdds__msg_info *m = &v[i].info;
		enum state st = state_of(v[i].err);

		fputs(i ? ",{\"topic\":" : "{\"topic\":", stdout);
		cli_json_str(stdout, v[i].topic);
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

static void print_text(const struct cli_probe *v, size_t n)
{
	if (n == 0) {
		fprintf(stderr, "vdds: no topics in %s\n", cli_dir);
		return;
	}
	printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", "TOPIC", "STATE", "PID", "SUBS",
	       "FREE/SLOTS", "PUBLISHED", "TYPE");
	for (size_t i = 0; i < n; i++) {
		const struct vdds__msg_info *m = &v[i].info;
		enum state st = state_of(v[i].err);

		if (st != LIVE) {
			printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", v[i].topic,
			       state_names[st], "-", "-", "-", "-", "-");
			continue;
		}
		char slots[32], type[ESC_NAME_MAX];

		snprintf(slots, sizeof(slots), "%u/%u", m->free_slots, m->slot_count);
		/* the publisher chose its type name: escaped before a terminal sees it */
		printf("%-24s %-12s %-8d %-5u %-11s %-10" PRIu64 " %s\n", v[i].topic, "live",
		       m->pid, m->n_subs, slots, m->published,
		       m->type_name[0] ? esc_str(m->type_name, type, sizeof(type)) : "-");
	}
}

/* Unlink <topic><suffix> if it is still a file of this kind (S_IFSOCK,
 * S_IFREG): what is not what vdds made there is left alone. */
static void unlink_if(const char *topic, const char *suffix, mode_t kind)
{
	struct sockaddr_un a;
	struct stat st;

	if (vdds__topic_addr(&a, cli_dir, topic, suffix) == 0 && lstat(a.sun_path, &st) == 0 &&
	    (st.st_mode & S_IFMT) == kind)
		unlink(a.sun_path);
}

/* Remove a topic's files if nobody holds its lock: a live publisher holds it
 * from before its socket exists until after it is gone, so holding it here
 * means none is live or starting. Unlink the lock file before letting go of
 * it, as a publisher does: one that opened it meanwhile finds it unlinked
 * and takes a fresh one. Returns 1 if removed, 0 if held, or -errno. */
static int prune_one(const char *topic)
{
	int fd = vdds__topic_lock(cli_dir, topic);

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
		size_t m;
		int err;
		struct cli_probe *w = scan(cli_dir, leftovers[k], &m, &err);

		for (size_t i = 0; i < m; i++) {
			struct stat st;
			struct sockaddr_un a;

			if (vdds__topic_addr(&a, cli_dir, w[i].topic, ".sock") < 0 ||
			    lstat(a.sun_path, &st) == 0)
				continue;
			if (prune_one(w[i].topic) > 0) {
				fprintf(stderr, "vdds: removed leftover files of '%s'\n",
					w[i].topic);
				removed++;
			}
		}
		free(w);
	}
	return removed;
}

/* Every socket that refused a connection (its publisher died: the kernel
 * says nobody listens), then leftovers; nothing else is ever removed. */
static int prune(const struct cli_probe *v, size_t n)
{
	int removed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		if (state_of(v[i].err) != STALE)
			continue;
		int r = prune_one(v[i].topic);

		if (r < 0) {
			cli_fail(0, "cannot prune '%s': %s", v[i].topic, strerror(-r));
			failed = 1;
		} else if (r > 0) {
			fprintf(stderr, "vdds: removed stale socket of '%s'\n", v[i].topic);
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
	int err = cli_rundir(cli_dir, VDDS_PATH_MAX);

	if (err == -EACCES)
		return cli_fail(CLI_RUNTIME,
				"runtime directory %s is not trusted: owned by another user or "
				"writable by others",
				cli_dir);
	if (err != 0 && err != -ENOENT)
		return cli_fail(CLI_RUNTIME, "cannot use runtime directory %s: %s", cli_dir,
				strerror(-err));
	size_t n = 0;
	struct cli_probe *v = NULL;
	int rc = CLI_OK;

	for (int pass = 0; err == 0 && pass < 1 + do_prune; pass++) {
		free(v);
		v = scan(cli_dir, ".sock", &n, &err);
		if (err < 0) {
			free(v);
			return cli_fail(CLI_RUNTIME, "cannot list %s: %s", cli_dir, strerror(-err));
		}
		cli_probe(v, n, (int)timeout);
		if (do_prune && pass == 0)
			rc = prune(v, n); /* then list what is left */
	}
	if (do_prune && err == -ENOENT)
		fprintf(stderr, "vdds: nothing stale in %s\n", cli_dir);
	if (json)
		print_json(v, n);
	else
		print_text(v, n);
	free(v);
	err = cli_flush_stdout();
	return rc == CLI_OK ? err : rc;
}
