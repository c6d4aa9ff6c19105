/* layout.h — the frozen shared-memory layout of vdds. Changing anything here
 * is a protocol change: bump VDDS__LAYOUT_VERSION and the _Static_asserts.
 *
 * Topic segment (memfd; publisher maps read-write, subscribers read-only,
 * sealed SHRINK|GROW|FUTURE_WRITE|SEAL): the header, then the slots. A
 * sample's metadata (seq, timestamp, len) travels in the deliver ring entry,
 * not here, so a subscriber reads no line of this segment but the payload.
 *
 *   0            256          data_offset (page aligned)
 *   +------------+------------+--------+--------+-----
 *   | topic hdr  | (unused)   | slot 0 | slot 1 | ...
 *   +------------+------------+--------+--------+-----
 *                 slot i's payload starts at data_offset + i*slot_stride
 *                 (stride: 64-byte, or page aligned for slots of a page or more).
 *
 * Lane segment (memfd; one per subscriber, read-write for the publisher and
 * that subscriber only, sealed SHRINK|GROW|SEAL):
 *
 *   0    64         128        192        256        320      384      448  512
 *   +----+----------+----------+----------+----------+--------+--------+----+---------------------+-------------------+
 *   |hdr | deliver  | deliver  | release  | release  |wake_gen|pub_wait|    | deliver[ring]       | release[ring]     |
 *   |    | prod     | cons     | prod     | cons     | (sub)  | (both) |    | 32-byte entries,    | u64 entries,      |
 *   |    | (pub,    | (sub; +  | (sub,    | (pub,    |        |        |    | two per line:       | eight per line:   |
 *   |    | info)    | pub CAS) | info)    | info)    |        |        |    | pub -> sub          | sub -> pub        |
 *   +----+----------+----------+----------+----------+--------+--------+----+---------------------+-------------------+
 *
 * Both rings are read by mark, not by the producer's index: entry p (of a
 * free-running u32 position p, at index p & (ring_size - 1)) is there once
 * its mark is p + 1. So a zero-filled memfd never shows an entry, and the
 * consumer pulls one line per sample (two entries share it) instead of the
 * producer's index line and then the entry. The producer writes the entry's
 * other fields with plain stores, then its mark with a release store; the
 * consumer acquire-loads the mark and only then reads the fields.
 *
 *   deliver entry {u32 mark, u32 slot, u64 seq, u64 timestamp_ns, u64 len}
 *   release entry u64 (p + 1) << 32 | slot
 *
 * At the consumer's position p an honest producer leaves one of: mark p + 1
 * (the entry), p + 1 - ring_size (last lap's: nothing yet), or 0 (a fresh
 * lane's first lap). Any other mark is the peer's doing: -EBADMSG, except
 * for the DROP_OLDEST subscriber below. Neither ring can overflow with an
 * honest peer: every queued entry names a distinct slot its lane holds, and
 * ring_size >= slot_count. So the subscriber writes its returns without
 * looking, and the publisher looks at deliver_cons only when its own copy
 * of it says the ring is full (once a lap at most; a ring really full is a
 * lane to cut off). The indices that remain are for the rare reader:
 *   deliver_prod, release_prod, release_cons: written by their owner for
 *     introspection (vdds info), the subscriber's `queued` statistic and
 *     tests; no data path reads them, and every reader bounds them.
 *   deliver_cons: the subscriber's position. The publisher reads it once a
 *     lap as above, when it collects returns (a check: never behind the last
 *     value seen, never past what was delivered, else the lane is cut off),
 *     for introspection, the BLOCK wait's choice, and DROP_OLDEST.
 * Releases are collected lazily: the publisher reads release entries only
 * when it needs slots (none free, stats, dispatch), a batch at a time.
 *
 * Overflow (topic hdr `overflow`, VDDS_OVERFLOW_* of vdds.h):
 *   BLOCK, FAIL: deliver_cons is the subscriber's alone (an SPSC ring).
 *   DROP_OLDEST: deliver_cons is moved by BOTH sides, only by compare-and-swap
 *   from the value each just read to that value + 1. Whoever moves it past
 *   entry c owns the slot in entry c: the subscriber has taken it, or the
 *   publisher has taken it back (a queued sample dropped). Never both, never
 *   neither. The subscriber reads at deliver_cons (not at its own position,
 *   which lags by what was taken back): the mark, then the entry's fields,
 *   then its CAS. The publisher rewrites index c only for position c + ring
 *   and only once deliver_cons is past c, so a CAS from c that succeeds
 *   proves the fields read before it were entry c's. (Not after it: once
 *   past c, the publisher may take back every later entry, lap the ring and
 *   rewrite index c while the subscriber holds c's slot; only the slot's
 *   payload is then the subscriber's.) A mark from a later lap at c means c
 *   was taken back meanwhile (deliver_cons moved); if it did not move, the
 *   publisher broke the protocol. Entries found skipped are what it lost
 *   (the seq gap). The publisher takes back only from its private copy of
 *   the ids it delivered, checks
 *   that the lane still holds that slot, and cuts off a lane whose
 *   deliver_cons is behind the last value it saw or beyond what it delivered.
 *
 * History (topic hdr `history` = H): the last H published slots stay held by
 * the publisher, which keeps each slot's seq, timestamp and len privately; a
 * subscriber that joins later (and did not decline in its HELLO) finds them
 * in its deliver ring first, oldest first, with their metadata.
 *
 * pub_wait (lane): 0, or the seq W of the oldest sample a blocked publisher
 * waits to see freed. A subscriber that releases a sample with seq >= W swaps
 * pub_wait to 0 and, if it was nonzero, sends a WAKE on its socket.
 *
 * Who reads what, and when. Neither side trusts the other: the publisher's
 * own mapping of the topic stays writable whatever the seals say, and the
 * lane is writable by both. So every value a side reads from memory the
 * other can write is read ONCE into private memory, checked there, and only
 * the copy is used; a second read is a new value, checked anew (a check of
 * one read and a use of another is a time-of-check/time-of-use hole).
 *   Subscriber, at connect (vdds__subcore_init): the whole topic header,
 *     copied (the copy is kept: its geometry, overflow and the type name
 *     vdds_sub_type_name returns); the lane's first line (magic, version,
 *     sizes, ring_size, slot_count), copied; release_prod and deliver_cons
 *     once each, as starting positions (masked: any value is harmless).
 *     Never again: the data path uses the copies.
 *   Subscriber, per sample: a deliver entry's mark (acquire), then its
 *     fields once each into a private struct vdds__dmeta; slot and len are
 *     bounded by the copied header. DROP_OLDEST: deliver_cons too, each read
 *     checked on its own (never behind our position). Statistics:
 *     deliver_prod, bounded by the ring. On release: pub_wait, once.
 *   Publisher: a release entry, one 64-bit load (mark and slot together);
 *     deliver_cons, once per use and each read checked (cons_sane: never
 *     behind the last value seen, never past what was delivered) when it
 *     collects returns, for room once a lap, for DROP_OLDEST, and for the
 *     BLOCK wait's choice; wake_gen, once per publish; for introspection the
 *     indices, clamped. It never reads back what it wrote into a lane (the
 *     deliver entries: a private shadow; pub_wait; the lane header). The
 *     topic is its own: sealed, no subscriber can write it.
 *   The payload of a slot is the one thing handed over without a copy (that
 *     is the point of vdds): the application reads it in place.
 */
