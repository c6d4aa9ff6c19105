/* mcap_write.c — writing MCAP files as the ecosystem's readers expect them
 * (mcap.dev/spec): Schemas and Channels in the data section and again in
 * the summary; Messages in chunks (zstd, lz4 or uncompressed), each chunk
 * followed by one Message Index per channel; a summary of Schemas,
 * Channels, Statistics and Chunk Indexes with Summary Offsets, so that an
 * indexed reader seeks by time. Little-endian fields, records of
 * <opcode u8><length u64><content>, strings and maps with u32 length
 * prefixes. */
#include <errno.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "mcap.h"
#include "mcap_ops.h"

uint32_t mcap_crc32(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	const unsigned char *p = data;

	if (table[1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* A growing byte buffer; out of memory is remembered, not returned, so a
 * record is built without a check after every field. */
struct buf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + len)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (len) /* data may be NULL for an empty field */
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
	unsigned char le[8];

	for (int i = 0; i < bytes; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	put(b, le, (size_t)bytes);
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	put_le(b, n, 4);
	put(b, s, n);
}

/* Start a record: opcode and a length to fill in by end_record(). */
static size_t begin_record(struct buf *b, int op)
{
	put_le(b, (uint64_t)op, 1);
	put_le(b, 0, 8);
	return b->len;
}

static void end_record(struct buf *b, size_t start)
{
	if (b->oom)
		return;
	uint64_t n = b->len - start;

	for (int i = 0; i < 8; i++)
		b->p[start - 8 + i] = (unsigned char)(n >> (8 * i));
}

struct wschema {
	char *name;
	struct buf rec;
};

/* A channel; ix holds (log time, offset in the chunk) of its messages in
 * the open chunk: its Message Index. */
struct wchannel {
	uint64_t count;
	struct buf rec, ix;
};

struct mcap_writer {
	int fd;
	struct mcap_writer_opts o;
	uint64_t off; /* bytes handed to out so far: the file offset */
	uint32_t data_crc;
	int err;
	struct buf out;   /* not yet written to fd */
	struct buf chunk; /* the open chunk's records, uncompressed */
	uint64_t chunk_t0, chunk_t1;
	struct buf chunk_index; /* Chunk Index records, for the summary */
	uint32_t n_chunks;
	struct wschema schemas[MCAP_MAX_CHANNELS];
	struct wchannel channels[MCAP_MAX_CHANNELS];
	int n_schemas, n_channels;
	uint64_t messages, t_first, t_last;
};

static void fail(struct mcap_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static int write_out(struct mcap_writer *w)
{
	size_t done = 0;

	while (!w->err && done < w->out.len) {
		ssize_t n = write(w->fd, w->out.p + done, w->out.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(w, n < 0 ? -errno : -EIO);
		else
			done += (size_t)n;
	}
	w->out.len = 0;
	return w->err;
}

/* Append to the file; data-section bytes go into its CRC. */
static void emit(struct mcap_writer *w, const struct buf *b, bool data_section)
{
	if (b->oom)
		fail(w, -ENOMEM);
	if (w->err)
		return;
	put(&w->out, b->p, b->len);
	if (w->out.oom)
		fail(w, -ENOMEM);
	w->off += b->len;
	if (data_section)
		w->data_crc = mcap_crc32(w->data_crc, b->p, b->len);
	if (w->out.len >= (64u << 10))
		write_out(w);
}

int mcap_writer_open(struct mcap_writer **wp, int fd, const struct mcap_writer_opts *o)
{
	struct mcap_writer *w = calloc(1, sizeof(*w));
	struct buf b = { 0 };

	*wp = NULL;
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->fd = fd;
	w->o = *o;
	put(&b, mcap_magic, sizeof(mcap_magic));
	size_t s = begin_record(&b, OP_HEADER);

	put_str(&b, o->profile);
	put_str(&b, o->library);
	end_record(&b, s);
	emit(w, &b, true);
	free(b.p);
	*wp = w;
	return w->err;
}

static int schema_for(struct mcap_writer *w, const struct mcap_schema *sc, uint16_t *id)
{
	*id = 0;
	if (!sc || !sc->name || !*sc->name)
		return 0; /* no schema */
	for (int i = 0; i < w->n_schemas; i++) {
		if (!strcmp(w->schemas[i].name, sc->name)) {
			*id = (uint16_t)(i + 1);
			return 0;
		}
	}
	if (w->n_schemas == MCAP_MAX_CHANNELS)
		return -ENOSPC;
	struct wschema *s = &w->schemas[w->n_schemas];

	if (!(s->name = strdup(sc->name)))
		return -ENOMEM;
	*id = (uint16_t)(++w->n_schemas); /* ids start at 1: 0 is "no schema" */
	size_t st = begin_record(&s->rec, OP_SCHEMA);

	put_le(&s->rec, *id, 2);
	put_str(&s->rec, sc->name);
	put_str(&s->rec, sc->encoding ? sc->encoding : "");
	put_le(&s->rec, sc->len, 4);
	put(&s->rec, sc->data, sc->len);
	end_record(&s->rec, st);
	emit(w, &s->rec, true);
	return w->err;
}

int mcap_writer_channel(struct mcap_writer *w, const char *topic, const struct mcap_schema *sc,
			const char *message_encoding, const struct mcap_kv *meta, int n_meta,
			uint16_t *id)
{
	uint16_t schema;
	int err = schema_for(w, sc, &schema);

	if (err < 0)
		return err;
	if (w->n_channels == MCAP_MAX_CHANNELS)
		return -ENOSPC;
	struct wchannel *ch = &w->channels[w->n_channels];
	struct buf m = { 0 };

	*id = (uint16_t)(++w->n_channels);
	for (int i = 0; i < n_meta; i++) {
		put_str(&m, meta[i].key);
		put_str(&m, meta[i].value);
	}
	size_t s = begin_record(&ch->rec, OP_CHANNEL);

	put_le(&ch->rec, *id, 2);
	put_le(&ch->rec, schema, 2);
	put_str(&ch->rec, topic);
	put_str(&ch->rec, message_encoding);
	put_le(&ch->rec, m.len, 4);
	put(&ch->rec, m.p, m.len);
	end_record(&ch->rec, s);
	ch->rec.oom |= m.oom;
	free(m.p);
	emit(w, &ch->rec, true);
	return w->err;
}

/* The open chunk compressed as the options say, into *out (or the chunk
 * itself: *out = &w->chunk). */
static int compress_chunk(struct mcap_writer *w, struct buf *z, const struct buf **out)
{
	size_t cap, n;

	*out = &w->chunk;
	if (w->o.compression == MCAP_NONE)
		return 0;
	cap = w->o.compression == MCAP_ZSTD ? ZSTD_compressBound(w->chunk.len)
					    : LZ4F_compressFrameBound(w->chunk.len, NULL);
	if (!(z->p = malloc(cap)))
		return -ENOMEM;
	if (w->o.compression == MCAP_ZSTD) {
		n = ZSTD_compress(z->p, cap, w->chunk.p, w->chunk.len, 3);
		if (ZSTD_isError(n))
			return -EIO;
	} else {
		n = LZ4F_compressFrame(z->p, cap, w->chunk.p, w->chunk.len, NULL);
		if (LZ4F_isError(n))
			return -EIO;
	}
	z->len = n;
	*out = z;
	return 0;
}

static const char *compression_name(enum mcap_compression c)
{
	return c == MCAP_ZSTD ? "zstd" : c == MCAP_LZ4 ? "lz4" : "";
}

/* Write the open chunk, its Message Indexes, and its Chunk Index into the
 * summary to come. */
static void end_chunk(struct mcap_writer *w)
{
	struct buf z = { 0 }, b = { 0 }, ix = { 0 }, map = { 0 };
	const struct buf *data;

	if (w->chunk.len == 0 || w->err)
		return;
	int err = compress_chunk(w, &z, &data);

	if (err < 0) {
		fail(w, err);
		goto out;
	}
	uint64_t chunk_start = w->off;
	size_t s = begin_record(&b, OP_CHUNK);

	put_le(&b, w->chunk_t0, 8);
	put_le(&b, w->chunk_t1, 8);
	put_le(&b, w->chunk.len, 8);
	put_le(&b, mcap_crc32(0, w->chunk.p, w->chunk.len), 4);
	put_str(&b, compression_name(w->o.compression));
	put_le(&b, data->len, 8);
	put(&b, data->p, data->len);
	end_record(&b, s);
	emit(w, &b, true);
	uint64_t chunk_len = w->off - chunk_start;

	for (int i = 0; i < w->n_channels; i++) {
		struct wchannel *ch = &w->channels[i];

		if (ch->ix.len == 0 && !ch->ix.oom)
			continue;
		put_le(&map, (uint64_t)i + 1, 2);
		put_le(&map, w->off, 8);
		b.len = 0;
		s = begin_record(&b, OP_MESSAGE_INDEX);
		put_le(&b, (uint64_t)i + 1, 2);
		put_le(&b, ch->ix.len, 4);
		put(&b, ch->ix.p, ch->ix.len);
		end_record(&b, s);
		b.oom |= ch->ix.oom;
		emit(w, &b, true);
		ch->ix.len = 0;
	}
	s = begin_record(&ix, OP_CHUNK_INDEX);
	put_le(&ix, w->chunk_t0, 8);
	put_le(&ix, w->chunk_t1, 8);
	put_le(&ix, chunk_start, 8);
	put_le(&ix, chunk_len, 8);
	put_le(&ix, map.len, 4);
	put(&ix, map.p, map.len);
	put_le(&ix, w->off - chunk_start - chunk_len, 8);
	put_str(&ix, compression_name(w->o.compression));
	put_le(&ix, data->len, 8);
	put_le(&ix, w->chunk.len, 8);
	end_record(&ix, s);
	put(&w->chunk_index, ix.p, ix.len);
	if (ix.oom || map.oom || w->chunk_index.oom)
		fail(w, -ENOMEM);
	w->n_chunks++;
out:
	w->chunk.len = 0;
	free(z.p);
	free(b.p);
	free(ix.p);
	free(map.p);
}

int mcap_writer_message(struct mcap_writer *w, uint16_t channel, uint32_t sequence,
			uint64_t log_time, uint64_t publish_time, const void *data, size_t len)
{
	if (channel == 0 || channel > w->n_channels)
		return -EINVAL;
	if (w->err)
		return w->err;
	struct wchannel *ch = &w->channels[channel - 1];
	unsigned char hdr[1 + 8 + 2 + 4 + 8 + 8];
	struct buf h = { .p = hdr, .cap = sizeof(hdr) };

	put_le(&h, OP_MESSAGE, 1);
	put_le(&h, 2 + 4 + 8 + 8 + (uint64_t)len, 8);
	put_le(&h, channel, 2);
	put_le(&h, sequence, 4);
	put_le(&h, log_time, 8);
	put_le(&h, publish_time, 8);
	if (w->o.chunk_size) {
		if (w->chunk.len == 0 || log_time < w->chunk_t0)
			w->chunk_t0 = log_time;
		if (w->chunk.len == 0 || log_time > w->chunk_t1)
			w->chunk_t1 = log_time;
		put_le(&ch->ix, log_time, 8);
		put_le(&ch->ix, w->chunk.len, 8);
		put(&w->chunk, hdr, sizeof(hdr));
		put(&w->chunk, data, len);
		if (w->chunk.oom)
			fail(w, -ENOMEM);
		if (w->chunk.len >= w->o.chunk_size)
			end_chunk(w);
	} else {
		struct buf d = { .p = (void *)data, .len = len };

		emit(w, &h, true);
		emit(w, &d, true);
	}
	if (w->messages == 0 || log_time < w->t_first)
		w->t_first = log_time;
	if (w->messages == 0 || log_time > w->t_last)
		w->t_last = log_time;
	w->messages++;
	ch->count++;
	return w->err;
}

int mcap_writer_flush(struct mcap_writer *w)
{
	end_chunk(w);
	if (write_out(w) == 0 && fdatasync(w->fd) < 0 && errno != EINVAL && errno != EROFS)
		fail(w, -errno); /* EINVAL: a pipe or FIFO, nothing to sync */
	return w->err;
}

uint64_t mcap_writer_bytes(const struct mcap_writer *w)
{
	return w->off + w->chunk.len;
}

uint64_t mcap_writer_messages(const struct mcap_writer *w)
{
	return w->messages;
}

int mcap_writer_error(const struct mcap_writer *w)
{
	return w->err;
}

static void summary_offset(struct buf *b, int op, uint64_t start, uint64_t len)
{
	size_t s = begin_record(b, OP_SUMMARY_OFFSET);

	put_le(b, (uint64_t)op, 1);
	put_le(b, start, 8);
	put_le(b, len, 8);
	end_record(b, s);
}

static void statistics(struct mcap_writer *w, struct buf *b)
{
	size_t s = begin_record(b, OP_STATISTICS);

	put_le(b, w->messages, 8);
	put_le(b, (uint64_t)w->n_schemas, 2);
	put_le(b, (uint64_t)w->n_channels, 4);
	put_le(b, 0, 4); /* attachments */
	put_le(b, 0, 4); /* metadata */
	put_le(b, w->n_chunks, 4);
	put_le(b, w->t_first, 8);
	put_le(b, w->t_last, 8);
	put_le(b, (uint64_t)w->n_channels * (2 + 8), 4);
	for (int i = 0; i < w->n_channels; i++) {
		put_le(b, (uint64_t)i + 1, 2);
		put_le(b, w->channels[i].count, 8);
	}
	end_record(b, s);
}

/* The summary: each group of one opcode together, its place in a Summary
 * Offset. The summary CRC covers it all through the Footer's offsets. */
static void write_summary(struct mcap_writer *w)
{
	struct buf b = { 0 }, offs = { 0 };
	uint64_t summary_start = w->off, start;
	uint32_t crc;

	start = w->off;
	for (int i = 0; i < w->n_schemas; i++)
		put(&b, w->schemas[i].rec.p, w->schemas[i].rec.len);
	if (b.len)
		summary_offset(&offs, OP_SCHEMA, start, b.len);
	start += b.len;
	size_t mark = b.len;

	for (int i = 0; i < w->n_channels; i++)
		put(&b, w->channels[i].rec.p, w->channels[i].rec.len);
	if (b.len > mark)
		summary_offset(&offs, OP_CHANNEL, start, b.len - mark);
	start += b.len - mark;
	mark = b.len;
	statistics(w, &b);
	summary_offset(&offs, OP_STATISTICS, start, b.len - mark);
	start += b.len - mark;
	put(&b, w->chunk_index.p, w->chunk_index.len);
	if (w->chunk_index.len)
		summary_offset(&offs, OP_CHUNK_INDEX, start, w->chunk_index.len);
	uint64_t offsets_start = summary_start + b.len;

	put(&b, offs.p, offs.len);
	put_le(&b, OP_FOOTER, 1);
	put_le(&b, 8 + 8 + 4, 8);
	put_le(&b, summary_start, 8);
	put_le(&b, offsets_start, 8);
	crc = b.oom ? 0 : mcap_crc32(0, b.p, b.len);
	put_le(&b, crc, 4);
	put(&b, mcap_magic, sizeof(mcap_magic));
	emit(w, &b, false);
	free(b.p);
	free(offs.p);
}

int mcap_writer_close(struct mcap_writer *w)
{
	struct buf b = { 0 };

	end_chunk(w);
	/* Data End: the CRC of everything so far, magic and Header included */
	size_t s = begin_record(&b, OP_DATA_END);

	put_le(&b, w->data_crc, 4);
	end_record(&b, s);
	emit(w, &b, false);
	free(b.p);
	write_summary(w);
	write_out(w);
	if (close(w->fd) < 0 && errno != EINTR)
		fail(w, -errno);

	int err = w->err;

	for (int i = 0; i < w->n_schemas; i++) {
		free(w->schemas[i].name);
		free(w->schemas[i].rec.p);
	}
	for (int i = 0; i < w->n_channels; i++) {
		free(w->channels[i].rec.p);
		free(w->channels[i].ix.p);
	}
	free(w->out.p);
	free(w->chunk.p);
	free(w->chunk_index.p);
	free(w);
	return err;
}
