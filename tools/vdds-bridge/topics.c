/* topics.c — which topic goes which way. A topic is exported while a local
 * publisher has it and imported while a remote DDS writer has it, decided by
 * one function (bridge_reconsider) under three rules: a per-topic bridge lock
 * in the runtime directory gives a topic to one bridge per host; a topic
 * published locally is never imported; a topic is never both. An import
 * ends --grace seconds after its last writer (writers.c); a topic nothing
 * needs any more is freed once the loop has served the events at hand. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "escape.h"

#define SOCK_SUFFIX ".sock"
#define LOCK_SUFFIX ".bridge"

struct topic *bridge_topic(struct bridge *b, const char *name)
{
	struct topic *t;

	for (t = b->topics; t; t = t->next)
		if (strcmp(t->name, name) == 0) {
			t->dead = false; /* wanted again before it was reaped */
			return t;
		}
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	if (bridge_dds_name(name, t->dds_name, sizeof(t->dds_name)) < 0) {
		free(t);
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->bridge = b;
	t->lock_fd = t->lock_wfd = -1;
	t->next = b->topics;
	b->topics = t;
	return t;
}

static bool matches(const char *const *patterns, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (fnmatch(patterns[i], name, 0) == 0)
			return true;
	return false;
}

bool bridge_wants_in(const struct bridge *b, const char *name)
{
	return matches(b->opts.in, b->opts.n_in, name);
}

static int topic_path(const struct bridge *b, const struct topic *t, const char *suffix, char *path,
		      size_t cap)
{
	return vdds_topic_path(b->rundir, t->name, suffix, path, cap);
}

static bool has_local_socket(const struct bridge *b, const struct topic *t)
{
	char path[PATH_MAX];
	struct stat st;

	return topic_path(b, t, SOCK_SUFFIX, path, sizeof(path)) == 0 && lstat(path, &st) == 0 &&
	       S_ISSOCK(st.st_mode);
}

/* ------------------------------------------------------------ bridge lock */

/* <topic>.bridge, flocked by the one bridge of this host that has the topic.
 * Others open it read-only, so their attempts make no inotify event they
 * watch; the holder also keeps it open for writing, so that its death closes
 * a writer (IN_CLOSE_WRITE) and wakes the others. */
static int take_lock(struct bridge *b, struct topic *t)
{
	char path[PATH_MAX];
	int err = topic_path(b, t, LOCK_SUFFIX, path, sizeof(path));

	if (err < 0)
		return err;
	int fd = vdds_topic_lock(b->rundir, t->name, LOCK_SUFFIX, O_RDONLY);

	if (fd < 0)
		return fd;
	t->lock_fd = fd;
	t->lock_wfd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	return 0;
}

static void drop_lock(struct bridge *b, struct topic *t)
{
	char path[PATH_MAX];

	if (t->lock_fd < 0)
		return;
	/* unlink while still holding it: whoever opens the name next gets a
	 * fresh file, and one that locked the old one sees it is an orphan */
	if (topic_path(b, t, LOCK_SUFFIX, path, sizeof(path)) == 0)
		unlink(path);
	if (t->lock_wfd >= 0)
		close(t->lock_wfd);
	close(t->lock_fd);
	t->lock_fd = t->lock_wfd = -1;
}

/* ---------------------------------------------------------------- export */

