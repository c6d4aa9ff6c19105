/* rundir.c — the runtime directory and per-topic names, paths, locks and
 * listing (internal, and the public vdds_rundir/vdds_topic_* calls). A
 * directory another user could write is refused: whoever can write it could
 * replace a topic's socket and impersonate its publisher. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "rundir.h"
#include "vdds.h"

/* What is wrong with topic, in words, or NULL if nothing; a bad character's
 * description is written into bad[] */
static const char *topic_fault(const char *topic, char *bad, size_t cap)
{
	if (!topic)
		return "NULL";
	if (topic[0] == '\0')
		return "empty";
	if (topic[0] == '.')
		return "starts with '.'";
	for (size_t n = 0; topic[n]; n++) {
		unsigned char c = (unsigned char)topic[n];

		if (n >= VDDS_TOPIC_MAX) {
			snprintf(bad, cap, "longer than %d bytes", VDDS_TOPIC_MAX);
			return bad;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '.')
			continue;
		if (c > 0x20 && c < 0x7f)
			snprintf(bad, cap, "'%c' at byte %zu: only [A-Za-z0-9_.-]", c, n);
		else
			snprintf(bad, cap, "byte 0x%02x at %zu: only [A-Za-z0-9_.-]", c, n);
		return bad;
	}
	return NULL;
}

int vdds__topic_valid(const char *topic)
{
	char bad[64];

	return topic_fault(topic, bad, sizeof(bad)) ? -EINVAL : 0;
}

int vdds__topic_name_check(const char *topic)
{
	char bad[64];
	const char *why = topic_fault(topic, bad, sizeof(bad));

	if (!why)
		return 0;
	if (!topic || !topic[0])
		return vdds__detail_setf(-EINVAL, "topic: %s", why);
	return vdds__detail_setf(-EINVAL, "topic '%.*s%s': %s", VDDS_TOPIC_MAX, topic,
				 strlen(topic) > VDDS_TOPIC_MAX ? "..." : "", why);
}

static int check_dir(const char *dir, uint32_t also_trust)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -errno;
	int trusted = st.st_uid == geteuid() || st.st_uid == 0 || st.st_uid == also_trust;

	if (!S_ISDIR(st.st_mode) || !trusted || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EACCES;
	return 0;
}

