/* segment.c — sealed memfd segments, on normal or huge pages. Nothing is ever
 * named in /dev/shm, so a kill -9 leaves no stale files; seals stop a peer
 * from resizing a segment under us (SIGBUS) or mapping the topic writable. */
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

/* memfd_create(MFD_HUGETLB | MFD_ALLOW_SEALING) failed with err: why. */
static const char *no_huge_memfd(const char *name, int err)
{
	if (err != -EINVAL)
		return "cannot create a huge-page memfd";
	/* hugetlb memfds came in Linux 4.14, sealing them in 4.16 */
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB);

	if (fd < 0)
		return "this kernel has no huge-page memfds";
	close(fd);
	return "this kernel cannot seal huge-page memfds";
}

int vdds__segment_create_huge(const char *name, size_t *size, unsigned seals, void **map,
			      const char **why)
{
	struct stat st;
	size_t rounded = 0;
	void *m = MAP_FAILED;
	int err, fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);

	*map = NULL;
	if (fd < 0) {
		err = -errno;
		*why = no_huge_memfd(name, err);
		return err;
	}
	/* hugetlbfs gives its page size as the block size; a size that is not
	 * a multiple of it is refused (EINVAL) */
	if (fstat(fd, &st) < 0 || st.st_blksize <= 0) {
		err = -EINVAL;
		*why = "cannot learn the huge page size";
		goto err_close_fd;
	}
	size_t page = (size_t)st.st_blksize;

	rounded = (*size + page - 1) / page * page;
	if (ftruncate(fd, (off_t)rounded) < 0) {
		err = -errno;
		*why = "cannot size a huge-page memfd";
		goto err_close_fd;
	}
	/* a shared hugetlb mapping reserves all its pages here, so a shortage
	 * is ENOMEM now rather than SIGBUS at the first write */
	m = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		*why = err == -ENOMEM ? "not enough free huge pages (vm.nr_hugepages)"
				      : "cannot map huge pages";
		goto err_close_fd;
	}
	/* the seals now, to know whether this kernel can; F_SEAL_SEAL last, by
	 * the caller, once it has written the segment's header */
	if (fcntl(fd, F_ADD_SEALS, (int)(seals & ~(unsigned)F_SEAL_SEAL)) < 0) {
		err = -errno;
		*why = "this kernel cannot seal huge-page memfds";
		goto err_unmap;
	}
	if (seals & F_SEAL_FUTURE_WRITE) {
		/* Linux before 5.19 took F_SEAL_FUTURE_WRITE on hugetlbfs without
		 * enforcing it: a subscriber could still map the topic writable */
		void *w = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (w != MAP_FAILED) {
			munmap(w, rounded);
			err = -EOPNOTSUPP;
			*why = "this kernel does not enforce write seals on huge pages";
			goto err_unmap;
		}
	}
	*map = m;
	*size = rounded;
	return fd;

err_unmap:
	munmap(m, rounded);
err_close_fd:
	close(fd);
	return err;
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
