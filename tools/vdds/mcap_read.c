/* mcap_read.c — reading MCAP files (mcap.dev/spec) from any conforming
 * writer: the data section's Schemas, Channels and Messages, top-level or
 * in chunks (zstd, lz4 or none), from a file or a stream (pipe, FIFO); with
 * a time range, a file's chunk index says which chunks to go to. The file
 * is untrusted: every length is checked against the bytes really present
 * before anything is allocated for it, tables have fixed bounds (mcap.h),
 * and records not used are skipped unread. */
#include <errno.h>
#include <lz4frame.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mcap.h"
#include "mcap_ops.h"

struct rschema {
	uint16_t id;
	char *name, *encoding;
	unsigned char *data;
	size_t len;
};

/* A Chunk Index entry, as used to seek: the chunk's log times, its record
 * [start, start + len), and end, just past the Message Indexes after it. */
struct cidx {
	uint64_t t0, t1, start, len, end;
};

struct mcap_reader {
	int fd, cancel_fd;
	bool stream;
	uint64_t data_at; /* the data section's first byte, after the Header */
	uint64_t off;     /* the next byte of fd */
	uint64_t good;    /* just past the last complete top-level record */
	uint32_t crc;     /* of the data section so far */
	bool crc_whole;   /* false once a record was skipped unread */
	uint64_t t_start, t_end;
	bool index_wanted;     /* a range was set: look for the chunk index */
	struct cidx *idx;      /* by start offset, checked; NULL: scan instead */
	size_t n_idx, idx_pos; /* idx_pos: the first entry not yet passed */
	unsigned checks;       /* records since the last look at cancel_fd */
	unsigned char *rec;    /* the current top-level record's content */
	size_t rec_cap;
	unsigned char *chunk; /* a chunk's records, uncompressed */
	size_t chunk_cap, chunk_len, chunk_pos;
	uint64_t chunk_at; /* file offset of the chunk in r->chunk; 0: none */
	bool in_chunk;     /* next() is walking r->chunk */
	struct mcap_channel channels[MCAP_MAX_CHANNELS];
	struct rschema schemas[MCAP_MAX_CHANNELS];
	int n_channels, n_schemas;
	uint16_t by_id[65536]; /* channel id -> index + 1 */
	char error[160];
};

/* A bounds-checked cursor over bytes in memory. */
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

/* n bytes of c, not copied; NULL (and c bad) when fewer are there. */
static const unsigned char *get_bytes(struct cur *c, uint64_t n)
{
	const unsigned char *p = c->p;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	c->left -= (size_t)n;
	return p;
}

/* A u32-prefixed string, copied with a NUL; NULL on a bad length or memory. */
static char *get_str(struct cur *c)
{
	uint64_t n = get_le(c, 4);
	const unsigned char *p = get_bytes(c, n);
	char *s = p ? malloc((size_t)n + 1) : NULL;

	if (!s) {
		c->bad = true;
		return NULL;
	}
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

static int bad(struct mcap_reader *r, int err, const char *why)
{
	snprintf(r->error, sizeof(r->error), "%s (at byte %llu)", why, (unsigned long long)r->off);
	return err;
}

/* -EINTR when cancel_fd is readable; looked at every 256 calls unless now. */
static int cancelled(struct mcap_reader *r, bool now)
{
	struct pollfd p = { .fd = r->cancel_fd, .events = POLLIN };

	if (r->cancel_fd < 0 || (!now && ++r->checks % 256 != 0))
		return 0;
	return poll(&p, 1, 0) > 0 ? -EINTR : 0;
}

/* Read exactly n bytes. -ENODATA at the end of the file first. A stream is
 * waited on together with cancel_fd, so a signal ends a blocked read. */
static int rd(struct mcap_reader *r, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		if (r->stream) { /* a negative cancel_fd is ignored by poll() */
			struct pollfd fds[2] = { { .fd = r->fd, .events = POLLIN },
						 { .fd = r->cancel_fd, .events = POLLIN } };

			if (poll(fds, 2, -1) < 0 && errno != EINTR)
				return -errno;
			if (fds[1].revents)
				return -EINTR;
			if (!fds[0].revents)
				continue;
		}
		ssize_t k = read(r->fd, (char *)p + got, n - got);

		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue; /* EAGAIN: a FIFO opened non-blocking; poll waits */
		if (k < 0)
			return -errno;
		if (k == 0)
			return bad(r, -ENODATA, "the file ends inside a record");
		got += (size_t)k;
		r->off += (uint64_t)k;
	}
	return 0;
}

