/* test_mcap.c — the `vdds` command's MCAP writer and reader: CRC-32 against
 * its check value, a file's exact framing (magic, records, chunks and their
 * indexes, summary offsets, footer), reading back what was written with each
 * compression, refusing damaged files, seeking by time through the chunk
 * index (and not trusting it), and the reader's bounds: a stream
 * claiming 64 GiB, a sparse 512 MiB attachment, a cancel while blocked. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcap.h"

static char path[64];

static void temp_path(void)
{
	snprintf(path, sizeof(path), "/tmp/vdds-mcap-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

static unsigned char *slurp(size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	*len = fread(p, 1, 1 << 20, f);
	fclose(f);
	return p;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int open_path(int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Two channels (one typed, one not), five messages; chunk_size 0: none. */
static void write_file(enum mcap_compression c, size_t chunk_size)
{
	struct mcap_writer *w;
	uint16_t a, b;
	const struct mcap_kv meta[] = { { "vdds.type_name", "pose" } };
	const struct mcap_writer_opts o = { "x-vdds", "test", c, chunk_size };
	const struct mcap_schema pose = { "pose", "", NULL, 0 };

	temp_path();
	ck_assert_int_eq(mcap_writer_open(&w, open_path(O_WRONLY | O_TRUNC), &o), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "cam", &pose, "x-vdds-raw", meta, 1, &a), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "imu", NULL, "x-vdds-raw", NULL, 0, &b), 0);
	ck_assert_uint_ne(a, b);
	for (uint32_t i = 0; i < 5; i++) {
		char data[16];
		int n = snprintf(data, sizeof(data), "m%u", i);

		ck_assert_int_eq(mcap_writer_message(w, i % 2 ? b : a, i + 1, 1000 + i, 500 + i,
						     data, (size_t)n),
				 0);
	}
	ck_assert_int_eq(mcap_writer_close(w), 0);
}

static void write_sample_file(void)
{
	write_file(MCAP_NONE, 0);
}

static int open_reader(struct mcap_reader **r)
{
	return mcap_reader_open(r, open_path(O_RDONLY), false, -1);
}

