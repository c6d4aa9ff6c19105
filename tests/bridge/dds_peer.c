/* dds_peer.c — a plain Cyclone DDS program, no vdds inside, that speaks the
 * bridge's wire contract (vdds::Frame on vdds/T): the bridge tests use it to
 * write into a bridge with --in and to read from one with --out. TOPIC is
 * the DDS name after "vdds/", as given: the test spells the mapped name of a
 * vdds topic as vdds-bridge(1) documents it (camera-front: camera_hfront).
 *   bridge_dds_peer write BOARD TOPIC [--domain D] [--count N] [--size N] [--vary]
 *       [--type NAME] [--announce NAME] [--go I[,J]] [--wait I[,J]] [--bad]
 *   bridge_dds_peer read BOARD TOPIC [--domain D] [--count N] [--type NAME] [--go I]
 *       [--done I] [--writers N] [--from-vdds] [--durable]
 *   bridge_dds_peer writers BOARD TOPIC [--domain D] [--count N] [--announce NAME]
 *       [--type NAME] [--frames] [--go I] [--wait I] [--whole]
 *     N writers (on TOPIC, or TOPIC0..TOPIC<N-1> if N > 1), board slot I set
 *     once they exist; with --frames each writes a frame of --type every
 *     10 ms; they leave when slot --wait is set, one by one, or with
 *     --whole the participant at once.
 * Exit 0 when everything checked out; otherwise a line on stderr says why. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dds/dds.h>

#include "frame.h"
#include "payload.h"

#define DEPTH 16384

struct peer {
	struct bt_board *board;
	const char *topic;
	uint64_t count;
	size_t size;
	bool vary, bad, from_vdds, durable, frames, whole;
	const char *type, *announce;
	int go[2], n_go, wait[2], n_wait, done;
	uint32_t writers, domain;
	dds_entity_t participant, endpoint;
};

static int fail(const char *what)
{
	fprintf(stderr, "bridge_dds_peer: %s\n", what);
	return 1;
}

static int parse_list(const char *s, int *list, int *n)
{
	char *end;

	*n = 0;
	do {
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v >= BT_BOARD_SLOTS || *n == 2)
			return -1;
		list[(*n)++] = (int)v;
		s = end + 1;
	} while (*end == ',');
	return *end ? -1 : 0;
}

static int parse(int argc, char **argv, struct peer *p)
{
	p->count = 1000;
	p->size = 64;
	p->type = "";
	p->done = -1;
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--vary")) {
			p->vary = true;
			continue;
		}
		if (!strcmp(a, "--bad")) {
			p->bad = true;
			continue;
		}
		if (!strcmp(a, "--from-vdds")) {
			p->from_vdds = true;
			continue;
		}
		if (!strcmp(a, "--durable")) {
			p->durable = true;
			continue;
		}
		if (!strcmp(a, "--frames")) {
			p->frames = true;
			continue;
		}
		if (!strcmp(a, "--whole")) {
			p->whole = true;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--count"))
			p->count = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--size"))
			p->size = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--domain"))
			p->domain = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--type"))
			p->type = v;
		else if (!strcmp(a, "--announce"))
			p->announce = v;
		else if (!strcmp(a, "--writers"))
			p->writers = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--done"))
			p->done = atoi(v);
		else if (strcmp(a, "--go") == 0     ? parse_list(v, p->go, &p->n_go) < 0
			 : strcmp(a, "--wait") == 0 ? parse_list(v, p->wait, &p->n_wait) < 0
						    : true)
			return -1;
	}
	return p->size >= BT_MIN_LEN ? 0 : -1;
}

static bool all_set(struct bt_board *b, const int *list, int n)
{
	for (int i = 0; i < n; i++)
		if (!bt_get(b, list[i]))
			return false;
	return true;
}

static dds_entity_t make_endpoint(struct peer *p, const char *topic_name, bool writer)
{
	char name[256];

	snprintf(name, sizeof(name), "vdds/%s", topic_name);
	dds_entity_t topic = dds_create_topic(p->participant, &vdds_Frame_desc, name, NULL, NULL);

	if (topic < 0) {
		fail("cannot create the topic");
		return topic;
	}
	dds_qos_t *q = dds_create_qos();

	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(10));
	dds_qset_history(q, DDS_HISTORY_KEEP_LAST, DEPTH);
	if (p->durable)
		dds_qset_durability(q, DDS_DURABILITY_TRANSIENT_LOCAL);
	if (p->announce) {
		char ud[256];
		int n = snprintf(ud, sizeof(ud), "vdds.type_name=%s", p->announce);

		dds_qset_userdata(q, ud, (size_t)n);
	}
	dds_entity_t e = writer ? dds_create_writer(p->participant, topic, q, NULL)
				: dds_create_reader(p->participant, topic, q, NULL);

	dds_delete_qos(q);
	if (e < 0)
		fail("cannot create the endpoint");
	return e;
}

static int open_endpoint(struct peer *p, bool writer)
{
	p->participant = dds_create_participant(p->domain, NULL, NULL);
	if (p->participant < 0)
		return fail("cannot create a DDS participant");
	p->endpoint = make_endpoint(p, p->topic, writer);
	return p->endpoint < 0 ? 1 : 0;
}

/* ----------------------------------------------------------------- write */