/* Pass over n bytes unread: seek in a file, read and drop from a stream. */
static int skip(struct mcap_reader *r, uint64_t n)
{
	r->crc_whole = false;
	if (!r->stream) {
		struct stat st;

		if (fstat(r->fd, &st) < 0)
			return -errno;
		if (n > (uint64_t)st.st_size - r->off || (uint64_t)st.st_size < r->off)
			return bad(r, -ENODATA, "the file ends inside a record");
		if (lseek(r->fd, (off_t)(r->off + n), SEEK_SET) < 0)
			return -errno;
		r->off += n;
		return 0;
	}
	unsigned char drop[16384];

	while (n > 0) {
		size_t k = n < sizeof(drop) ? (size_t)n : sizeof(drop);
		int err = rd(r, drop, k);

		if (err < 0)
			return err;
		n -= k;
	}
	return 0;
}

/* Read n bytes into *buf (grown as needed), never allocating for bytes that
 * are not there: a file's size is checked first; a stream's buffer grows
 * only as its bytes arrive. */
static int rd_alloc(struct mcap_reader *r, uint64_t n, unsigned char **buf, size_t *cap)
{
	if (n > MCAP_MAX_RECORD)
		return bad(r, -EBADMSG, "record larger than the reader's bound");
	if (!r->stream) {
		struct stat st;

		if (fstat(r->fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size < r->off || n > (uint64_t)st.st_size - r->off)
			return bad(r, -ENODATA, "the file ends inside a record");
	}
	size_t got = 0;

	while (got < n) {
		size_t want = r->stream ? (got ? 2 * got : 65536) : (size_t)n;

		if (want > n)
			want = (size_t)n;
		if (want > *cap) {
			unsigned char *p = realloc(*buf, want);

			if (!p)
				return -ENOMEM;
			*buf = p;
			*cap = want;
		}
		int err = rd(r, *buf + got, want - got);

		if (err < 0)
			return err;
		got = want;
	}
	return 0;
}

static void free_channel(struct mcap_channel *ch)
{
	free(ch->topic);
	free(ch->message_encoding);
	for (int i = 0; i < ch->n_meta; i++) {
		free((char *)ch->meta[i].key);
		free((char *)ch->meta[i].value);
	}
	free(ch->meta);
	memset(ch, 0, sizeof(*ch));
}

static int parse_schema(struct mcap_reader *r, struct cur *c)
{
	struct rschema s = { 0 };

	s.id = (uint16_t)get_le(c, 2);
	s.name = get_str(c);
	s.encoding = get_str(c);
	uint64_t n = get_le(c, 4);
	const unsigned char *d = get_bytes(c, n);

	if (c->bad) {
		free(s.name);
		free(s.encoding);
		return bad(r, -EBADMSG, "malformed Schema record");
	}
	bool keep = s.id != 0; /* id 0 is invalid: readers ignore it */

	for (int i = 0; keep && i < r->n_schemas; i++)
		keep = r->schemas[i].id != s.id; /* a repeat: identical by the spec */
	if (keep && r->n_schemas == MCAP_MAX_CHANNELS) {
		free(s.name);
		free(s.encoding);
		return bad(r, -EBADMSG, "more schemas than the reader's bound");
	}
	if (keep && n <= MCAP_MAX_SCHEMA && n > 0 && (s.data = malloc((size_t)n))) {
		memcpy(s.data, d, (size_t)n);
		s.len = (size_t)n;
	}
	if (!keep) {
		free(s.name);
		free(s.encoding);
		return 0;
	}
	r->schemas[r->n_schemas++] = s;
	return 0;
}

static int parse_meta(struct mcap_channel *ch, struct cur *m)
{
	int cap = 0;

	while (!m->bad && m->left > 0) {
		if (ch->n_meta == cap) {
			cap = cap ? 2 * cap : 8;
			struct mcap_kv *kv = realloc(ch->meta, (size_t)cap * sizeof(*kv));

			if (!kv)
				return -1;
			ch->meta = kv;
		}
		struct mcap_kv *kv = &ch->meta[ch->n_meta];

		kv->key = get_str(m);
		kv->value = get_str(m);
		ch->n_meta++;
	}
	return m->bad ? -1 : 0;
}

static int parse_channel(struct mcap_reader *r, struct cur *c)
{
	struct mcap_channel ch = { 0 };
	const struct rschema *s = NULL;

	ch.id = (uint16_t)get_le(c, 2);
	uint16_t schema = (uint16_t)get_le(c, 2);

	ch.topic = get_str(c);
	ch.message_encoding = get_str(c);
	uint64_t mlen = get_le(c, 4);
	const unsigned char *map = get_bytes(c, mlen); /* before c->bad is read */
	struct cur m = { map, (size_t)mlen, c->bad };

	/* a map past the bound is dropped, not refused: only vdds.* keys matter */
	if (c->bad || (mlen <= MCAP_MAX_META && parse_meta(&ch, &m) < 0)) {
		free_channel(&ch);
		return bad(r, -EBADMSG, "malformed Channel record");
	}
	for (int i = 0; schema && i < r->n_schemas; i++)
		if (r->schemas[i].id == schema)
			s = &r->schemas[i];
	if (schema && !s) {
		free_channel(&ch);
		return bad(r, -EBADMSG, "Channel record before its Schema");
	}
	if (r->by_id[ch.id]) {
		free_channel(&ch); /* a repeat, identical by the spec */
		return 0;
	}
	if (r->n_channels == MCAP_MAX_CHANNELS) {
		free_channel(&ch);
		return bad(r, -EBADMSG, "more channels than the reader's bound");
	}
	/* the schema's strings stay with the schema table: shared, not copied */
	ch.schema_name = s ? s->name : "";
	ch.schema_encoding = s ? s->encoding : "";
	ch.schema_data = s ? s->data : NULL;
	ch.schema_len = s ? s->len : 0;
	r->channels[r->n_channels++] = ch;
	r->by_id[ch.id] = (uint16_t)r->n_channels;
	return 0;
}

static int parse_message(struct mcap_reader *r, struct cur *c, struct mcap_message *msg)
{
	uint16_t id = (uint16_t)get_le(c, 2);

	msg->sequence = (uint32_t)get_le(c, 4);
	msg->log_time = get_le(c, 8);
	msg->publish_time = get_le(c, 8);
	if (c->bad)
		return bad(r, -EBADMSG, "malformed Message record");
	if (!r->by_id[id])
		return bad(r, -EBADMSG, "Message before its Channel record");
	msg->channel = &r->channels[r->by_id[id] - 1];
	msg->data = c->p;
	msg->len = c->left;
	return 1;
}

/* The content of a Chunk record (after its two times) uncompressed into
 * r->chunk. Its claimed size is bounded and must be exactly what comes out. */
static int unchunk(struct mcap_reader *r, struct cur *c, uint64_t at)
{
	uint64_t size = get_le(c, 8);
	uint32_t crc = (uint32_t)get_le(c, 4);
	uint64_t clen = get_le(c, 4);
	const unsigned char *comp = get_bytes(c, clen);
	uint64_t dlen = get_le(c, 8);
	const unsigned char *data = get_bytes(c, dlen);
	size_t n = 0;

	r->chunk_at = 0;
	if (c->bad)
		return bad(r, -EBADMSG, "malformed Chunk record");
	if (size > MCAP_MAX_CHUNK)
		return bad(r, -EBADMSG, "chunk larger than the reader's bound");
	if (size > r->chunk_cap) {
		unsigned char *p = realloc(r->chunk, (size_t)size);

		if (!p)
			return -ENOMEM;
		r->chunk = p;
		r->chunk_cap = (size_t)size;
	}
	if (clen == 0) {
		if (dlen != size)
			return bad(r, -EBADMSG, "uncompressed chunk of the wrong size");
		if (size)
			memcpy(r->chunk, data, (size_t)size);
		n = (size_t)size;
	} else if (clen == 4 && !memcmp(comp, "zstd", 4)) {
		n = ZSTD_decompress(r->chunk, (size_t)size, data, (size_t)dlen);
		if (ZSTD_isError(n))
			return bad(r, -EBADMSG, "bad zstd data in a chunk");
	} else if (clen == 3 && !memcmp(comp, "lz4", 3)) {
		LZ4F_dctx *d;
		size_t in = (size_t)dlen, out = (size_t)size, ret;

		if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
			return -ENOMEM;
		ret = LZ4F_decompress(d, r->chunk, &out, data, &in, NULL);
		LZ4F_freeDecompressionContext(d);
		if (LZ4F_isError(ret) || ret != 0 || in != dlen)
			return bad(r, -EBADMSG, "bad or incomplete lz4 data in a chunk");
		n = out;
	} else {
		return bad(r, -EBADMSG, "chunk compression other than zstd, lz4 or none");
	}
	if (n != size)
		return bad(r, -EBADMSG, "chunk's uncompressed size differs from its header");
	if (crc != 0 && mcap_crc32(0, r->chunk, n) != crc)
		return bad(r, -EBADMSG, "chunk CRC mismatch");
	r->chunk_len = n;
	r->chunk_pos = 0;
	r->chunk_at = at;
	return 0;
}

/* The next record of r->chunk: schemas and channels taken in, a message
 * returned (1); 0 at the chunk's end. */
static int next_in_chunk(struct mcap_reader *r, struct mcap_message *msg)
{
	while (r->chunk_pos < r->chunk_len) {
		struct cur c = { r->chunk + r->chunk_pos, r->chunk_len - r->chunk_pos, false };
		size_t at = r->chunk_pos;
		int op = (int)get_le(&c, 1), err = 0;
		uint64_t n = get_le(&c, 8);
		const unsigned char *content = get_bytes(&c, n); /* before c.bad is read */
		struct cur body = { content, (size_t)n, c.bad };

		if (c.bad)
			return bad(r, -EBADMSG, "record longer than its chunk");
		r->chunk_pos = r->chunk_len - c.left;
		if ((err = cancelled(r, false)) < 0)
			return err;
		switch (op) {
		case OP_SCHEMA: err = parse_schema(r, &body); break;
		case OP_CHANNEL: err = parse_channel(r, &body); break;
		case OP_MESSAGE:
			msg->pos = (struct mcap_pos){ r->chunk_at, at };
			return parse_message(r, &body, msg);
		default: break; /* nothing else belongs in a chunk; ignored */
		}
		if (err < 0)
			return err;
	}
	r->in_chunk = false;
	return 0;
}

int mcap_reader_open(struct mcap_reader **rp, int fd, bool stream, int cancel_fd)
{
	struct mcap_reader *r = calloc(1, sizeof(*r));
	unsigned char m[8], h[9];
	int err;

	*rp = r;
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	r->stream = stream;
	r->cancel_fd = cancel_fd;
	r->crc_whole = true;
	r->t_end = UINT64_MAX;
	if ((err = rd(r, m, sizeof(m))) < 0 || memcmp(m, mcap_magic, sizeof(m)) != 0)
		return err == -EINTR ? err : bad(r, -EBADMSG, "not an MCAP file (no magic)");
	if ((err = rd(r, h, sizeof(h))) < 0)
		return err == -EINTR ? err : bad(r, -EBADMSG, "not an MCAP file (no Header)");
	uint64_t n = 0;

	for (int i = 0; i < 8; i++)
		n |= (uint64_t)h[1 + i] << (8 * i);
	if (h[0] != OP_HEADER)
		return bad(r, -EBADMSG, "no Header record after the magic");
	if ((err = rd_alloc(r, n, &r->rec, &r->rec_cap)) < 0)
		return err;
	r->crc = mcap_crc32(mcap_crc32(mcap_crc32(0, m, sizeof(m)), h, sizeof(h)), r->rec,
			    (size_t)n);
	r->good = r->off;
	r->data_at = r->off;
	return 0;
}

void mcap_reader_set_range(struct mcap_reader *r, uint64_t start, uint64_t end)
{
	r->t_start = start;
	r->t_end = end;
	/* once, and only where seeking pays: a file, a range narrower than all */
	if (!r->stream && !r->idx && (start > 0 || end < UINT64_MAX))
		r->index_wanted = true;
}

bool mcap_reader_indexed(const struct mcap_reader *r)
{
	return r->idx != NULL;
}

/* Exactly n bytes at offset at, the file position left alone. */
static int rd_at(struct mcap_reader *r, void *p, size_t n, uint64_t at)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(r->fd, (char *)p + got, n - got, (off_t)(at + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENODATA;
		got += (size_t)k;
	}
	return 0;
}

/* From the Footer: the summary's records lie in [*from, *to); the Footer's
 * CRC (*crc, 0: none) covers *crc_len bytes from *from, up to the CRC
 * field. false: no summary, or a Footer that does not hold together. */
static bool find_summary(struct mcap_reader *r, uint64_t size, uint64_t *from, uint64_t *to,
			 uint64_t *crc_len, uint32_t *crc)
{
	unsigned char f[9 + 20 + 8]; /* Footer and magic */

	if (size < r->data_at + 13 + sizeof(f) || rd_at(r, f, sizeof(f), size - sizeof(f)) < 0)
		return false;
	struct cur c = { f, sizeof(f), false };
	int op = (int)get_le(&c, 1);
	uint64_t n = get_le(&c, 8), start = get_le(&c, 8), offsets = get_le(&c, 8);
	uint64_t footer = size - sizeof(f);

	*crc = (uint32_t)get_le(&c, 4);
	if (op != OP_FOOTER || n != 20 || memcmp(f + 29, mcap_magic, 8) != 0 || start == 0)
		return false;
	/* the data section, its Data End (13 bytes) last, lies before it */
	if (start < r->data_at + 13 || start > footer ||
	    (offsets && (offsets < start || offsets > footer)))
		return false;
	*from = start;
	*to = offsets ? offsets : footer;
	*crc_len = footer + 9 + 16 - start;
	return true;
}

/* The smallest Chunk record: header, two times, size, CRC, "" and 0 bytes. */
#define CHUNK_MIN (9u + 8 + 8 + 8 + 4 + 4 + 8)

static bool parse_chunk_index(struct cur *c, struct cidx *e)
{
	e->t0 = get_le(c, 8);
	e->t1 = get_le(c, 8);
	e->start = get_le(c, 8);
	e->len = get_le(c, 8);
	get_bytes(c, get_le(c, 4)); /* Message Index offsets: not needed */
	uint64_t mi = get_le(c, 8);

	get_bytes(c, get_le(c, 4)); /* compression, and its two sizes */
	get_le(c, 8);
	get_le(c, 8);
	if (c->bad || e->t0 > e->t1 || e->len < CHUNK_MIN || e->len > UINT64_MAX - e->start ||
	    mi > UINT64_MAX - e->start - e->len)
		return false;
	e->end = e->start + e->len + mi;
	return true;
}

static int by_start(const void *a, const void *b)
{
	const struct cidx *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Each record of the summary [p, p + len) with opcode op, in turn: its
 * content in *c. false at the end. Lengths were checked by count_summary. */
static bool next_of(const unsigned char **p, const unsigned char *end, int op, struct cur *c)
{
	while (*p < end) {
		struct cur h = { *p, (size_t)(end - *p), false };
		int o = (int)get_le(&h, 1);
		uint64_t n = get_le(&h, 8);

		*c = (struct cur){ h.p, (size_t)n, false };
		*p = h.p + n;
		if (o == op)
			return true;
	}
	return false;
}

/* Chunk Index records and Channel records in the summary's len bytes; -1
 * when a record runs past them. */
static int count_summary(struct mcap_reader *r, const unsigned char *p, size_t len,
			 size_t *n_channels)
{
	struct cur c = { p, len, false };
	size_t n = 0;

	*n_channels = 0;
	while (c.left > 0) {
		int op = (int)get_le(&c, 1);

		if (!get_bytes(&c, get_le(&c, 8)))
			return -1;
		n += op == OP_CHUNK_INDEX;
		*n_channels += op == OP_CHANNEL;
		if (cancelled(r, false) < 0)
			return -EINTR;
	}
	return n > MCAP_MAX_INDEX ? -1 : (int)n;
}

/* The chunk index, sorted by offset and checked: each chunk and its Message
 * Indexes inside the data section, none overlapping the next. NULL (*n 0)
 * when it does not hold together. */
static struct cidx *chunk_table(struct mcap_reader *r, const unsigned char *p, size_t len, size_t n,
				uint64_t data_end)
{
	struct cidx *t = malloc(n * sizeof(*t));
	const unsigned char *q = p;
	struct cur c;

	for (size_t i = 0; t && i < n; i++)
		if (!next_of(&q, p + len, OP_CHUNK_INDEX, &c) || !parse_chunk_index(&c, &t[i]))
			goto bad;
	if (!t)
		return NULL;
	qsort(t, n, sizeof(*t), by_start);
	for (size_t i = 0; i < n; i++)
		if (t[i].start < (i ? t[i - 1].end : r->data_at) || t[i].end > data_end)
			goto bad;
	return t;
bad:
	free(t);
	return NULL;
}

/* Schemas, then Channels (a Channel names its Schema), from the summary. */
static int summary_channels(struct mcap_reader *r, const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	struct cur c;
	int err = 0;

	while (err == 0 && next_of(&q, p + len, OP_SCHEMA, &c))
		err = parse_schema(r, &c);
	for (q = p; err == 0 && next_of(&q, p + len, OP_CHANNEL, &c);)
		err = parse_channel(r, &c);
	return err;
}

/* Take the summary's chunk index for seeking, with its Schemas and Channels
 * (chunks passed over may hold the only other copy). Anything amiss leaves
 * r->idx NULL: the data section is scanned as without a summary. 0, or
 * -EINTR. */
static int load_index(struct mcap_reader *r)
{
	struct stat st;
	uint64_t from, to, crc_len;
	uint32_t crc;
	unsigned char *sum = NULL;
	struct cidx *t = NULL;
	size_t n_channels = 0;
	int n = 0, err = 0;

	if (fstat(r->fd, &st) < 0 ||
	    !find_summary(r, (uint64_t)st.st_size, &from, &to, &crc_len, &crc))
		return 0;
	if (crc_len > MCAP_MAX_RECORD || !(sum = malloc((size_t)crc_len)))
		return 0;
	if (rd_at(r, sum, (size_t)crc_len, from) < 0 || (err = cancelled(r, true)) < 0 ||
	    (crc && mcap_crc32(0, sum, (size_t)crc_len) != crc))
		goto out;
	n = count_summary(r, sum, (size_t)(to - from), &n_channels);
	if (n == -EINTR)
		err = -EINTR;
	/* no Channels there: a chunk passed over might hold the only one */
	if (n <= 0 || n_channels == 0)
		goto out;
	if (!(t = chunk_table(r, sum, (size_t)(to - from), (size_t)n, from - 13)))
		goto out;
	if (summary_channels(r, sum, (size_t)(to - from)) < 0) {
		r->error[0] = '\0'; /* not the file's fault as far as a scan goes */
		free(t);
		goto out;
	}
	r->idx = t;
	r->n_idx = (size_t)n;
	r->idx_pos = 0;
out:
	free(sum);
	return err;
}

/* With the chunk index: pass over the chunks it puts outside the range, and
 * the Message Indexes after every chunk, without reading a byte of them.
 * What it does not cover (top-level records between chunks, the Data End)
 * is left to the walk. */
static int index_skip(struct mcap_reader *r)
{
	uint64_t to = r->off;

	while (r->idx_pos < r->n_idx) {
		const struct cidx *e = &r->idx[r->idx_pos];
		bool just_read = e->start < to && e->start + e->len == to;

		if (e->start > to)
			break; /* bytes the index does not cover come first */
		if (e->start < to && !just_read) {
			r->idx_pos++; /* behind: passed before the index was taken */
			continue;
		}
		if (!just_read && e->t1 >= r->t_start && e->t0 <= r->t_end)
			break; /* in the range: read it */
		to = e->end;
		r->idx_pos++;
	}
	return to == r->off ? 0 : skip(r, to - r->off);
}

/* A Chunk record at offset at, n bytes: skipped when its time span misses
 * the range, else read and uncompressed. */
static int read_chunk(struct mcap_reader *r, const unsigned char h[9], uint64_t n, uint64_t at)
{
	unsigned char t[16];
	int err;

	if (n < sizeof(t))
		return bad(r, -EBADMSG, "malformed Chunk record");
	if ((err = rd(r, t, sizeof(t))) < 0)
		return err;
	struct cur ct = { t, sizeof(t), false };
	uint64_t t0 = get_le(&ct, 8), t1 = get_le(&ct, 8);

	if (t1 < r->t_start || t0 > r->t_end)
		return skip(r, n - sizeof(t));
	if ((err = rd_alloc(r, n - sizeof(t), &r->rec, &r->rec_cap)) < 0)
		return err;
	r->crc = mcap_crc32(mcap_crc32(mcap_crc32(r->crc, h, 9), t, sizeof(t)), r->rec,
			    (size_t)(n - sizeof(t)));
	struct cur c = { r->rec, (size_t)(n - sizeof(t)), false };

	if ((err = unchunk(r, &c, at)) < 0)
		return err;
	r->in_chunk = true;
	return 0;
}

int mcap_reader_next(struct mcap_reader *r, struct mcap_message *msg)
{
	for (;;) {
		int err = r->in_chunk ? next_in_chunk(r, msg) : 0;

		if (err != 0)
			return err;
		if ((err = cancelled(r, false)) < 0)
			return err;
		if (r->index_wanted) {
			r->index_wanted = false;
			if ((err = load_index(r)) < 0)
				return err;
		}
		if (r->idx && (err = index_skip(r)) < 0)
			return err;
		unsigned char h[9];
		uint64_t at = r->off, n = 0;
		uint32_t crc = r->crc;

		r->good = r->off;
		if ((err = rd(r, h, sizeof(h))) < 0)
			return err != -ENODATA ? err
			       : r->off == at  ? bad(r, err, "the file ends without a Data End")
					       : err;
		for (int i = 0; i < 8; i++)
			n |= (uint64_t)h[1 + i] << (8 * i);
		int op = h[0];

		if (r->idx_pos < r->n_idx && at == r->idx[r->idx_pos].start &&
		    (op != OP_CHUNK || n != r->idx[r->idx_pos].len - 9))
			return bad(r, -EBADMSG,
				   "the chunk index points at no Chunk record of its length");
		if (op == OP_CHUNK) {
			if ((err = read_chunk(r, h, n, at)) < 0)
				return err;
			continue;
		}
		if (op != OP_SCHEMA && op != OP_CHANNEL && op != OP_MESSAGE && op != OP_DATA_END &&
		    op != OP_FOOTER) {
			if ((err = skip(r, n)) < 0) /* attachments, metadata, indexes */
				return err;
			continue;
		}
		if ((err = rd_alloc(r, n, &r->rec, &r->rec_cap)) < 0)
			return err;
		struct cur c = { r->rec, (size_t)n, false };

		r->crc = mcap_crc32(mcap_crc32(r->crc, h, sizeof(h)), r->rec, (size_t)n);
		switch (op) {
		case OP_SCHEMA: err = parse_schema(r, &c); break;
		case OP_CHANNEL: err = parse_channel(r, &c); break;
		case OP_MESSAGE:
			msg->pos = (struct mcap_pos){ 0, at };
			return parse_message(r, &c, msg);
		case OP_DATA_END: {
			uint32_t want = (uint32_t)get_le(&c, 4);

			r->good = r->off;
			if (c.bad)
				return bad(r, -EBADMSG, "malformed Data End record");
			if (want != 0 && r->crc_whole && want != crc)
				return bad(r, -EBADMSG, "data section CRC mismatch");
			return 0;
		}
		default: r->good = r->off; return 0; /* the Footer: no summary */
		}
		if (err < 0)
			return err;
	}
}

/* Read the record at offset at of the file into r->rec; its opcode. */
static int record_at(struct mcap_reader *r, uint64_t at, uint64_t *len)
{
	unsigned char h[9];
	int err;

	*len = 0;
	if (lseek(r->fd, (off_t)at, SEEK_SET) < 0)
		return -errno;
	r->off = at;
	if ((err = rd(r, h, sizeof(h))) < 0)
		return err;
	*len = 0;
	for (int i = 0; i < 8; i++)
		*len |= (uint64_t)h[1 + i] << (8 * i);
	if (h[0] == OP_CHUNK && *len < 16)
		return bad(r, -EBADMSG, "malformed Chunk record");
	if (h[0] != OP_CHUNK && h[0] != OP_MESSAGE)
		return bad(r, -EBADMSG, "no Message or Chunk record where one was");
	if ((err = rd_alloc(r, *len, &r->rec, &r->rec_cap)) < 0)
		return err;
	return h[0];
}

int mcap_reader_message_at(struct mcap_reader *r, struct mcap_pos pos, struct mcap_message *m)
{
	uint64_t len = 0;
	int op, err;

	if (r->stream)
		return -ESPIPE;
	if ((err = cancelled(r, true)) < 0)
		return err;
	r->in_chunk = false;
	if (pos.chunk == 0) {
		if ((op = record_at(r, pos.off, &len)) < 0)
			return op;
		if (op != OP_MESSAGE)
			return bad(r, -EBADMSG, "no Message record where one was");
		struct cur c = { r->rec, (size_t)len, false };

		m->pos = pos;
		return parse_message(r, &c, m) < 0 ? -EBADMSG : 0;
	}
	if (r->chunk_at != pos.chunk) {
		if ((op = record_at(r, pos.chunk, &len)) < 0)
			return op;
		if (op != OP_CHUNK)
			return bad(r, -EBADMSG, "no Chunk record where one was");
		struct cur c = { r->rec + 16, (size_t)len - 16, false };

		if ((err = unchunk(r, &c, pos.chunk)) < 0)
			return err;
	}
	/* the record must be a Message of the chunk, whatever was there before */
	struct cur c = { r->chunk, r->chunk_len, false };

	if (!get_bytes(&c, pos.off))
		return bad(r, -EBADMSG, "no Message record where one was");
	int o = (int)get_le(&c, 1);
	uint64_t n = get_le(&c, 8);
	const unsigned char *content = get_bytes(&c, n); /* before c.bad is read */
	struct cur body = { content, (size_t)n, c.bad };

	if (c.bad || o != OP_MESSAGE)
		return bad(r, -EBADMSG, "no Message record where one was");
	m->pos = pos;
	return parse_message(r, &body, m) < 0 ? -EBADMSG : 0;
}

uint64_t mcap_reader_good_bytes(const struct mcap_reader *r)
{
	return r->good;
}

const char *mcap_reader_error(const struct mcap_reader *r)
{
	return r && r->error[0] ? r->error : "malformed file";
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
	close(r->fd);
	for (int i = 0; i < r->n_channels; i++)
		free_channel(&r->channels[i]);
	for (int i = 0; i < r->n_schemas; i++) {
		free(r->schemas[i].name);
		free(r->schemas[i].encoding);
		free(r->schemas[i].data);
	}
	free(r->rec);
	free(r->chunk);
	free(r->idx);
	free(r);
}
