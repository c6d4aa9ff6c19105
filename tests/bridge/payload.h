/* payload.h — shared by the bridge tests and their plain DDS peer: the
 * self-checking payload they send, and the board (a small shared file of
 * atomic counters) through which the test and its processes coordinate. */
#ifndef VDDS_BRIDGE_TEST_PAYLOAD_H
#define VDDS_BRIDGE_TEST_PAYLOAD_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BT_MAGIC 0x76646272u /* "vdbr" */

enum bt_kind {
	BT_PROBE = 1, /* "is the path up?": sent until the receivers say so */
	BT_DATA = 2,  /* the stream under test: counter 1, 2, ... */
	BT_END = 3,   /* after the last BT_DATA */
};

/* Leads every payload; the rest is filled from counter and offset. */
struct bt_head {
	uint32_t magic;
	uint32_t kind;
	uint64_t counter; /* BT_DATA: 1, 2, ...; 0 otherwise */
	uint64_t src_seq; /* the vdds seq it was published with, 0 from DDS */
	uint64_t check;   /* of everything above and the length */
};
#define BT_MIN_LEN sizeof(struct bt_head)

static inline uint64_t bt_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline uint64_t bt_head_check(const struct bt_head *h, size_t len)
{
	return bt_mix(h->magic ^ ((uint64_t)h->kind << 32) ^ bt_mix(h->counter) ^
		      bt_mix(h->src_seq + 1) ^ bt_mix(len + 2));
}

/* Word i of the fill of a payload with this counter and kind. */
static inline uint64_t bt_word(uint64_t counter, uint32_t kind, size_t i)
{
	return bt_mix(counter * 0x9e3779b97f4a7c15ull + kind + (uint64_t)i * 0x2545f4914f6cdd1dull);
}

static inline void bt_fill(void *buf, size_t len, uint32_t kind, uint64_t counter, uint64_t src_seq)
{
	struct bt_head h = { BT_MAGIC, kind, counter, src_seq, 0 };
	uint8_t *p = buf;

	h.check = bt_head_check(&h, len);
	memcpy(p, &h, sizeof(h));
	for (size_t off = sizeof(h), i = 0; off < len; off += 8, i++) {
		uint64_t w = bt_word(counter, kind, i);

		memcpy(p + off, &w, len - off < 8 ? len - off : 8);
	}
}

/* 0 and *h filled if the payload is intact, else -1. */
static inline int bt_check(const void *buf, size_t len, struct bt_head *h)
{
	const uint8_t *p = buf;

	if (len < sizeof(*h))
		return -1;
	memcpy(h, p, sizeof(*h));
	if (h->magic != BT_MAGIC || h->check != bt_head_check(h, len))
		return -1;
	for (size_t off = sizeof(*h), i = 0; off < len; off += 8, i++) {
		uint64_t w = bt_word(h->counter, h->kind, i);

		if (memcmp(p + off, &w, len - off < 8 ? len - off : 8) != 0)
			return -1;
	}
	return 0;
}

/* The size of data message `counter` in a stream of varying sizes. */
static inline size_t bt_vary(uint64_t counter, size_t max)
{
	return BT_MIN_LEN + (size_t)((counter * 7919) % (max - BT_MIN_LEN + 1));
}

/* ------------------------------------------------------------- the board */

#define BT_BOARD_SLOTS 64

struct bt_board {
	_Atomic uint64_t v[BT_BOARD_SLOTS];
};

static inline struct bt_board *bt_board_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	void *p = mmap(NULL, sizeof(struct bt_board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static inline uint64_t bt_get(struct bt_board *b, int i)
{
	return atomic_load(&b->v[i]);
}

static inline void bt_set(struct bt_board *b, int i, uint64_t v)
{
	atomic_store(&b->v[i], v);
}

static inline uint64_t bt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bt_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* A generous limit on any wait of a test: only there to turn a hang into a
 * failure, never to judge speed. */
#define BT_PATIENCE_NS (60ull * 1000000000ull)

#endif