static int write_frame_on(dds_entity_t writer, uint8_t *buf, size_t len, const char *type)
{
	vdds_Frame f = {
		.seq = 0,
		.timestamp_ns = bt_now_ns(),
		.type_name = (char *)type,
		.payload = { ._maximum = (uint32_t)len, ._length = (uint32_t)len, ._buffer = buf },
	};

	return dds_write(writer, &f) < 0 ? fail("dds_write failed") : 0;
}

static int write_frame(struct peer *p, uint8_t *buf, size_t len, const char *type)
{
	return write_frame_on(p->endpoint, buf, len, type);
}

/* Frames a bridge must refuse: one larger than its slot (--size is the slot
 * size here), an empty one, and one of another type. */
static int write_bad(struct peer *p, uint8_t *buf)
{
	bt_fill(buf, 2 * p->size, BT_DATA, 1, 0);
	if (write_frame(p, buf, 2 * p->size, p->type))
		return 1;
	if (write_frame(p, buf, 0, p->type))
		return 1;
	bt_fill(buf, BT_MIN_LEN, BT_DATA, 1, 0);
	return write_frame(p, buf, BT_MIN_LEN, "not-the-type");
}

static int do_write(struct peer *p)
{
	uint8_t *buf = malloc(2 * p->size);
	uint64_t t0 = bt_now_ns();

	if (!buf || open_endpoint(p, true))
		return 1;
	/* probes until every receiver has seen one: the whole path is up */
	while (!all_set(p->board, p->go, p->n_go)) {
		if (bt_now_ns() - t0 > BT_PATIENCE_NS)
			return fail("the receivers never saw a probe");
		bt_fill(buf, BT_MIN_LEN, BT_PROBE, 0, 0);
		if (write_frame(p, buf, BT_MIN_LEN, p->type))
			return 1;
		bt_sleep_us(2000);
	}
	if (p->bad && write_bad(p, buf))
		return 1;
	for (uint64_t c = 1; c <= p->count; c++) {
		size_t len = p->vary ? bt_vary(c, p->size) : p->size;

		bt_fill(buf, len, BT_DATA, c, 0);
		if (write_frame(p, buf, len, p->type))
			return 1;
	}
	bt_fill(buf, BT_MIN_LEN, BT_END, 0, 0);
	if (write_frame(p, buf, BT_MIN_LEN, p->type))
		return 1;
	/* stay until the receivers are done: a writer that leaves may take
	 * unacknowledged frames with it */
	while (!all_set(p->board, p->wait, p->n_wait))
		if (bt_now_ns() - t0 > BT_PATIENCE_NS)
			return fail("the receivers never finished");
		else
			bt_sleep_us(1000);
	free(buf);
	dds_delete(p->participant);
	return 0;
}

/* --------------------------------------------------------------- writers */

/* Writers that come and go, for the bridge's bookkeeping of them. */
static int writers_live(struct peer *p, dds_entity_t *w)
{
	uint64_t t0 = bt_now_ns();
	uint8_t buf[BT_MIN_LEN];

	for (uint64_t i = 0; i < p->count; i++) {
		char name[200];

		if (p->count > 1)
			snprintf(name, sizeof(name), "%s%llu", p->topic, (unsigned long long)i);
		else
			snprintf(name, sizeof(name), "%s", p->topic);
		if ((w[i] = make_endpoint(p, name, true)) < 0)
			return 1;
	}
	if (p->n_go)
		bt_set(p->board, p->go[0], 1);
	while (!all_set(p->board, p->wait, 1)) {
		if (bt_now_ns() - t0 > BT_PATIENCE_NS)
			return fail("writers: never told to go");
		for (uint64_t i = 0; p->frames && i < p->count; i++) {
			bt_fill(buf, BT_MIN_LEN, BT_PROBE, 0, 0);
			if (write_frame_on(w[i], buf, BT_MIN_LEN, p->type))
				return 1;
		}
		bt_sleep_us(10000);
	}
	for (uint64_t i = 0; !p->whole && i < p->count; i++)
		if (dds_delete(w[i]) < 0)
			return fail("writers: cannot delete a writer");
	return 0;
}

