/* rundir.c — the runtime directory and per-topic names. A directory another
 * user could write is refused: whoever can write it could replace a topic's
 * socket and impersonate its publisher. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"
#include "vdds.h"

int vdds__topic_valid(const char *topic)
{
	if (!topic || topic[0] == '\0' || topic[0] == '.')
		return -EINVAL;
	size_t n = 0;

	for (const char *p = topic; *p; p++, n++) {
		char c = *p;

		if (n >= VDDS_TOPIC_MAX)
			return -EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return -EINVAL;
	}
	return 0;
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