static int start_out(struct bridge *b, struct topic *t)
{
	char type[ESC_NAME_MAX];
	int err = vdds_sub_open(&t->sub, t->name, NULL);

	if (err < 0) {
		/* ENOENT: a socket left by a dead publisher; the next one renames
		 * its own into place, which the directory watch reports */
		if (err != -ENOENT)
			bridge_log_once(t, SAID_OPEN_FAILED, "%s: cannot subscribe: %s", t->name,
					vdds_strerror(err));
		return err;
	}
	snprintf(t->type_name, sizeof(t->type_name), "%s", vdds_sub_type_name(t->sub));
	if ((err = bridge_dds_writer(b, t)) < 0)
		goto err_close_sub;
	if ((err = vdds_waitset_add_sub(b->ws, t->sub, t)) < 0) {
		bridge_log("%s: waitset: %s", t->name, vdds_strerror(err));
		goto err_drop_dds;
	}
	t->mode = TOPIC_OUT;
	t->exported_once = true;
	bridge_log("%s: exporting to DDS topic %s (type \"%s\")", t->name, t->dds_name,
		   esc_str(t->type_name, type, sizeof(type)));
	bridge_pump_out(b, t);
	return 0;

err_drop_dds:
	bridge_dds_drop_endpoints(t);
err_close_sub:
	vdds_sub_close(t->sub);
	t->sub = NULL;
	return err;
}

/* ---------------------------------------------------------------- import */

static int start_in(struct bridge *b, struct topic *t)
{
	struct vdds_pub_opts po = {
		.slot_size = b->opts.slot_size,
		.slot_count = b->opts.slots,
		.type_name = t->announced_type,
		.no_service_thread = true, /* the waitset serves it */
	};
	char type[ESC_NAME_MAX];
	int err = vdds_pub_open(&t->pub, t->name, &po);

	if (err == -EEXIST) {
		bridge_log_once(t, SAID_LOCAL, "%s: published locally: not imported", t->name);
		return err;
	}
	if (err < 0) {
		bridge_log_once(t, SAID_OPEN_FAILED, "%s: cannot publish: %s", t->name,
				vdds_strerror(err));
		return err;
	}
	snprintf(t->local_type, sizeof(t->local_type), "%s", t->announced_type);
	if ((err = vdds_waitset_add_pub(b->ws, t->pub, t)) < 0) {
		bridge_log("%s: waitset: %s", t->name, vdds_strerror(err));
		goto err_close_pub;
	}
	if ((err = bridge_dds_reader(b, t)) < 0)
		goto err_remove;
	t->mode = TOPIC_IN;
	bridge_log("%s: importing from DDS topic %s (type \"%s\")", t->name, t->dds_name,
		   esc_str(t->local_type, type, sizeof(type)));
	return 0;

err_remove:
	vdds_waitset_remove(b->ws, vdds_pub_fd(t->pub));
err_close_pub:
	vdds_pub_close(t->pub);
	t->pub = NULL;
	return err;
}

/* ------------------------------------------------------------- decisions */

void bridge_reconsider(struct bridge *b, struct topic *t)
{
	if (t->mode != TOPIC_IDLE || t->dds_refused || b->stop)
		return;
	bool out = matches(b->opts.out, b->opts.n_out, t->name) && has_local_socket(b, t);
	bool in = matches(b->opts.in, b->opts.n_in, t->name) && t->remote_writers > 0;

	if (in && t->exported_once) {
		bridge_log_once(t, SAID_NO_IMPORT, "%s: exported before: never imported", t->name);
		in = false;
	}
	if (!out && !in)
		return;
	int err = take_lock(b, t);

	if (err == -EEXIST) {
		t->lock_blocked = true;
		bridge_log_once(t, SAID_LOCKED, "%s: bridged by another vdds-bridge on this host",
				t->name);
		return;
	}
	if (err < 0) {
		bridge_log("%s: bridge lock in %s: %s", t->name, b->rundir, vdds_strerror(err));
		return;
	}
	t->lock_blocked = false;
	if (out && start_out(b, t) == 0)
		return;
	if (in && start_in(b, t) == 0)
		return;
	drop_lock(b, t);
}

