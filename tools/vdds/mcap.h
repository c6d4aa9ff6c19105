/* mcap.h — a small MCAP writer (unchunked: Header, Schema, Channel and
 * Message records, Data End with its CRC, a summary section of Schemas,
 * Channels and Statistics, Summary Offsets, a Footer with its CRC) and a
 * reader for unchunked files, after the MCAP specification (mcap.dev/spec). */
#ifndef VDDS_CLI_MCAP_H
#define VDDS_CLI_MCAP_H

#include <stdint.h>
#include <stdio.h>

#define MCAP_MAX_CHANNELS 1024

/* CRC-32 (IEEE 802.3, as zlib): crc of len more bytes after crc. Start at 0. */
uint32_t mcap_crc32(uint32_t crc, const void *data, size_t len);

struct mcap_kv {
	const char *key, *value;
};

struct mcap_writer;

/* Create path and write the magic and the Header (profile, library).
 * Returns 0 or -errno. */
int mcap_writer_open(struct mcap_writer **w, const char *path, const char *profile,
		     const char *library);
/* Add a channel: its Schema (once per schema name; none when schema_name is
 * empty), then its Channel record. Sets *id. 0 or -errno (-ENOSPC: too many). */
int mcap_writer_channel(struct mcap_writer *w, const char *topic, const char *schema_name,
			const char *message_encoding, const struct mcap_kv *meta, int n_meta,
			uint16_t *id);
int mcap_writer_message(struct mcap_writer *w, uint16_t channel, uint32_t sequence,
			uint64_t log_time, uint64_t publish_time, const void *data, size_t len);
/* Data End, the summary, Summary Offsets, Footer and magic; frees w whatever
 * happens. 0 or -errno. */
int mcap_writer_close(struct mcap_writer *w);

struct mcap_channel {
	uint16_t id;
	char *topic, *message_encoding, *schema_name;
	int n_meta;
	struct mcap_kv *meta; /* strings owned by the reader */
};

struct mcap_message {
	const struct mcap_channel *channel;
	uint32_t sequence;
	uint64_t log_time, publish_time;
	const unsigned char *data; /* valid until the next call */
	size_t len;
	uint64_t offset; /* of its record in the file */
};

struct mcap_reader;

/* Open and check the leading magic and Header. 0 or -errno (-EBADMSG: not
 * MCAP). */
int mcap_reader_open(struct mcap_reader **r, const char *path);
/* The next Message of the data section: 1, 0 at its end (Data End, whose CRC
 * is checked, or the Footer), or -errno: -EBADMSG for a malformed file, with
 * a reason from mcap_reader_error(); -ENOTSUP for a chunked one. */
int mcap_reader_next(struct mcap_reader *r, struct mcap_message *m);
/* Back to the first record after the Header. */
int mcap_reader_rewind(struct mcap_reader *r);
/* The Message whose record starts at offset (from mcap_message.offset of an
 * earlier pass: its channel is known). 0 or -errno. */
int mcap_reader_message_at(struct mcap_reader *r, uint64_t offset, struct mcap_message *m);
const char *mcap_reader_error(const struct mcap_reader *r);
/* Channels seen so far. */
int mcap_reader_channels(const struct mcap_reader *r, const struct mcap_channel **ch);
void mcap_reader_close(struct mcap_reader *r);

#endif