#ifndef VDDS_LAYOUT_H
#define VDDS_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VDDS__TOPIC_MAGIC 0x54444456u /* "VDDT" little-endian */
#define VDDS__LANE_MAGIC 0x4c444456u  /* "VDDL" */
#define VDDS__LAYOUT_VERSION 3u       /* 3: marked ring entries with the metadata */
#define VDDS__CACHELINE 64
#define VDDS__TYPE_NAME_LEN 64 /* bytes, NUL included */

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "u32 atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "u64 atomics must be lock-free");

/* The topic's overflow policy; the same numbers as enum vdds_overflow. */
#define VDDS__OVERFLOW_MAX 2

struct vdds__topic_hdr {
	uint32_t magic;
	uint16_t layout_version;
	uint16_t hdr_size;
	uint32_t slot_count;
	uint32_t max_subs;
	uint64_t slot_size;   /* payload capacity of one slot */
	uint64_t slot_stride; /* bytes from one slot's payload to the next */
	uint64_t reserved0;   /* 0 (v2: the descriptor array) */
	uint64_t data_offset;
	uint64_t segment_size;
	int32_t publisher_pid;
	uint32_t type_size;
	char type_name[VDDS__TYPE_NAME_LEN];
	uint32_t overflow; /* VDDS_OVERFLOW_BLOCK, _DROP_OLDEST, _FAIL */
	uint32_t history;  /* samples kept for late joiners, <= slot_count / 2 */
	uint8_t reserved[256 - 136];
};
_Static_assert(sizeof(struct vdds__topic_hdr) == 256, "topic header size");
_Static_assert(offsetof(struct vdds__topic_hdr, type_name) == 64, "type_name offset");
_Static_assert(offsetof(struct vdds__topic_hdr, overflow) == 128, "overflow offset");
_Static_assert(offsetof(struct vdds__topic_hdr, data_offset) == 40, "data_offset offset");