int vdds__rundir(char *buf, size_t cap, int create, uint32_t also_trust)
{
	const char *env = getenv("VDDS_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && env[0])
		n = snprintf(buf, cap, "%s", env);
	else if (xdg && xdg[0])
		n = snprintf(buf, cap, "%s/vdds", xdg);
	else
		n = snprintf(buf, cap, "/tmp/vdds-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	int err = check_dir(buf, also_trust);

	if (err == -ENOENT && create) {
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		err = check_dir(buf, also_trust);
	}
	return err;
}

int vdds__topic_addr(struct sockaddr_un *addr, const char *dir, const char *topic,
		     const char *suffix)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	int n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s%s", dir, topic, suffix);

	return n < 0 || (size_t)n >= sizeof(addr->sun_path) ? -ENAMETOOLONG : 0;
}

int vdds__topic_connect(const char *dir, const char *topic, int nonblock)
{
	struct sockaddr_un addr;
	int err = vdds__topic_addr(&addr, dir, topic, ".sock");

	if (err < 0)
		return err;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		/* a Unix socket's connect completes at once or, non-blocking
		 * against a full backlog, fails with EAGAIN (there is nothing to
		 * wait on for room: the caller tries again later); it never
		 * stays in progress, so EINPROGRESS is taken as EAGAIN too */
		if (errno == ECONNREFUSED || errno == ENOENT)
			err = -ENOENT;
		else if (errno == EINPROGRESS)
			err = -EAGAIN;
		else
			err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int vdds__lock_path(const char *path, int flags)
{
	for (;;) {
		int fd = open(path, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno == EWOULDBLOCK ? -EEXIST : -errno;

			close(fd);
			return err;
		}
		/* the previous owner unlinks the file as it closes; if it did so
		 * between our open and flock, we locked an orphan: try again */
		struct stat held, named;

		if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev)
			return fd;
		close(fd);
	}
}

int vdds__topic_lock(const char *dir, const char *topic)
{
	struct sockaddr_un path;
	int err = vdds__topic_addr(&path, dir, topic, ".lock");

	return err < 0 ? err : vdds__lock_path(path.sun_path, O_RDWR);
}

/* ------------------------------------------------------------ public calls
 * Each clears this thread's error detail first, so that a detail read after
 * one of them is about it (-EINVAL: which argument). */

int vdds_rundir(char *buf, size_t cap, int create)
{
	vdds__detail_clear();
	if (!buf || cap == 0)
		return vdds__detail_setf(-EINVAL, "vdds_rundir: %s", buf ? "cap 0" : "buf NULL");
	return vdds__rundir(buf, cap, create, 0);
}

int vdds_topic_check(const char *topic)
{
	vdds__detail_clear();
	return vdds__topic_name_check(topic);
}

/* dir, or the runtime directory resolved into own[] when dir is NULL */
static int dir_or_rundir(const char **dir, char *own, size_t cap)
{
	if (*dir)
		return 0;
	int err = vdds__rundir(own, cap, 0, 0);

	*dir = own;
	return err;
}

static int check_suffix(const char *fn, const char *suffix)
{
	if (!suffix)
		return vdds__detail_setf(-EINVAL, "%s: suffix NULL", fn);
	if (strchr(suffix, '/'))
		return vdds__detail_setf(-EINVAL, "%s: suffix '%.32s' holds a '/'", fn, suffix);
	return 0;
}

int vdds_topic_path(const char *dir, const char *topic, const char *suffix, char *buf, size_t cap)
{
	char own[VDDS__PATH_MAX];
	int err;

	vdds__detail_clear();
	err = vdds__topic_name_check(topic);

	if (err == 0)
		err = check_suffix("vdds_topic_path", suffix);
	if (err == 0 && (!buf || cap == 0))
		err = vdds__detail_setf(-EINVAL, "vdds_topic_path: %s", buf ? "cap 0" : "buf NULL");
	if (err == 0)
		err = dir_or_rundir(&dir, own, sizeof(own));
	if (err < 0)
		return err;
	int n = snprintf(buf, cap, "%s/%s%s", dir, topic, suffix);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int vdds_topic_lock(const char *dir, const char *topic, const char *suffix, int flags)
{
	char path[PATH_MAX];

	vdds__detail_clear();
	if (flags != O_RDONLY && flags != O_RDWR)
		return vdds__detail_setf(-EINVAL, "vdds_topic_lock: flags %#x: O_RDONLY or O_RDWR",
					 (unsigned)flags);
	int err = vdds_topic_path(dir, topic, suffix, path, sizeof(path));

	return err < 0 ? err : vdds__lock_path(path, flags);
}

int vdds_topic_list(const char *dir, const char *suffix, int (*fn)(const char *topic, void *arg),
		    void *arg)
{
	char own[VDDS__PATH_MAX];
	int err;

	vdds__detail_clear();
	if (!fn)
		return vdds__detail_setf(-EINVAL, "vdds_topic_list: fn NULL");
	suffix = suffix ? suffix : ".sock";
	err = check_suffix("vdds_topic_list", suffix);
	if (err == 0)
		err = dir_or_rundir(&dir, own, sizeof(own));
	if (err < 0)
		return err;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	size_t s = strlen(suffix);
	struct dirent *de;

	while (err == 0 && (de = readdir(d))) {
		char topic[VDDS_TOPIC_MAX + 1];
		size_t n = strlen(de->d_name);

		if (n <= s || n - s > VDDS_TOPIC_MAX || strcmp(de->d_name + n - s, suffix) != 0)
			continue;
		memcpy(topic, de->d_name, n - s);
		topic[n - s] = '\0';
		if (vdds__topic_valid(topic) == 0)
			err = fn(topic, arg);
	}
	closedir(d);
	return err;
}