static int do_writers(struct peer *p)
{
	if (p->n_go > 1 || p->n_wait != 1)
		return fail("writers: --wait I (and at most one --go) needed");
	dds_entity_t *w = calloc(p->count ? p->count : 1, sizeof(*w));

	if (!w)
		return fail("out of memory");
	p->participant = dds_create_participant(p->domain, NULL, NULL);
	int rc = p->participant < 0 ? fail("cannot create a DDS participant") : writers_live(p, w);

	if (p->participant > 0)
		dds_delete(p->participant);
	free(w);
	return rc;
}

/* ------------------------------------------------------------------ read */

struct reading {
	uint64_t next; /* the counter expected next */
	uint64_t last_ts;
	bool ended;
};

static int check_frame(struct peer *p, struct reading *r, const vdds_Frame *f)
{
	struct bt_head h;
	char why[160];

	if (bt_check(f->payload._buffer, f->payload._length, &h) < 0)
		return fail("a frame with a damaged payload");
	if (strcmp(f->type_name, p->type) != 0) {
		snprintf(why, sizeof(why), "type_name \"%s\", expected \"%s\"", f->type_name,
			 p->type);
		return fail(why);
	}
	/* from a vdds publisher: the frame carries its seq and stamp */
	if (p->from_vdds &&
	    (f->seq != h.src_seq || f->timestamp_ns == 0 || f->timestamp_ns < r->last_ts))
		return fail("seq or timestamp_ns not the vdds publisher's");
	r->last_ts = f->timestamp_ns;
	if (h.kind == BT_PROBE) {
		if (p->n_go)
			bt_set(p->board, p->go[0], 1);
	} else if (h.kind == BT_DATA) {
		if (h.counter != r->next) {
			snprintf(why, sizeof(why),
				 "data %llu where %llu was due (lost, twice or "
				 "out of order)",
				 (unsigned long long)h.counter, (unsigned long long)r->next);
			return fail(why);
		}
		r->next++;
	} else if (h.kind == BT_END) {
		if (r->next != p->count + 1)
			return fail("the end came before all the data");
		r->ended = true;
	}
	return 0;
}

static int do_read(struct peer *p)
{
	struct reading r = { .next = 1 };
	uint64_t t0 = bt_now_ns();

	if (open_endpoint(p, false))
		return 1;
	dds_entity_t ws = dds_create_waitset(p->participant);
	dds_entity_t rc = dds_create_readcondition(p->endpoint, DDS_ANY_STATE);

	dds_waitset_attach(ws, rc, 0);
	while (!r.ended) {
		void *samples[64] = { NULL };
		dds_sample_info_t info[64];

		if (bt_now_ns() - t0 > BT_PATIENCE_NS)
			return fail("not everything came");
		dds_waitset_wait(ws, NULL, 0, DDS_MSECS(100));
		int n = dds_take(p->endpoint, samples, info, 64, 64);

		for (int i = 0; i < n; i++)
			if (info[i].valid_data && check_frame(p, &r, samples[i]))
				return 1;
		if (n > 0)
			dds_return_loan(p->endpoint, samples, n);
	}
	dds_subscription_matched_status_t st;

	dds_get_subscription_matched_status(p->endpoint, &st);
	if (p->writers && st.total_count != p->writers) {
		fprintf(stderr, "bridge_dds_peer: %u DDS writers matched, expected %u\n",
			st.total_count, p->writers);
		return 1;
	}
	if (p->done >= 0)
		bt_set(p->board, p->done, 1);
	dds_delete(p->participant);
	return 0;
}

int main(int argc, char **argv)
{
	struct peer p = { 0 };

	if (argc < 4 || parse(argc, argv, &p) < 0 ||
	    (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0 &&
	     strcmp(argv[1], "writers") != 0))
		return fail("usage: bridge_dds_peer write|read|writers BOARD TOPIC [options]");
	if (!(p.board = bt_board_map(argv[2])))
		return fail("cannot map the board");
	p.topic = argv[3];
	if (strcmp(argv[1], "writers") == 0)
		return do_writers(&p);
	return strcmp(argv[1], "write") == 0 ? do_write(&p) : do_read(&p);
}
