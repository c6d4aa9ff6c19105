/* segment.c — sealed memfd segments. Nothing is ever named in /dev/shm, so a
 * kill -9 leaves no stale files; seals stop a peer from resizing a segment
 * under us (SIGBUS) or mapping the topic writable. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segment.h"

int vdds__segment_create(const char *name, size_t size, void **map)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto err_close_fd;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		goto err_close_fd;
	return fd;

err_close_fd:;
	int err = errno;

	close(fd);
	return -err;
}

int vdds__segment_seal(int fd, unsigned seals)
{
	return fcntl(fd, F_ADD_SEALS, (int)seals) < 0 ? -errno : 0;
}

int64_t vdds__segment_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -EBADMSG;
	return st.st_size;
}

int vdds__segment_map_peer(int fd, size_t size, unsigned seals, int writable, void **map)
{
	int have = fcntl(fd, F_GET_SEALS);

	*map = NULL;
	if (have < 0 || ((unsigned)have & seals) != seals)
		return -EBADMSG;
	if (vdds__segment_size(fd) != (int64_t)size)
		return -EBADMSG;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	void *m = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	*map = m;
	return 0;
}
