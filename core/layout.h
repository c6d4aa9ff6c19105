/* layout.h — the frozen shared-memory layout of vdds. Changing anything here
 * is a protocol change: bump VDDS_LAYOUT_VERSION and the _Static_asserts.
 *
 * Topic segment (memfd; publisher maps read-write, subscribers read-only,
 * sealed SHRINK|GROW|FUTURE_WRITE|SEAL):
 *
 *   0            256               desc_offset + 64*slot_count   data_offset (page aligned)
 *   +------------+------------------+--------------------------+------------------------+
 *   | topic hdr  | desc[0] desc[1] .. desc[slot_count-1]      | slot 0 | slot 1 | ...   |
 *   +------------+------------------+--------------------------+------------------------+
 *                 one 64-byte line per descriptor: {seq, timestamp, len}; slot i's payload
 *                 starts at data_offset + i*slot_stride (stride: 64-byte, or page aligned
 *                 for slots of a page or more).
 *
 * Lane segment (memfd; one per subscriber, read-write for the publisher and
 * that subscriber only, sealed SHRINK|GROW|SEAL):
 *
 *   0    64           128          192          256          320        384       448  512
 *   +----+------------+------------+------------+------------+----------+---------+----+------------------+------------------+
 *   |hdr | deliver    | deliver    | release    | release    | wake_gen | pub_wait|    | deliver[ring]    | release[ring]    |
 *   |    | prod       | cons       | prod       | cons       | (sub)    | (both)  |    | u32 slot ids     | u32 slot ids     |
 *   |    | (pub)      | (sub)      | (sub)      | (pub)      |          |         |    | pub -> sub       | sub -> pub       |
 *   +----+------------+------------+------------+------------+----------+---------+----+------------------+------------------+
 *
 * Every index is free-running u32; ring_size is a power of two >= slot_count,
 * so an honest peer can never fill a ring. Each side treats every value the
 * other side writes as untrusted input.
 *
 * Overflow (topic hdr `overflow`, VDDS_OVERFLOW_* of vdds.h):
 *   BLOCK, FAIL: deliver_cons is the subscriber's alone (an SPSC ring).
 *   DROP_OLDEST: deliver_cons is moved by BOTH sides, only by compare-and-swap
 *   from the value each just read to that value + 1. Whoever moves it past
 *   entry c owns the slot in entry c: the subscriber has taken it, or the
 *   publisher has taken it back (a queued sample dropped). Never both, never
 *   neither. The subscriber reads the slot's descriptor and payload only after
 *   its CAS succeeded; entries it finds skipped are what it lost. The publisher
 *   takes back only from its private copy of the ids it delivered, checks that
 *   the lane still holds that slot, and cuts off a lane whose deliver_cons is
 *   behind the last value it saw or beyond what it delivered.
 *
 * History (topic hdr `history` = H): the last H published slots stay held by
 * the publisher; a subscriber that joins later (and did not decline in its
 * HELLO) finds them in its deliver ring first, oldest first.
 *
 * pub_wait (lane): 0, or the seq W of the oldest sample a blocked publisher
 * waits to see freed. A subscriber that releases a sample with seq >= W swaps
 * pub_wait to 0 and, if it was nonzero, writes the return eventfd.
 */
#ifndef VDDS_LAYOUT_H
#define VDDS_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VDDS_TOPIC_MAGIC 0x54444456u /* "VDDT" little-endian */
#define VDDS_LANE_MAGIC 0x4c444456u  /* "VDDL" */
#define VDDS_LAYOUT_VERSION 2u       /* 2: overflow, history, pub_wait watermark */
#define VDDS_CACHELINE 64
#define VDDS_TYPE_NAME_LEN 64 /* bytes, NUL included */

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "u32 atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "u64 atomics must be lock-free");

/* The topic's overflow policy; the same numbers as enum vdds_overflow. */
#define VDDS_OVERFLOW_MAX 2

