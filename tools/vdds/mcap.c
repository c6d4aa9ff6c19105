/* mcap.c — writing and reading MCAP files, after the specification at
 * mcap.dev/spec: little-endian fields, records of <opcode u8><length u64>
 * <content>, strings and maps with u32 byte-length prefixes. The writer is
 * unchunked with a summary section; the reader takes any unchunked file. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mcap.h"

#define OP_HEADER 0x01
#define OP_FOOTER 0x02
#define OP_SCHEMA 0x03
#define OP_CHANNEL 0x04
#define OP_MESSAGE 0x05
#define OP_CHUNK 0x06
#define OP_STATISTICS 0x0b
#define OP_SUMMARY_OFFSET 0x0e
#define OP_DATA_END 0x0f

static const unsigned char magic[8] = { 0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n' };

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

/* ------------------------------------------------------------- writing */

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
	uint16_t id;
	char *name;
	struct buf rec;
};

struct wchannel {
	uint16_t id;
	uint64_t count;
	struct buf rec;
};

struct mcap_writer {
	FILE *f;
	uint64_t off;
	uint32_t data_crc;
	int err;
	struct wschema schemas[MCAP_MAX_CHANNELS];
	struct wchannel channels[MCAP_MAX_CHANNELS];
	int n_schemas, n_channels;
	uint64_t messages, t_first, t_last;
};

static void emit(struct mcap_writer *w, const void *data, size_t len, uint32_t *crc)
{
	if (w->err)
		return;
	if (fwrite(data, 1, len, w->f) != len) {
		w->err = errno ? -errno : -EIO;
		return;
	}
	w->off += len;
	if (crc)
		*crc = mcap_crc32(*crc, data, len);
}

static void emit_buf(struct mcap_writer *w, const struct buf *b, uint32_t *crc)
{
	if (b->oom)
		w->err = w->err ? w->err : -ENOMEM;
	else
		emit(w, b->p, b->len, crc);
}

int mcap_writer_open(struct mcap_writer **wp, const char *path, const char *profile,
		     const char *library)
{
	struct mcap_writer *w = calloc(1, sizeof(*w));
	struct buf b = { 0 };

	if (!w)
		return -ENOMEM;
	w->f = fopen(path, "wbe");
	if (!w->f) {
		int err = -errno;

		free(w);
		return err;
	}
	emit(w, magic, sizeof(magic), &w->data_crc);
	size_t s = begin_record(&b, OP_HEADER);

	put_str(&b, profile);
	put_str(&b, library);
	end_record(&b, s);
	emit_buf(w, &b, &w->data_crc);
	free(b.p);
	*wp = w;
	return w->err;
}

static int schema_for(struct mcap_writer *w, const char *name, uint16_t *id)
{
	*id = 0;
	if (!name || !*name)
		return 0; /* no schema */
	for (int i = 0; i < w->n_schemas; i++) {
		if (!strcmp(w->schemas[i].name, name)) {
			*id = w->schemas[i].id;
			return 0;
		}
	}
	if (w->n_schemas == MCAP_MAX_CHANNELS)
		return -ENOSPC;
	struct wschema *sc = &w->schemas[w->n_schemas];

	if (!(sc->name = strdup(name)))
		return -ENOMEM;
	sc->id = (uint16_t)(w->n_schemas + 1); /* schema ids start at 1: 0 is none */
	size_t s = begin_record(&sc->rec, OP_SCHEMA);

	put_le(&sc->rec, sc->id, 2);
	put_str(&sc->rec, name);
	put_str(&sc->rec, ""); /* encoding "": the type is named, no schema text */
	put_le(&sc->rec, 0, 4);
	end_record(&sc->rec, s);
	w->n_schemas++;
	emit_buf(w, &sc->rec, &w->data_crc);
	*id = sc->id;
	return w->err;
}

