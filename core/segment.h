/* segment.h — sealed memfd segments: create (on normal or huge pages), map,
 * and check what a peer sent. */
#ifndef VDDS_SEGMENT_H
#define VDDS_SEGMENT_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#define VDDS__SEALS_LANE (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define VDDS__SEALS_TOPIC (VDDS__SEALS_LANE | F_SEAL_FUTURE_WRITE)

/* Create an anonymous memfd of `size` bytes and map it read-write.
 * Returns the fd (O_CLOEXEC, sealing allowed) or -errno; *map is set. */
int vdds__segment_create(const char *name, size_t size, void **map);

/* vdds__segment_create on huge pages (MFD_HUGETLB): *size is rounded up to
 * the huge page size, the pages are reserved, and `seals` but F_SEAL_SEAL
 * are applied at once (and F_SEAL_FUTURE_WRITE checked to be enforced),
 * since a kernel may make a hugetlb memfd yet not seal it. Returns the fd, or
 * -errno and *why, in words, when huge pages cannot be had: -ENOMEM (none
 * free), -EINVAL (no hugetlb memfds, or they cannot be sealed), -EOPNOTSUPP
 * (write seals not enforced). */
int vdds__segment_create_huge(const char *name, size_t *size, unsigned seals, void **map,
			      const char **why);

/* Apply `seals` to fd. Returns 0 or -errno. */
int vdds__segment_seal(int fd, unsigned seals);

/* Check that fd is a memfd of exactly `size` bytes carrying at least
 * `seals`, then map it (PROT_READ, or read-write if `writable`).
 * Returns 0 or -EBADMSG (wrong kind, size or seals), or -errno from mmap. */
int vdds__segment_map_peer(int fd, size_t size, unsigned seals, int writable, void **map);

/* Size of a received memfd; -EBADMSG if fd is not a regular file. */
int64_t vdds__segment_size(int fd);

#endif