START_TEST(test_crc32_has_its_check_value)
{
	ck_assert_uint_eq(mcap_crc32(0, "123456789", 9), 0xcbf43926u);
	/* in pieces, the same */
	ck_assert_uint_eq(mcap_crc32(mcap_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	ck_assert_uint_eq(mcap_crc32(0, "", 0), 0);
}
END_TEST

START_TEST(test_file_is_framed_as_the_spec_says)
{
	static const unsigned char magic[8] = { 0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n' };
	size_t len;

	write_sample_file();
	unsigned char *p = slurp(&len);

	ck_assert_mem_eq(p, magic, 8);
	ck_assert_mem_eq(p + len - 8, magic, 8);
	ck_assert_uint_eq(p[8], 0x01); /* Header first */
	/* Footer: opcode, length 20, summary start, summary offset start, CRC */
	const unsigned char *f = p + len - 8 - 29;

	ck_assert_uint_eq(f[0], 0x02);
	ck_assert_uint_eq(le(f + 1, 8), 20);
	uint64_t summary = le(f + 9, 8), offsets = le(f + 17, 8);

	ck_assert_uint_eq(le(f + 25, 4),
			  mcap_crc32(0, p + summary, (size_t)(f + 25 - (p + summary))));
	/* Data End right before the summary, with the CRC of all before it */
	const unsigned char *de = p + summary - 13;

	ck_assert_uint_eq(de[0], 0x0f);
	ck_assert_uint_eq(le(de + 1, 8), 4);
	ck_assert_uint_eq(le(de + 9, 4), mcap_crc32(0, p, (size_t)(de - p)));
	/* records walk from the Header to the Footer exactly */
	size_t off = 8;
	int ops[64], n = 0;

	while (off < len - 8) {
		ops[n++] = p[off];
		off += 9 + le(p + off + 1, 8);
	}
	ck_assert_uint_eq(off, len - 8);
	/* Header Schema Channel Channel 5xMessage DataEnd | Schema Channel Channel
	 * Statistics | 3xSummaryOffset | Footer */
	static const int want[] = { 1, 3, 4, 4, 5, 5, 5, 5, 5, 15, 3, 4, 4, 11, 14, 14, 14, 2 };

	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ops[i], want[i]);
	/* each Summary Offset points at its group */
	for (const unsigned char *so = p + offsets; so[0] == 0x0e; so += 9 + 17) {
		uint64_t start = le(so + 10, 8);

		ck_assert_uint_eq(p[start], so[9]);
	}
	free(p);
	unlink(path);
}
END_TEST

/* Every record from the Header to the Footer, by opcode. */
static int walk(const unsigned char *p, size_t len, int *ops, int max)
{
	size_t off = 8;
	int n = 0;

	while (off < len - 8 && n < max) {
		ops[n++] = p[off];
		off += 9 + le(p + off + 1, 8);
	}
	ck_assert_uint_eq(off, len - 8);
	return n;
}

START_TEST(test_chunked_file_has_indexes_as_the_spec_says)
{
	size_t len;
	int ops[64];

	write_file(MCAP_ZSTD, 1 << 20);
	unsigned char *p = slurp(&len);
	int n = walk(p, len, ops, 64);
	/* Header Schema Channel Channel Chunk MessageIndex x2 DataEnd | Schema
	 * Channel Channel Statistics ChunkIndex | 4xSummaryOffset | Footer */
	static const int want[] = { 1, 3, 4, 4, 6, 7, 7, 15, 3, 4, 4, 11, 8, 14, 14, 14, 14, 2 };

	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ops[i], want[i]);
	/* the Chunk Index points at the chunk, and at each Message Index */
	const unsigned char *f = p + len - 8 - 29;
	uint64_t offsets = le(f + 17, 8);
	const unsigned char *ci = NULL;

	for (const unsigned char *so = p + offsets; so[0] == 0x0e; so += 9 + 17)
		if (so[9] == 0x08)
			ci = p + le(so + 10, 8);
	ck_assert_ptr_nonnull(ci);
	ck_assert_uint_eq(ci[0], 0x08);
	ck_assert_uint_eq(le(ci + 9, 8), 1000);         /* first log time */
	ck_assert_uint_eq(le(ci + 17, 8), 1004);        /* last */
	ck_assert_uint_eq(p[le(ci + 25, 8)], 0x06);     /* the chunk */
	ck_assert_uint_eq(le(ci + 41, 4), 2 * (2 + 8)); /* two channels' indexes */
	ck_assert_uint_eq(p[le(ci + 45 + 2, 8)], 0x07);
	ck_assert_uint_eq(p[le(ci + 55 + 2, 8)], 0x07);
	free(p);
	unlink(path);
}
END_TEST

static void read_back(enum mcap_compression c, size_t chunk_size)
{
	struct mcap_reader *r;
	struct mcap_message m;
	const struct mcap_channel *ch;
	struct mcap_pos pos[5];

	write_file(c, chunk_size);
	ck_assert_int_eq(open_reader(&r), 0);
	for (uint32_t i = 0; i < 5; i++) {
		char data[16];
		int n = snprintf(data, sizeof(data), "m%u", i);

		ck_assert_int_eq(mcap_reader_next(r, &m), 1);
		ck_assert_str_eq(m.channel->topic, i % 2 ? "imu" : "cam");
		ck_assert_str_eq(m.channel->schema_name, i % 2 ? "" : "pose");
		ck_assert_str_eq(m.channel->message_encoding, "x-vdds-raw");
		ck_assert_uint_eq(m.sequence, i + 1);
		ck_assert_uint_eq(m.log_time, 1000 + i);
		ck_assert_uint_eq(m.publish_time, 500 + i);
		ck_assert_uint_eq(m.len, (size_t)n);
		ck_assert_mem_eq(m.data, data, (size_t)n);
		ck_assert(chunk_size ? m.pos.chunk != 0 : m.pos.chunk == 0);
		pos[i] = m.pos;
	}
	ck_assert_int_eq(mcap_reader_next(r, &m), 0); /* Data End, CRC good */
	ck_assert_int_eq(mcap_reader_channels(r, &ch), 2);
	ck_assert_int_eq(ch[0].n_meta, 1);
	ck_assert_str_eq(ch[0].meta[0].value, "pose");
	/* each again by its place, backwards */
	for (int i = 4; i >= 0; i--) {
		char data[16];
		int n = snprintf(data, sizeof(data), "m%d", i);

		ck_assert_int_eq(mcap_reader_message_at(r, pos[i], &m), 0);
		ck_assert_uint_eq(m.sequence, (unsigned)i + 1);
		ck_assert_mem_eq(m.data, data, (size_t)n);
	}
	mcap_reader_close(r);
	unlink(path);
}

START_TEST(test_reader_gives_back_what_was_written)
{
	read_back(MCAP_NONE, 0);       /* unchunked */
	read_back(MCAP_NONE, 1 << 20); /* chunked, uncompressed */
	read_back(MCAP_ZSTD, 1 << 20);
	read_back(MCAP_LZ4, 1 << 20);
	read_back(MCAP_ZSTD, 40); /* a chunk every message or two */
	read_back(MCAP_LZ4, 40);
}
END_TEST

/* Change one byte of the file at offset off. */
static void damage(long off, unsigned char v)
{
	FILE *f = fopen(path, "r+b");

	ck_assert_ptr_nonnull(f);
	fseek(f, off, SEEK_SET);
	fputc(v, f);
	fclose(f);
}

static int read_all(void)
{
	struct mcap_reader *r;
	struct mcap_message m;
	int err = open_reader(&r);

	if (err == 0)
		while ((err = mcap_reader_next(r, &m)) == 1)
			;
	mcap_reader_close(r);
	return err;
}

START_TEST(test_damaged_files_are_refused)
{
	size_t len;

	write_sample_file();
	unsigned char *p = slurp(&len);
	/* a payload byte: only the data section CRC can tell */
	unsigned char *hit = memmem(p, len, "m3", 2);

	ck_assert_ptr_nonnull(hit);
	damage(hit - p, 'X');
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* a record length past the end: cut short; past the bound: refused */
	write_sample_file();
	damage(hit - p - 31 + 1 + 2, 0x7f);
	ck_assert_int_eq(read_all(), -ENODATA);
	write_sample_file();
	damage(9 + 7, 0x7f);
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* not MCAP at all */
	write_sample_file();
	damage(1, 'X');
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* truncated in the middle of a message: the messages before it come */
	write_sample_file();
	ck_assert_int_eq(truncate(path, (off_t)(hit - p)), 0);
	struct mcap_reader *r;
	struct mcap_message m;
	int n = 0, err;

	ck_assert_int_eq(open_reader(&r), 0);
	while ((err = mcap_reader_next(r, &m)) == 1)
		n++;
	ck_assert_int_eq(err, -ENODATA);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(mcap_reader_good_bytes(r), (uint64_t)(hit - p - 31));
	mcap_reader_close(r);
	free(p);
	/* a chunk's compressed bytes damaged: its CRC or zstd says so */
	write_file(MCAP_ZSTD, 1 << 20);
	p = slurp(&len);
	damage((long)(len / 3), p[len / 3] ^ 0x55);
	ck_assert_int_eq(read_all(), -EBADMSG);
	free(p);
	unlink(path);
}
END_TEST

/* A time range skips the chunks wholly outside it without reading them:
 * a damaged chunk outside the range goes unnoticed, one inside does not. */
START_TEST(test_range_skips_chunks_unread)
{
	struct mcap_reader *r;
	struct mcap_message m;
	size_t len;
	int n = 0, err;

	write_file(MCAP_ZSTD, 40); /* chunks of a message or two */
	unsigned char *p = slurp(&len);
	/* damage the first chunk's compressed bytes (log times 1000..1001) */
	unsigned char *chunk = memchr(p + 8 + 9 + le(p + 9, 8), 0x06, 200);

	ck_assert_ptr_nonnull(chunk);
	ck_assert_uint_eq(le(chunk + 9, 8), 1000);
	damage(chunk - p + (long)le(chunk + 1, 8), 0xff); /* its last byte */
	ck_assert_int_eq(read_all(), -EBADMSG);
	ck_assert_int_eq(open_reader(&r), 0);
	mcap_reader_set_range(r, 1002, 1003);
	while ((err = mcap_reader_next(r, &m)) == 1) {
		ck_assert_uint_ge(m.log_time, 1002);
		n++;
	}
	ck_assert_int_eq(err, 0);
	ck_assert_int_ge(n, 2); /* 1002 and 1003, and what shares their chunks */
	mcap_reader_close(r);
	free(p);
	unlink(path);
}
END_TEST

/* Twenty messages, one per chunk (chunk_size 1), log times 1000, 1010, ...
 * 1190 and sequence numbers 1..20, on two channels taking turns. */
static void write_many(void)
{
	struct mcap_writer *w;
	uint16_t ch[2];
	const struct mcap_writer_opts o = { "x-vdds", "test", MCAP_ZSTD, 1 };

	temp_path();
	ck_assert_int_eq(mcap_writer_open(&w, open_path(O_WRONLY | O_TRUNC), &o), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "cam", NULL, "x-vdds-raw", NULL, 0, &ch[0]), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "imu", NULL, "x-vdds-raw", NULL, 0, &ch[1]), 0);
	for (uint32_t i = 0; i < 20; i++) {
		char data[16];
		int n = snprintf(data, sizeof(data), "m%u", i);

		ck_assert_int_eq(
			mcap_writer_message(w, ch[i % 2], i + 1, 1000 + 10 * i, 0, data, (size_t)n),
			0);
	}
	ck_assert_int_eq(mcap_writer_close(w), 0);
}

