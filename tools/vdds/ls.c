/* ls.c — `vdds ls`: every topic in the runtime directory, asked over its
 * socket; sockets left by dead publishers shown as stale, and with --prune
 * removed, under the topic's lock so that a live or starting publisher's
 * files are never touched. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rundir.h"

static const char help[] =
	"usage: vdds ls [--json] [--prune]\n"
	"\n"
	"List every topic in the runtime directory: its publisher's pid, subscribers,\n"
	"free and total slots, samples published and type. A socket whose publisher\n"
	"died is shown as stale.\n"
	"\n"
	"  --json    one JSON object (fields in vdds(1))\n"
	"  --prune   remove stale sockets and lock files: a topic's files are removed\n"
	"            only while its lock is held here, which a live or starting\n"
	"            publisher would hold instead\n"
	"  --help    this text\n";

enum state { LIVE, STALE, REFUSED, OLD, SILENT, BROKEN };
static const char *const state_names[] = { "live",         "stale",        "refused",
					   "old-protocol", "unresponsive", "broken" };

struct entry {
	char topic[VDDS_TOPIC_MAX + 1];
	enum state state;
	struct vdds__msg_info info;
};

static int by_topic(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->topic, ((const struct entry *)b)->topic);
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

/* Every topic with a file of this suffix in dir; *n entries, malloc'd. */
static struct entry *scan(const char *dir, const char *suffix, size_t *n, int *err)
{
	DIR *d = opendir(dir);
	struct entry *v = NULL;
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
			struct entry *nv = realloc(v, cap * sizeof(*v));

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

static enum state probe(const char *topic, struct vdds__msg_info *info)
{
	int err = vdds__introspect(cli_dir, topic, info, CLI_INFO_WAIT_MS);

	switch (-err) {
	case 0: return LIVE;
	case ENOENT: return STALE; /* the socket is there, nobody listens */
	case EACCES: return REFUSED;
	case EPROTO: return OLD;
	case ETIMEDOUT: return SILENT;
	default: return BROKEN;
	}
}

static void print_json(const struct entry *v, size_t n)
{
	fputs("{\"dir\":", stdout);
	cli_json_str(stdout, cli_dir);
	fputs(",\"topics\":[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct vdds__msg_info *m = &v[i].info;

		fputs(i ? ",{\"topic\":" : "{\"topic\":", stdout);
		cli_json_str(stdout, v[i].topic);
		printf(",\"state\":\"%s\"", state_names[v[i].state]);
		if (v[i].state == LIVE) {
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

static void print_text(const struct entry *v, size_t n)
{
	if (n == 0) {
		fprintf(stderr, "vdds: no topics in %s\n", cli_dir);
		return;
	}
	printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", "TOPIC", "STATE", "PID", "SUBS",
	       "FREE/SLOTS", "PUBLISHED", "TYPE");
	for (size_t i = 0; i < n; i++) {
		const struct vdds__msg_info *m = &v[i].info;

		if (v[i].state != LIVE) {
			printf("%-24s %-12s %-8s %-5s %-11s %-10s %s\n", v[i].topic,
			       state_names[v[i].state], "-", "-", "-", "-", "-");
			continue;
		}
		char slots[32];

		snprintf(slots, sizeof(slots), "%u/%u", m->free_slots, m->slot_count);
		printf("%-24s %-12s %-8d %-5u %-11s %-10" PRIu64 " %s\n", v[i].topic, "live",
		       m->pid, m->n_subs, slots, m->published,
		       m->type_name[0] ? m->type_name : "-");
	}
}

static void unlink_topic_file(const char *topic, const char *suffix)
{
	struct sockaddr_un a;

	if (vdds__topic_addr(&a, cli_dir, topic, suffix) == 0)
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
	unlink_topic_file(topic, ".sock");
	unlink_topic_file(topic, ".new");
	unlink_topic_file(topic, ".lock");
	close(fd);
	return 1;
}

/* Every stale socket, and lock or half-made socket files with no live
 * publisher: prune_one decides under the lock. */
static int prune(const struct entry *v, size_t n)
{
	static const char *const leftovers[] = { ".lock", ".new" };
	int removed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].state != STALE)
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
	for (size_t k = 0; k < 2; k++) {
		size_t m;
		int err;
		struct entry *w = scan(cli_dir, leftovers[k], &m, &err);

		for (size_t i = 0; i < m; i++) {
			struct stat st;
			struct sockaddr_un a;

			/* a live socket means a live (or just-dead, then stale) topic */
			if (vdds__topic_addr(&a, cli_dir, w[i].topic, ".sock") < 0 ||
			    stat(a.sun_path, &st) == 0)
				continue;
			if (prune_one(w[i].topic) > 0) {
				fprintf(stderr, "vdds: removed leftover files of '%s'\n",
					w[i].topic);
				removed++;
			}
		}
		free(w);
	}
	if (removed == 0 && !failed)
		fprintf(stderr, "vdds: nothing stale in %s\n", cli_dir);
	return failed ? CLI_RUNTIME : CLI_OK;
}

int cli_ls(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "prune", no_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool json = false, do_prune = false;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'p')
			do_prune = true;
		else if (c == 'h')
			return cli_help(help);
		else
			return cli_usage("ls", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return cli_usage("ls", "unexpected argument '%s'", argv[optind]);
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
	struct entry *v = NULL;
	int rc = CLI_OK;

	for (int pass = 0; err == 0 && pass < 1 + do_prune; pass++) {
		free(v);
		v = scan(cli_dir, ".sock", &n, &err);
		if (err < 0) {
			free(v);
			return cli_fail(CLI_RUNTIME, "cannot list %s: %s", cli_dir, strerror(-err));
		}
		for (size_t i = 0; i < n; i++)
			v[i].state = probe(v[i].topic, &v[i].info);
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
	return fflush(stdout) == 0 ? rc : CLI_RUNTIME;
}