int mcap_writer_channel(struct mcap_writer *w, const char *topic, const char *schema_name,
			const char *message_encoding, const struct mcap_kv *meta, int n_meta,
			uint16_t *id)
{
	uint16_t schema;
	int err = schema_for(w, schema_name, &schema);

	if (err < 0)
		return err;
	if (w->n_channels == MCAP_MAX_CHANNELS)
		return -ENOSPC;
	struct wchannel *ch = &w->channels[w->n_channels];
	struct buf m = { 0 };

	ch->id = (uint16_t)(w->n_channels + 1);
	for (int i = 0; i < n_meta; i++) {
		put_str(&m, meta[i].key);
		put_str(&m, meta[i].value);
	}
	size_t s = begin_record(&ch->rec, OP_CHANNEL);

	put_le(&ch->rec, ch->id, 2);
	put_le(&ch->rec, schema, 2);
	put_str(&ch->rec, topic);
	put_str(&ch->rec, message_encoding);
	put_le(&ch->rec, m.len, 4);
	put(&ch->rec, m.p, m.len);
	end_record(&ch->rec, s);
	if (m.oom)
		ch->rec.oom = true;
	free(m.p);
	w->n_channels++;
	emit_buf(w, &ch->rec, &w->data_crc);
	*id = ch->id;
	return w->err;
}

