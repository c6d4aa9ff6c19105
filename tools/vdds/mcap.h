/* mcap.h — the `vdds` command's MCAP writer (mcap_write.c: chunked with zstd,
 * lz4 or no compression, message and chunk indexes, a summary with
 * statistics) and reader (mcap_read.c: chunked or not, any of those
 * compressions, from a file or a stream), after mcap.dev/spec. The reader
 * trusts nothing in the file: every length is checked against the bytes that
 * are really there and against the fixed bounds below. */
#ifndef VDDS_CLI_MCAP_H
#define VDDS_CLI_MCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Bounds of what the reader holds, whatever a file claims:
 *   MCAP_MAX_CHANNELS   channels, and schemas, per file (tables of this size)
 *   MCAP_MAX_RECORD     one record read into memory (a Chunk, a Message, ...)
 *   MCAP_MAX_CHUNK      one chunk's uncompressed content
 *   MCAP_MAX_SCHEMA     one schema's data kept (longer: kept empty)
 *   MCAP_MAX_META       one channel's metadata map
 *   MCAP_MAX_INDEX      Chunk Index entries used to seek (40 bytes each; a
 *                       summary of more, or of more than MCAP_MAX_RECORD
 *                       bytes, is not used: the file is scanned)
 * Records the reader does not use (attachments, metadata, indexes) are
 * skipped unread, whatever their length. */
#define MCAP_MAX_CHANNELS 1024
#define MCAP_MAX_RECORD (256u << 20)
#define MCAP_MAX_CHUNK (256u << 20)
#define MCAP_MAX_SCHEMA (1u << 20)
#define MCAP_MAX_META (64u << 10)
#define MCAP_MAX_INDEX (1u << 20)

/* CRC-32 (IEEE 802.3, as zlib): crc of len more bytes after crc. Start at 0. */
uint32_t mcap_crc32(uint32_t crc, const void *data, size_t len);

struct mcap_kv {
	const char *key, *value;
};

/* ------------------------------------------------------------- writing */

enum mcap_compression { MCAP_NONE, MCAP_ZSTD, MCAP_LZ4 };

struct mcap_writer_opts {
	const char *profile, *library;
	enum mcap_compression compression;
	size_t chunk_size; /* uncompressed bytes per chunk; 0: no chunks */
};

struct mcap_schema {
	const char *name, *encoding; /* name "": no schema */
	const void *data;
	size_t len;
};

struct mcap_writer;

/* Write the magic and the Header to fd, which the writer owns from then on
 * (closed by mcap_writer_close, also on failure here). 0 or -errno. */
int mcap_writer_open(struct mcap_writer **w, int fd, const struct mcap_writer_opts *o);
/* Add a channel: its Schema (once per schema name), then its Channel record.
 * Sets *id. 0 or -errno (-ENOSPC: MCAP_MAX_CHANNELS reached). */
int mcap_writer_channel(struct mcap_writer *w, const char *topic, const struct mcap_schema *s,
			const char *message_encoding, const struct mcap_kv *meta, int n_meta,
			uint16_t *id);
int mcap_writer_message(struct mcap_writer *w, uint16_t channel, uint32_t sequence,
			uint64_t log_time, uint64_t publish_time, const void *data, size_t len);
/* End the open chunk (its Message Indexes follow it) and hand everything to
 * the kernel, then fdatasync: what was written before survives a crash. */
int mcap_writer_flush(struct mcap_writer *w);
/* Bytes written to the file so far, and messages in it. */
uint64_t mcap_writer_bytes(const struct mcap_writer *w);
uint64_t mcap_writer_messages(const struct mcap_writer *w);
/* The first error the writer met (sticky), or 0. */
int mcap_writer_error(const struct mcap_writer *w);
/* Data End, the summary (Schemas, Channels, Statistics, Chunk Indexes),
 * Summary Offsets, Footer and magic; closes the fd and frees w whatever
 * happens. 0 or -errno (the first error, once). */
int mcap_writer_close(struct mcap_writer *w);

/* ------------------------------------------------------------- reading */

struct mcap_channel {
	uint16_t id;
	char *topic, *message_encoding;
	const char *schema_name, *schema_encoding; /* "" when none */
	const unsigned char *schema_data;
	size_t schema_len;
	int n_meta;
	struct mcap_kv *meta; /* strings owned by the reader */
};

/* Where a message is: the file offset of its record, or of its Chunk and
 * the record's offset in the chunk's content. */
struct mcap_pos {
	uint64_t chunk; /* 0: not in a chunk (no record starts at 0: the magic) */
	uint64_t off;
};

struct mcap_message {
	const struct mcap_channel *channel;
	uint32_t sequence;
	uint64_t log_time, publish_time;
	const unsigned char *data; /* valid until the next call */
	size_t len;
	struct mcap_pos pos;
};

struct mcap_reader;

/* Read fd (the reader owns it from then on; closed by mcap_reader_close,
 * even on failure). stream: read it front to back only (a pipe or FIFO; set
 * for anything not a regular file). cancel_fd (or -1): a readable fd there
 * (a signalfd) makes any call return -EINTR promptly, long parses and
 * blocked reads included. Checks the magic and the Header. 0 or -errno
 * (-EBADMSG: not MCAP, with mcap_reader_error()); *r is set either way. */
int mcap_reader_open(struct mcap_reader **r, int fd, bool stream, int cancel_fd);
/* Chunks whose messages all lie outside [start, end] (log time) are
 * skipped unread. In a file (not a stream) whose summary holds Channels and
 * a Chunk Index, the next mcap_reader_next() takes that index (with the
 * summary's Schemas and Channels) and from then on goes straight to the
 * chunks it puts in the range, in file order: the others, and the Message
 * Indexes after every chunk, are not read at all, headers included; what
 * it does not cover (top-level records between chunks) is read as before.
 * An index that does not hold together (Footer CRC, an offset or length
 * outside the data section, chunks that overlap, a malformed record, more
 * than MCAP_MAX_INDEX entries) is not an error: it is not used, and the
 * data section is scanned, skipping chunks by the times in their headers.
 * One that holds together but points at no Chunk record where one is read
 * makes mcap_reader_next() return -EBADMSG. May be called again (from the
 * first message on, as `vdds play` does for relative times). */
void mcap_reader_set_range(struct mcap_reader *r, uint64_t start, uint64_t end);
/* Whether the chunk index is in use (known after the first
 * mcap_reader_next() that follows mcap_reader_set_range()). */
bool mcap_reader_indexed(const struct mcap_reader *r);
/* The next Message of the data section: 1, 0 at its end (Data End, whose CRC
 * is checked when every record was read, or the Footer), or -errno:
 * -EBADMSG for a malformed file, -ENODATA for one that ends inside a record
 * or without a Data End (truncated: what came before is good), each with a
 * reason from mcap_reader_error(); -EINTR (cancel_fd). */
int mcap_reader_next(struct mcap_reader *r, struct mcap_message *m);
/* The Message at pos (from an earlier pass; not on a stream). Its channel
 * must be one seen before. 0 or -errno. */
int mcap_reader_message_at(struct mcap_reader *r, struct mcap_pos pos, struct mcap_message *m);
/* Offset just past the last complete record read. */
uint64_t mcap_reader_good_bytes(const struct mcap_reader *r);
const char *mcap_reader_error(const struct mcap_reader *r);
/* Channels seen so far (at most MCAP_MAX_CHANNELS). */
int mcap_reader_channels(const struct mcap_reader *r, const struct mcap_channel **ch);
void mcap_reader_close(struct mcap_reader *r);

#endif