void bridge_stop_topic(struct bridge *b, struct topic *t)
{
	if (t->mode == TOPIC_OUT) {
		vdds_waitset_remove(b->ws, vdds_sub_fd(t->sub));
		bridge_dds_drop_endpoints(t);
		vdds_sub_close(t->sub);
		t->sub = NULL;
	} else if (t->mode == TOPIC_IN) {
		/* the reader first: its listener must be silent before the
		 * publisher it feeds goes */
		bridge_dds_drop_endpoints(t);
		vdds_waitset_remove(b->ws, vdds_pub_fd(t->pub));
		vdds_pub_close(t->pub);
		t->pub = NULL;
		t->stalled = false;
	}
	t->mode = TOPIC_IDLE;
	drop_lock(b, t);
}

/* Nothing needs t: no DDS writer, nothing bridged. An export is remembered
 * (never import it), and so is a topic a local publisher has that waits for
 * another bridge's lock. */
static bool unneeded(struct bridge *b, struct topic *t)
{
	return t->mode == TOPIC_IDLE && !t->remote_writers && !t->refused_writers &&
	       !t->exported_once &&
	       !(matches(b->opts.out, b->opts.n_out, t->name) && has_local_socket(b, t));
}

void bridge_release_topic(struct bridge *b, struct topic *t)
{
	if (unneeded(b, t))
		t->dead = true;
}

void bridge_reap(struct bridge *b)
{
	for (struct topic **pt = &b->topics; *pt;) {
		struct topic *t = *pt;

		/* asked again: later events of the batch may have taken it up */
		if (!t->dead || !unneeded(b, t)) {
			t->dead = false;
			pt = &t->next;
			continue;
		}
		*pt = t->next;
		bridge_dds_drop_topic(t);
		free(t);
	}
}

/* ------------------------------------------------- the runtime directory */

static void consider_name(struct bridge *b, const char *name)
{
	char topic[VDDS_TOPIC_MAX + 1];
	size_t n = strlen(name), sl = strlen(SOCK_SUFFIX), ll = strlen(LOCK_SUFFIX);
	bool sock = n > sl && strcmp(name + n - sl, SOCK_SUFFIX) == 0;
	bool lock = n > ll && strcmp(name + n - ll, LOCK_SUFFIX) == 0;

	if (!sock && !lock)
		return;
	n -= sock ? sl : ll;
	if (n >= sizeof(topic))
		return;
	memcpy(topic, name, n);
	topic[n] = '\0';
	if (sock && !matches(b->opts.out, b->opts.n_out, topic))
		return;
	struct topic *t = lock ? NULL : bridge_topic(b, topic);

	if (lock) {
		/* a lock let go: only a topic that waited for it cares; our
		 * own lock's events must not start a loop */
		for (t = b->topics; t && strcmp(t->name, topic) != 0; t = t->next)
			;
		if (!t || !t->lock_blocked)
			return;
		t->lock_blocked = false;
	}
	if (t)
		bridge_reconsider(b, t);
}

static void scan_rundir(struct bridge *b)
{
	DIR *d = opendir(b->rundir);
	struct dirent *e;

	if (!d) {
		bridge_log("cannot read %s: %s", b->rundir, vdds_strerror(-errno));
		return;
	}
	while ((e = readdir(d)))
		consider_name(b, e->d_name);
	closedir(d);
}

int bridge_watch_rundir(struct bridge *b)
{
	b->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (b->watch_fd < 0)
		return -errno;
	/* sockets are renamed into place (IN_MOVED_TO), locks let go by a
	 * holder closing (IN_CLOSE_WRITE) or unlinking (IN_DELETE) them */
	if (inotify_add_watch(b->watch_fd, b->rundir,
			      IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE) < 0)
		return -errno;
	/* watch first, then look: nothing that appears in between is missed */
	scan_rundir(b);
	return 0;
}

void bridge_rundir_event(struct bridge *b)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(b->watch_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				scan_rundir(b);
				for (struct topic *t = b->topics; t; t = t->next) {
					t->lock_blocked = false;
					bridge_reconsider(b, t);
				}
			} else if (ev->len) {
				consider_name(b, ev->name);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}