int mcap_writer_message(struct mcap_writer *w, uint16_t channel, uint32_t sequence,
			uint64_t log_time, uint64_t publish_time, const void *data, size_t len)
{
	if (channel == 0 || channel > w->n_channels)
		return -EINVAL;
	unsigned char hdr[1 + 8 + 2 + 4 + 8 + 8] = { 0 };
	struct buf b = { .p = hdr, .cap = sizeof(hdr) };

	put_le(&b, OP_MESSAGE, 1);
	put_le(&b, 2 + 4 + 8 + 8 + (uint64_t)len, 8);
	put_le(&b, channel, 2);
	put_le(&b, sequence, 4);
	put_le(&b, log_time, 8);
	put_le(&b, publish_time, 8);
	emit(w, hdr, sizeof(hdr), &w->data_crc);
	emit(w, data, len, &w->data_crc);
	if (w->messages == 0 || log_time < w->t_first)
		w->t_first = log_time;
	if (w->messages == 0 || log_time > w->t_last)
		w->t_last = log_time;
	w->messages++;
	w->channels[channel - 1].count++;
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

int mcap_writer_close(struct mcap_writer *w)
{
	struct buf b = { 0 };
	uint32_t crc = 0;
	uint64_t start[3], len[3];

	/* Data End: the CRC of everything so far, magic and Header included */
	size_t s = begin_record(&b, OP_DATA_END);

	put_le(&b, w->data_crc, 4);
	end_record(&b, s);
	emit_buf(w, &b, NULL);
	b.len = 0;

	/* the summary: each group of one opcode together, Channels before the
	 * Statistics that count by channel */
	uint64_t summary_start = w->off;

	start[0] = w->off;
	for (int i = 0; i < w->n_schemas; i++)
		emit_buf(w, &w->schemas[i].rec, &crc);
	len[0] = w->off - start[0];
	start[1] = w->off;
	for (int i = 0; i < w->n_channels; i++)
		emit_buf(w, &w->channels[i].rec, &crc);
	len[1] = w->off - start[1];
	start[2] = w->off;
	s = begin_record(&b, OP_STATISTICS);
	put_le(&b, w->messages, 8);
	put_le(&b, (uint64_t)w->n_schemas, 2);
	put_le(&b, (uint64_t)w->n_channels, 4);
	put_le(&b, 0, 4); /* attachments */
	put_le(&b, 0, 4); /* metadata */
	put_le(&b, 0, 4); /* chunks */
	put_le(&b, w->t_first, 8);
	put_le(&b, w->t_last, 8);
	put_le(&b, (uint64_t)w->n_channels * (2 + 8), 4);
	for (int i = 0; i < w->n_channels; i++) {
		put_le(&b, w->channels[i].id, 2);
		put_le(&b, w->channels[i].count, 8);
	}
	end_record(&b, s);
	emit_buf(w, &b, &crc);
	len[2] = w->off - start[2];
	b.len = 0;

	uint64_t offsets_start = w->off;
	static const int ops[3] = { OP_SCHEMA, OP_CHANNEL, OP_STATISTICS };

	for (int i = 0; i < 3; i++)
		if (len[i])
			summary_offset(&b, ops[i], start[i], len[i]);
	emit_buf(w, &b, &crc);
	b.len = 0;

	/* Footer: its CRC covers the summary, the offsets and the footer's own
	 * opcode, length and two offsets */
	put_le(&b, OP_FOOTER, 1);
	put_le(&b, 8 + 8 + 4, 8);
	put_le(&b, summary_start, 8);
	put_le(&b, offsets_start, 8);
	if (!b.oom)
		crc = mcap_crc32(crc, b.p, b.len);
	put_le(&b, crc, 4);
	put(&b, magic, sizeof(magic));
	emit_buf(w, &b, NULL);
	free(b.p);

	int err = w->err;

	if (fclose(w->f) != 0 && err == 0)
		err = -errno;
	for (int i = 0; i < w->n_schemas; i++) {
		free(w->schemas[i].name);
		free(w->schemas[i].rec.p);
	}
	for (int i = 0; i < w->n_channels; i++)
		free(w->channels[i].rec.p);
	free(w);
	return err;
}

/* ------------------------------------------------------------- reading */

struct rschema {
	uint16_t id;
	char *name;
};

struct mcap_reader {
	FILE *f;
	uint64_t size, off, data_start;
	uint32_t crc, crc_at_start;
	unsigned char *rec;
	size_t rec_cap;
	struct mcap_channel channels[MCAP_MAX_CHANNELS];
	struct rschema schemas[MCAP_MAX_CHANNELS];
	int n_channels, n_schemas;
	char error[160];
};

/* A bounds-checked cursor over one record's content. */
struct cur {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint64_t get_le(struct cur *c, int bytes)
{
	uint64_t v = 0;

	if (c->bad || c->left < (size_t)bytes) {
		c->bad = true;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += bytes;
	c->left -= (size_t)bytes;
	return v;
}

/* A u32-prefixed string, copied with a NUL; NULL on a bad length or memory. */
static char *get_str(struct cur *c)
{
	uint64_t n = get_le(c, 4);

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	char *s = malloc(n + 1);

	if (!s) {
		c->bad = true;
		return NULL;
	}
	memcpy(s, c->p, n);
	s[n] = '\0';
	c->p += n;
	c->left -= n;
	return s;
}

static int bad(struct mcap_reader *r, const char *why)
{
	snprintf(r->error, sizeof(r->error), "%s (at byte %llu)", why, (unsigned long long)r->off);
	return -EBADMSG;
}

static int read_exact(struct mcap_reader *r, void *p, size_t n)
{
	if (fread(p, 1, n, r->f) != n)
		return ferror(r->f) ? -EIO : bad(r, "truncated file");
	r->off += n;
	return 0;
}

/* Read one record into r->rec. Returns its opcode, or -errno. */
static int read_record(struct mcap_reader *r, size_t *len)
{
	unsigned char h[9];
	int err = read_exact(r, h, sizeof(h));

	if (err < 0)
		return err;
	uint64_t n = 0;

	for (int i = 0; i < 8; i++)
		n |= (uint64_t)h[1 + i] << (8 * i);
	if (n > r->size - r->off)
		return bad(r, "record longer than the file");
	if (n > r->rec_cap) {
		unsigned char *p = realloc(r->rec, n);

		if (!p)
			return -ENOMEM;
		r->rec = p;
		r->rec_cap = n;
	}
	if ((err = read_exact(r, r->rec, n)) < 0)
		return err;
	if (h[0] != OP_DATA_END && h[0] != OP_FOOTER) {
		r->crc = mcap_crc32(r->crc, h, sizeof(h));
		r->crc = mcap_crc32(r->crc, r->rec, n);
	}
	*len = n;
	return h[0];
}

static void free_channel(struct mcap_channel *ch)
{
	free(ch->topic);
	free(ch->message_encoding);
	free(ch->schema_name);
	for (int i = 0; i < ch->n_meta; i++) {
		free((char *)ch->meta[i].key);
		free((char *)ch->meta[i].value);
	}
	free(ch->meta);
	memset(ch, 0, sizeof(*ch));
}

static struct mcap_channel *find_channel(struct mcap_reader *r, uint16_t id)
{
	for (int i = 0; i < r->n_channels; i++)
		if (r->channels[i].id == id)
			return &r->channels[i];
	return NULL;
}

static int parse_schema(struct mcap_reader *r, struct cur *c)
{
	uint16_t id = (uint16_t)get_le(c, 2);
	char *name = get_str(c);

	if (c->bad)
		return free(name), bad(r, "malformed Schema record");
	if (id == 0) /* invalid: readers ignore it */
		return free(name), 0;
	for (int i = 0; i < r->n_schemas; i++)
		if (r->schemas[i].id == id)
			return free(name), 0; /* a repeat: identical by the spec */
	if (r->n_schemas == MCAP_MAX_CHANNELS)
		return free(name), bad(r, "too many schemas");
	r->schemas[r->n_schemas++] = (struct rschema){ id, name };
	return 0;
}

static int parse_channel(struct mcap_reader *r, struct cur *c)
{
	struct mcap_channel ch = { 0 };
	uint16_t schema;

	ch.id = (uint16_t)get_le(c, 2);
	schema = (uint16_t)get_le(c, 2);
	ch.topic = get_str(c);
	ch.message_encoding = get_str(c);
	uint64_t mlen = get_le(c, 4);
	struct cur m = { c->p, mlen, c->bad || mlen > c->left };

	while (!m.bad && m.left > 0) {
		struct mcap_kv *kv = realloc(ch.meta, (size_t)(ch.n_meta + 1) * sizeof(*kv));

		if (!kv) {
			m.bad = true;
			break;
		}
		ch.meta = kv;
		kv[ch.n_meta].key = get_str(&m);
		kv[ch.n_meta].value = get_str(&m);
		ch.n_meta++;
	}
	if (c->bad || m.bad) {
		free_channel(&ch);
		return bad(r, "malformed Channel record");
	}
	for (int i = 0; schema && i < r->n_schemas; i++)
		if (r->schemas[i].id == schema) { /* ids are unique: parse_schema() */
			ch.schema_name = strdup(r->schemas[i].name);
			break;
		}
	if (schema && !ch.schema_name) {
		free_channel(&ch);
		return bad(r, "Channel record before its Schema");
	}
	if (!ch.schema_name)
		ch.schema_name = strdup("");
	if (find_channel(r, ch.id) || !ch.schema_name) {
		free_channel(&ch); /* a repeat, identical by the spec; or no memory */
		return 0;
	}
	if (r->n_channels == MCAP_MAX_CHANNELS) {
		free_channel(&ch);
		return bad(r, "too many channels");
	}
	r->channels[r->n_channels++] = ch;
	return 0;
}

int mcap_reader_open(struct mcap_reader **rp, const char *path)
{
	struct mcap_reader *r = calloc(1, sizeof(*r));
	unsigned char m[8];
	struct stat st;
	size_t len;
	int err;

	if (!r)
		return -ENOMEM;
	if (!(r->f = fopen(path, "rbe")) || fstat(fileno(r->f), &st) < 0) {
		err = -errno;
		goto err_free;
	}
	r->size = (uint64_t)st.st_size;
	if (read_exact(r, m, sizeof(m)) < 0 || memcmp(m, magic, sizeof(m)) != 0) {
		err = -EBADMSG;
		bad(r, "not an MCAP file (no magic)");
		goto err_free;
	}
	r->crc = mcap_crc32(0, m, sizeof(m));
	if ((err = read_record(r, &len)) != OP_HEADER) {
		err = err < 0 ? err : bad(r, "no Header record after the magic");
		goto err_free;
	}
	r->data_start = r->off;
	r->crc_at_start = r->crc;
	*rp = r;
	return 0;

err_free:
	*rp = r; /* for mcap_reader_error(); the caller closes it */
	return err;
}

static int parse_message(struct mcap_reader *r, struct cur *c, struct mcap_message *msg)
{
	uint16_t id = (uint16_t)get_le(c, 2);

	msg->sequence = (uint32_t)get_le(c, 4);
	msg->log_time = get_le(c, 8);
	msg->publish_time = get_le(c, 8);
	if (c->bad)
		return bad(r, "malformed Message record");
	if (!(msg->channel = find_channel(r, id)))
		return bad(r, "Message before its Channel record");
	msg->data = c->p;
	msg->len = c->left;
	return 1;
}

int mcap_reader_next(struct mcap_reader *r, struct mcap_message *msg)
{
	for (;;) {
		size_t len;
		uint32_t crc = r->crc;
		uint64_t at = r->off;
		int op = read_record(r, &len);
		struct cur c = { r->rec, len, false };
		int err = 0;

		if (op < 0)
			return op;
		switch (op) {
		case OP_SCHEMA: err = parse_schema(r, &c); break;
		case OP_CHANNEL: err = parse_channel(r, &c); break;
		case OP_MESSAGE: msg->offset = at; return parse_message(r, &c, msg);
		case OP_CHUNK:
			snprintf(r->error, sizeof(r->error),
				 "chunked MCAP files are not supported");
			return -ENOTSUP;
		case OP_DATA_END: {
			uint32_t want = (uint32_t)get_le(&c, 4);

			if (c.bad)
				return bad(r, "malformed Data End record");
			if (want != 0 && want != crc)
				return bad(r, "data section CRC mismatch");
			return 0;
		}
		case OP_FOOTER: return 0;
		default: break; /* attachments, metadata, indexes: not ours to play */
		}
		if (err < 0)
			return err;
	}
}

int mcap_reader_rewind(struct mcap_reader *r)
{
	if (fseeko(r->f, (off_t)r->data_start, SEEK_SET) < 0)
		return -errno;
	r->off = r->data_start;
	r->crc = r->crc_at_start;
	return 0;
}

int mcap_reader_message_at(struct mcap_reader *r, uint64_t offset, struct mcap_message *m)
{
	size_t len;
	uint32_t crc = r->crc;

	if (offset < r->data_start || offset >= r->size)
		return -EINVAL;
	if (fseeko(r->f, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	r->off = offset;
	int op = read_record(r, &len);
	struct cur c = { r->rec, len, false };

	r->crc = crc; /* out of order: no CRC to keep */
	if (op < 0)
		return op;
	if (op != OP_MESSAGE)
		return bad(r, "no Message record there");
	m->offset = offset;
	return parse_message(r, &c, m) < 0 ? -EBADMSG : 0;
}

const char *mcap_reader_error(const struct mcap_reader *r)
{
	return r->error[0] ? r->error : "malformed file";
}

int mcap_reader_channels(const struct mcap_reader *r, const struct mcap_channel **ch)
{
	*ch = r->channels;
	return r->n_channels;
}

void mcap_reader_close(struct mcap_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	for (int i = 0; i < r->n_channels; i++)
		free_channel(&r->channels[i]);
	for (int i = 0; i < r->n_schemas; i++)
		free(r->schemas[i].name);
	free(r->rec);
	free(r);
}