struct vdds__topic_hdr {
	uint32_t magic;
	uint16_t layout_version;
	uint16_t hdr_size;
	uint32_t slot_count;
	uint32_t max_subs;
	uint64_t slot_size;   /* payload capacity of one slot */
	uint64_t slot_stride; /* bytes from one slot's payload to the next */
	uint64_t desc_offset;
	uint64_t data_offset;
	uint64_t segment_size;
	int32_t publisher_pid;
	uint32_t type_size;
	char type_name[VDDS_TYPE_NAME_LEN];
	uint32_t overflow; /* VDDS_OVERFLOW_BLOCK, _DROP_OLDEST, _FAIL */
	uint32_t history;  /* samples kept for late joiners, <= slot_count / 2 */
	uint8_t reserved[256 - 136];
};
_Static_assert(sizeof(struct vdds__topic_hdr) == 256, "topic header size");
_Static_assert(offsetof(struct vdds__topic_hdr, type_name) == 64, "type_name offset");
_Static_assert(offsetof(struct vdds__topic_hdr, overflow) == 128, "overflow offset");

/* Written by the publisher before the slot id is pushed to any lane (the push
 * is a release store), read by subscribers after an acquire of the index. */
struct vdds__desc {
	uint64_t seq;
	uint64_t timestamp_ns;
	uint64_t len;
	uint8_t reserved[VDDS_CACHELINE - 24];
};
_Static_assert(sizeof(struct vdds__desc) == VDDS_CACHELINE, "descriptor size");

struct vdds__ring_index {
	alignas(VDDS_CACHELINE) _Atomic uint32_t value;
};

struct vdds__lane_hdr {
	uint32_t magic;
	uint16_t layout_version;
	uint16_t hdr_size;
	uint32_t lane_id;
	uint32_t ring_size;
	uint32_t slot_count;
	uint32_t reserved0;
	uint64_t segment_size;
	uint8_t reserved[VDDS_CACHELINE - 32];

	alignas(VDDS_CACHELINE) _Atomic uint32_t deliver_prod;
	alignas(VDDS_CACHELINE) _Atomic uint32_t deliver_cons;
	alignas(VDDS_CACHELINE) _Atomic uint32_t release_prod;
	alignas(VDDS_CACHELINE) _Atomic uint32_t release_cons;
	/* subscriber: nonzero = "I may sleep; wake me", a fresh value per sleep */
	alignas(VDDS_CACHELINE) _Atomic uint64_t wake_gen;
	/* nonzero while the publisher waits for a slot: the seq W of the
	 * oldest sample it waits for; a subscriber releasing a sample with
	 * seq >= W exchanges it to 0 and, if it was nonzero, writes the return
	 * eventfd (see the comment at the top) */
	alignas(VDDS_CACHELINE) _Atomic uint64_t pub_wait;
	alignas(VDDS_CACHELINE) uint8_t reserved1[VDDS_CACHELINE];
	/* followed by uint32_t deliver[ring_size], uint32_t release[ring_size] */
};
_Static_assert(sizeof(struct vdds__lane_hdr) == 512, "lane header size");
_Static_assert(offsetof(struct vdds__lane_hdr, deliver_prod) == 64, "deliver_prod");
_Static_assert(offsetof(struct vdds__lane_hdr, deliver_cons) == 128, "deliver_cons");
_Static_assert(offsetof(struct vdds__lane_hdr, release_prod) == 192, "release_prod");
_Static_assert(offsetof(struct vdds__lane_hdr, release_cons) == 256, "release_cons");
_Static_assert(offsetof(struct vdds__lane_hdr, wake_gen) == 320, "wake_gen");
_Static_assert(offsetof(struct vdds__lane_hdr, pub_wait) == 384, "pub_wait");

static inline uint32_t *vdds__lane_deliver(struct vdds__lane_hdr *l)
{
	return (uint32_t *)(l + 1);
}

static inline uint32_t *vdds__lane_release(struct vdds__lane_hdr *l, uint32_t ring_size)
{
	return (uint32_t *)(l + 1) + ring_size;
}

static inline uint64_t vdds__lane_size(uint32_t ring_size)
{
	return sizeof(struct vdds__lane_hdr) + 2ull * ring_size * sizeof(uint32_t);
}

#endif