static void spit(const unsigned char *p, size_t len)
{
	int fd = open_path(O_WRONLY | O_TRUNC);

	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The Chunk records of the data section, in file order (their offsets). */
static int chunks_of(const unsigned char *p, size_t len, size_t *at, int max)
{
	size_t off = 8;
	int n = 0;

	while (off < len - 8 && p[off] != 0x0f) {
		if (p[off] == 0x06 && n < max)
			at[n++] = off;
		off += 9 + le(p + off + 1, 8);
	}
	return n;
}

/* The summary's Chunk Index records, in file order. */
static int chunk_indexes_of(unsigned char *p, size_t len, unsigned char **ci, int max)
{
	const unsigned char *f = p + len - 8 - 29;
	size_t off = le(f + 9, 8), end = le(f + 17, 8);
	int n = 0;

	while (off < end) {
		if (p[off] == 0x08 && n < max)
			ci[n++] = p + off;
		off += 9 + le(p + off + 1, 8);
	}
	return n;
}

/* The Footer's summary CRC made right again after the summary was changed. */
static void fix_summary_crc(unsigned char *p, size_t len)
{
	unsigned char *f = p + len - 8 - 29;
	uint64_t summary = le(f + 9, 8);
	uint32_t crc = mcap_crc32(0, p + summary, (size_t)(f + 25 - (p + summary)));

	for (int i = 0; i < 4; i++)
		f[25 + i] = (unsigned char)(crc >> (8 * i));
}

/* Read with the range [1050, 1080] set before the first message (after it
 * when first is set: that message is given back too), into seq[]. */
static int read_range(bool stream, bool first, uint32_t *seq, int max, int *n, bool *indexed)
{
	struct mcap_reader *r;
	struct mcap_message m;
	int err = mcap_reader_open(&r, open_path(O_RDONLY), stream, -1);

	*n = 0;
	if (err == 0 && first && (err = mcap_reader_next(r, &m)) == 1 && *n < max)
		seq[(*n)++] = m.sequence;
	if (err >= 0) {
		mcap_reader_set_range(r, 1050, 1080);
		while ((err = mcap_reader_next(r, &m)) == 1) {
			char data[16];
			int k = snprintf(data, sizeof(data), "m%u", m.sequence - 1);

			ck_assert_uint_eq(m.log_time, 1000 + 10 * (m.sequence - 1));
			ck_assert_uint_eq(m.len, (size_t)k);
			ck_assert_mem_eq(m.data, data, (size_t)k);
			ck_assert_str_eq(m.channel->topic, m.sequence % 2 ? "cam" : "imu");
			if (*n < max)
				seq[(*n)++] = m.sequence;
		}
	}
	*indexed = mcap_reader_indexed(r);
	mcap_reader_close(r);
	return err;
}

/* The messages logged 1050..1080 (sequence 6..9), and nothing else. */
static void assert_in_range(const uint32_t *seq, int n, int from)
{
	ck_assert_int_eq(n, from + 4);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(seq[from + i], 6 + (uint32_t)i);
}

/* With a time range, a file's chunk index takes the reader straight to the
 * chunks in it: every other chunk is overwritten whole (header and all) and
 * the in-range messages still come back, exactly; read as a stream, or with
 * the summary cut off, the same file is a damaged file. */
START_TEST(test_range_seeks_by_the_chunk_index)
{
	size_t len, at[32];
	uint32_t seq[32];
	int n;
	bool indexed;

	write_many();
	unsigned char *p = slurp(&len);

	ck_assert_int_eq(chunks_of(p, len, at, 32), 20);
	/* undamaged: the index is taken, and gives what a scan gives */
	ck_assert_int_eq(read_range(false, false, seq, 32, &n, &indexed), 0);
	ck_assert(indexed);
	assert_in_range(seq, n, 0);
	ck_assert_int_eq(read_range(true, false, seq, 32, &n, &indexed), 0);
	ck_assert(!indexed); /* a stream cannot seek */
	assert_in_range(seq, n, 0);
	/* every chunk but the first (1000) and those of 1050..1080 overwritten */
	for (int i = 1; i < 20; i++)
		if (i < 5 || i > 8)
			memset(p + at[i], 0xee, (size_t)(9 + le(p + at[i] + 1, 8)));
	spit(p, len);
	ck_assert_int_eq(read_range(false, false, seq, 32, &n, &indexed), 0);
	ck_assert(indexed);
	assert_in_range(seq, n, 0);
	/* the range set after the first message, as `vdds play` does */
	ck_assert_int_eq(read_range(false, true, seq, 32, &n, &indexed), 0);
	ck_assert(indexed);
	ck_assert_uint_eq(seq[0], 1);
	assert_in_range(seq, n, 1);
	/* a stream walks into the damage (the second chunk) */
	ck_assert_int_eq(read_range(true, false, seq, 32, &n, &indexed), -ENODATA);
	ck_assert_int_eq(n, 0);
	/* so does a file without its summary */
	const unsigned char *f = p + len - 8 - 29;

	ck_assert_int_eq(truncate(path, (off_t)le(f + 9, 8)), 0);
	ck_assert_int_lt(read_range(false, false, seq, 32, &n, &indexed), 0);
	ck_assert(!indexed);
	ck_assert_int_eq(n, 0);
	free(p);
	unlink(path);
}
END_TEST

/* Read the file as changed by the caller: the in-range messages, exactly,
 * the index used or not as said. */
static void assert_read(bool want_indexed)
{
	uint32_t seq[32];
	int n;
	bool indexed;

	ck_assert_int_eq(read_range(false, false, seq, 32, &n, &indexed), 0);
	ck_assert_int_eq(indexed, want_indexed);
	assert_in_range(seq, n, 0);
}

/* A chunk index that does not hold together is not used: the file is
 * scanned, and gives the same messages. One that holds together but points
 * beside a chunk is a damaged file, said so. */
START_TEST(test_malformed_chunk_index_is_not_used)
{
	unsigned char *ci[32];
	size_t len;

	write_many();
	unsigned char *p = slurp(&len), *q = malloc(len);

	ck_assert_int_eq(chunk_indexes_of(p, len, ci, 32), 20);
	/* fields of a Chunk Index: times +9 +17, offset +25, length +33 */
	uint64_t start5 = le(ci[5] + 25, 8);

	/* the summary changed and its CRC not: not used */
	memcpy(q, p, len);
	put_le64(q + (ci[7] - p) + 25, start5);
	spit(q, len);
	assert_read(false);
	/* a chunk past the end of the file */
	put_le64(q + (ci[7] - p) + 25, len + 100);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(false);
	/* one over another: the offset of chunk 5 twice */
	put_le64(q + (ci[7] - p) + 25, start5);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(false);
	/* offset plus length past 2^64 */
	memcpy(q, p, len);
	put_le64(q + (ci[7] - p) + 33, UINT64_MAX - 8);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(false);
	/* a length too short for a Chunk record */
	memcpy(q, p, len);
	put_le64(q + (ci[7] - p) + 33, 8);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(false);
	/* a Chunk Index record longer than the summary */
	memcpy(q, p, len);
	put_le64(q + (ci[19] - p) + 1, 1u << 20);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(false);
	/* the CRC set to 0 (none) with the index intact: used */
	memcpy(q, p, len);
	memset(q + len - 8 - 4, 0, 4);
	spit(q, len);
	assert_read(true);
	/* out of order in the summary (two whole records swapped): sorted, used */
	memcpy(q, p, len);
	size_t l2 = (size_t)(9 + le(ci[2] + 1, 8)), l12 = (size_t)(9 + le(ci[12] + 1, 8));

	ck_assert_uint_eq(l2, l12);
	memcpy(q + (ci[2] - p), ci[12], l12);
	memcpy(q + (ci[12] - p), ci[2], l2);
	fix_summary_crc(q, len);
	spit(q, len);
	assert_read(true);
	/* in-range chunk 5 said to start a byte late, chunk 4's Message Index a
	 * byte longer to meet it: no gap, no overlap, yet no Chunk there */
	memcpy(q, p, len);
	put_le64(q + (ci[5] - p) + 25, start5 + 1);
	put_le64(q + (ci[5] - p) + 33, le(ci[5] + 33, 8) - 1);
	unsigned char *mi4 = q + (ci[4] - p) + 45 + le(ci[4] + 41, 4);

	put_le64(mi4, le(mi4, 8) + 1);
	fix_summary_crc(q, len);
	spit(q, len);
	struct mcap_reader *r;
	struct mcap_message m;
	int err;

	ck_assert_int_eq(open_reader(&r), 0);
	mcap_reader_set_range(r, 1050, 1080);
	while ((err = mcap_reader_next(r, &m)) == 1)
		;
	ck_assert_int_eq(err, -EBADMSG);
	ck_assert(mcap_reader_indexed(r));
	ck_assert_ptr_nonnull(strstr(mcap_reader_error(r), "chunk index"));
	mcap_reader_close(r);
	free(q);
	free(p);
	unlink(path);
}
END_TEST

static long max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void put_rec(int fd, int op, uint64_t len)
{
	unsigned char h[9] = { (unsigned char)op };

	for (int i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)(len >> (8 * i));
	ck_assert_int_eq(write(fd, h, 9), 9);
}

/* A stream (pipe) whose record claims 64 GiB and then ends after 1 MiB: the
 * reader says "cut short" having held no more than what came. */
START_TEST(test_stream_claiming_64_gib_allocates_what_arrives)
{
	static const unsigned char magic[8] = { 0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n' };
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static char zero[1 << 16];

		close(fds[0]);
		if (write(fds[1], magic, 8) != 8)
			_exit(1);
		put_rec(fds[1], 0x01, 8);
		if (write(fds[1], zero, 8) != 8)
			_exit(1);
		put_rec(fds[1], 0x05, 1ull << 36);
		for (int i = 0; i < 16; i++)
			if (write(fds[1], zero, sizeof(zero)) != sizeof(zero))
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	long before = max_rss_kb();
	struct mcap_reader *r;
	struct mcap_message m;

	ck_assert_int_eq(mcap_reader_open(&r, fds[0], true, -1), 0);
	ck_assert_int_eq(mcap_reader_next(r, &m), -EBADMSG); /* over MCAP_MAX_RECORD */
	mcap_reader_close(r);
	/* and one just under the bound: only what arrived is held */
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		static char zero[1 << 16];

		close(fds[0]);
		if (write(fds[1], magic, 8) != 8)
			_exit(1);
		put_rec(fds[1], 0x01, 8);
		if (write(fds[1], zero, 8) != 8)
			_exit(1);
		put_rec(fds[1], 0x05, MCAP_MAX_RECORD);
		for (int i = 0; i < 16; i++)
			if (write(fds[1], zero, sizeof(zero)) != sizeof(zero))
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(mcap_reader_open(&r, fds[0], true, -1), 0);
	ck_assert_int_eq(mcap_reader_next(r, &m), -ENODATA);
	mcap_reader_close(r);
	waitpid(pid, NULL, 0);
	ck_assert_int_lt(max_rss_kb() - before, 32 * 1024);
}
END_TEST

/* A 512 MiB attachment, sparse on disk, before the messages: skipped
 * unread, the messages after it read, memory untouched. */
START_TEST(test_attachment_is_skipped_unread)
{
	size_t len;

	write_sample_file();
	unsigned char *p = slurp(&len);
	const uint64_t big = 512ull << 20;
	int fd = open_path(O_WRONLY | O_TRUNC);
	size_t head = 8 + 9 + le(p + 8 + 1, 8); /* magic and Header */

	ck_assert_int_eq(write(fd, p, head), (ssize_t)head);
	put_rec(fd, 0x09, big);
	ck_assert_int_ge(lseek(fd, (off_t)big, SEEK_CUR), 0);
	ck_assert_int_eq(write(fd, p + head, len - head), (ssize_t)(len - head));
	close(fd);
	long before = max_rss_kb();
	struct mcap_reader *r;
	struct mcap_message m;
	int n = 0, err;

	ck_assert_int_eq(open_reader(&r), 0);
	while ((err = mcap_reader_next(r, &m)) == 1)
		n++;
	ck_assert_int_eq(err, 0); /* the CRC is not checked: a record was skipped */
	ck_assert_int_eq(n, 5);
	mcap_reader_close(r);
	ck_assert_int_lt(max_rss_kb() - before, 32 * 1024);
	free(p);
	unlink(path);
}
END_TEST

/* A reader blocked on a silent stream returns -EINTR once its cancel fd
 * (a signalfd in the command) is readable. */
START_TEST(test_cancel_ends_a_blocked_read)
{
	int fds[2], ev = eventfd(0, EFD_CLOEXEC);
	struct mcap_reader *r;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "\x89MCAP0\r\n", 8), 8);
	pid_t pid = fork();

	if (pid == 0) { /* the canceller: 200 ms later */
		uint64_t one = 1;

		usleep(200000);
		_exit(write(ev, &one, sizeof(one)) == sizeof(one) ? 0 : 1);
	}
	alarm(10); /* a read that ignores the cancel would hang: fail */
	ck_assert_int_eq(mcap_reader_open(&r, fds[0], true, ev), -EINTR);
	alarm(0);
	mcap_reader_close(r);
	close(fds[1]);
	close(ev);
	waitpid(pid, NULL, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mcap");
	TCase *tc = tcase_create("mcap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crc32_has_its_check_value);
	tcase_add_test(tc, test_file_is_framed_as_the_spec_says);
	tcase_add_test(tc, test_chunked_file_has_indexes_as_the_spec_says);
	tcase_add_test(tc, test_reader_gives_back_what_was_written);
	tcase_add_test(tc, test_damaged_files_are_refused);
	tcase_add_test(tc, test_range_skips_chunks_unread);
	tcase_add_test(tc, test_range_seeks_by_the_chunk_index);
	tcase_add_test(tc, test_malformed_chunk_index_is_not_used);
	tcase_add_test(tc, test_stream_claiming_64_gib_allocates_what_arrives);
	tcase_add_test(tc, test_attachment_is_skipped_unread);
	tcase_add_test(tc, test_cancel_ends_a_blocked_read);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed ? 1 : 0;
}