/* A deliver ring entry: the slot and its sample's metadata, written with
 * relaxed stores (plain moves) before the release store of mark (= position
 * + 1). Atomic because under DROP_OLDEST a subscriber may read an entry the
 * publisher is rewriting; its compare-and-swap then fails (see above). */
struct vdds__dentry {
	_Atomic uint32_t mark;
	_Atomic uint32_t slot;
	_Atomic uint64_t seq;
	_Atomic uint64_t timestamp_ns;
	_Atomic uint64_t len;
};
_Static_assert(sizeof(struct vdds__dentry) == 32, "two deliver entries per line");
_Static_assert(offsetof(struct vdds__dentry, seq) == 8, "deliver entry seq");
_Static_assert(offsetof(struct vdds__dentry, len) == 24, "deliver entry len");

struct vdds__ring_index {
	alignas(VDDS__CACHELINE) _Atomic uint32_t value;
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
	uint8_t reserved[VDDS__CACHELINE - 32];

	alignas(VDDS__CACHELINE) _Atomic uint32_t deliver_prod;
	alignas(VDDS__CACHELINE) _Atomic uint32_t deliver_cons;
	alignas(VDDS__CACHELINE) _Atomic uint32_t release_prod;
	alignas(VDDS__CACHELINE) _Atomic uint32_t release_cons;
	/* subscriber: nonzero = "I may sleep; wake me", a fresh value per sleep */
	alignas(VDDS__CACHELINE) _Atomic uint64_t wake_gen;
	/* nonzero while the publisher waits for a slot: the seq W of the
	 * oldest sample it waits for; a subscriber releasing a sample with
	 * seq >= W exchanges it to 0 and, if it was nonzero, writes the return
	 * eventfd (see the comment at the top) */
	alignas(VDDS__CACHELINE) _Atomic uint64_t pub_wait;
	alignas(VDDS__CACHELINE) uint8_t reserved1[VDDS__CACHELINE];
	/* followed by struct vdds__dentry deliver[ring_size], u64 release[ring_size] */
};
_Static_assert(sizeof(struct vdds__lane_hdr) == 512, "lane header size");
_Static_assert(offsetof(struct vdds__lane_hdr, deliver_prod) == 64, "deliver_prod");
_Static_assert(offsetof(struct vdds__lane_hdr, deliver_cons) == 128, "deliver_cons");
_Static_assert(offsetof(struct vdds__lane_hdr, release_prod) == 192, "release_prod");
_Static_assert(offsetof(struct vdds__lane_hdr, release_cons) == 256, "release_cons");
_Static_assert(offsetof(struct vdds__lane_hdr, wake_gen) == 320, "wake_gen");
_Static_assert(offsetof(struct vdds__lane_hdr, pub_wait) == 384, "pub_wait");

static inline struct vdds__dentry *vdds__lane_deliver(struct vdds__lane_hdr *l)
{
	return (struct vdds__dentry *)(l + 1);
}

static inline _Atomic uint64_t *vdds__lane_release(struct vdds__lane_hdr *l, uint32_t ring_size)
{
	return (_Atomic uint64_t *)(vdds__lane_deliver(l) + ring_size);
}

static inline uint64_t vdds__lane_size(uint32_t ring_size)
{
	return sizeof(struct vdds__lane_hdr) +
	       (uint64_t)ring_size * (sizeof(struct vdds__dentry) + sizeof(uint64_t));
}

#endif
