/* forward.c — frames both ways, copying as little as the APIs allow. Out: a
 * taken vdds sample goes into dds_write as a borrowed octet sequence pointing
 * at its slot, released once dds_write returned (Cyclone serializes during
 * the call). In: a frame is taken still serialized (dds_takecdr), read in
 * place, and its payload copied once, straight into a loaned vdds slot. */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <dds/ddsi/ddsi_serdata.h>

#include "bridge.h"
#include "escape.h"
#include "frame.h"

/* Frames handled per call before the loop serves its other members. */
#define BATCH 256
/* A topic whose local subscribers hold every slot tries again this late. */
#define STALL_RETRY_NS 1000000

/* ------------------------------------------------------------------- out */

static void export_sample(struct topic *t, const struct vdds_sample *s)
{
	if (s->len == 0) {
		bridge_drop(t, DROP_EMPTY, "an empty sample (seq %llu)",
			    (unsigned long long)s->seq);
		return;
	}
	if (s->len > UINT32_MAX) {
		bridge_drop(t, DROP_TOO_LARGE,
			    "a sample of %zu bytes, more than a DDS sequence holds", s->len);
		return;
	}
	vdds_Frame f = {
		.seq = s->seq,
		.timestamp_ns = s->timestamp_ns,
		.type_name = t->type_name,
		/* borrowed: Cyclone neither frees nor keeps it (_release false) */
		.payload = { ._maximum = (uint32_t)s->len,
			     ._length = (uint32_t)s->len,
			     ._buffer = (uint8_t *)s->data,
			     ._release = false },
	};
	dds_return_t rc = dds_write(t->writer, &f);

	if (rc < 0)
		bridge_drop(t, DROP_WRITE_FAILED, "seq %llu: dds_write: %s",
			    (unsigned long long)s->seq, dds_strretcode(rc));
	else
		t->frames_out++;
}

void bridge_pump_out(struct bridge *b, struct topic *t)
{
	struct vdds_sample s;
	int err = 0;

	for (int i = 0; i < BATCH && (err = vdds_sub_take(t->sub, &s)) == 0; i++) {
		export_sample(t, &s);
		vdds_sub_release(t->sub, &s);
	}
	if (err == 0 || err == -EAGAIN)
		return; /* more or not: the waitset reports the subscriber while it has some */
	bridge_log("%s: local publisher gone (%s): export stopped", t->name, vdds_strerror(err));
	bridge_stop_topic(b, t);
	bridge_reconsider(b, t);
}

/* -------------------------------------------------------------------- in */

struct frame_view {
	uint64_t seq, timestamp_ns;
	const char *type_name;
	const uint8_t *payload;
	uint32_t len;
};

static uint32_t load32(const uint8_t *p, bool le)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[le ? i : 3 - i] << (8 * i);
	return v;
}

static uint64_t load64(const uint8_t *p, bool le)
{
	uint64_t lo = load32(p + (le ? 0 : 4), le), hi = load32(p + (le ? 4 : 0), le);

	return hi << 32 | lo;
}

/* A serialized vdds::Frame: the 4-byte encapsulation header, then the
 * fields. Plain XCDR1 and XCDR2 lay this type out alike: the two 64-bit
 * fields lead, so no alignment differs. Cyclone checked the bytes against
 * the type on receipt; every length is bounded here all the same. */
static int frame_parse(const uint8_t *ser, size_t size, struct frame_view *f)
{
	if (size < 4 || ser[0] != 0)
		return -EBADMSG;
	uint8_t id = ser[1]; /* 0/1: CDR big/little endian; 6/7: CDR2 */
	bool le = id & 1;
	size_t pad = ser[3] & 3, n = size - 4, off = 20;
	const uint8_t *d = ser + 4;

	if ((id > 1 && id != 6 && id != 7) || pad > n || (n -= pad) < off)
		return -EBADMSG;
	f->seq = load64(d, le);
	f->timestamp_ns = load64(d + 8, le);
	uint32_t slen = load32(d + 16, le); /* NUL included */

	if (slen == 0 || slen > n - off || d[off + slen - 1] != '\0')
		return -EBADMSG;
	f->type_name = (const char *)d + off;
	off = (off + slen + 3) & ~(size_t)3;
	if (off > n || n - off < 4)
		return -EBADMSG;
	f->len = load32(d + off, le);
	off += 4;
	if (f->len > n - off)
		return -EBADMSG;
	f->payload = d + off;
	return 0;
}

/* Check one frame and copy it into the loaned slot; publish or give the
 * slot back. */
static void import_frame(struct bridge *b, struct topic *t, struct ddsi_serdata *sd, void *slot)
{
	ddsrt_iovec_t ref;
	struct frame_view f;
	char theirs[ESC_NAME_MAX], ours[ESC_NAME_MAX];
	uint32_t size = ddsi_serdata_size(sd);
	struct ddsi_serdata *held = ddsi_serdata_to_ser_ref(sd, 0, size, &ref);

	if (frame_parse(ref.iov_base, ref.iov_len, &f) < 0)
		bridge_drop(t, DROP_MALFORMED, "a frame that does not parse (%u bytes)", size);
	else if (f.len == 0)
		bridge_drop(t, DROP_EMPTY, "an empty frame (seq %llu)", (unsigned long long)f.seq);
	else if (f.len > b->opts.slot_size)
		bridge_drop(t, DROP_TOO_LARGE, "a frame of %u bytes, larger than the %zu-byte slot",
			    f.len, b->opts.slot_size);
	else if (strcmp(f.type_name, t->local_type) != 0)
		bridge_drop(t, DROP_TYPE_MISMATCH, "a frame of type \"%s\"; the topic's is \"%s\"",
			    esc_str(f.type_name, theirs, sizeof(theirs)),
			    esc_str(t->local_type, ours, sizeof(ours)));
	else {
		memcpy(slot, f.payload, f.len); /* the one copy */
		int err = vdds_pub_publish(t->pub, slot, f.len);

		if (err == 0) {
			t->frames_in++;
			slot = NULL;
		} else {
			bridge_log("%s: publish: %s", t->name, vdds_strerror(err));
		}
	}
	if (slot)
		vdds_pub_discard(t->pub, slot);
	ddsi_serdata_to_ser_unref(held, &ref);
}

/* Local subscribers hold every slot. Frames waiting in the DDS reader are
 * tried again on a timer; with none waiting, the next one to come wakes us. */
static void stall(struct bridge *b, struct topic *t)
{
	struct itimerspec its = { .it_value = { 0, STALL_RETRY_NS } };
	struct ddsi_serdata *sd = NULL;
	dds_sample_info_t si;

	if (t->stalled)
		return;
	/* a look, not a take: the frame stays for dds_takecdr */
	dds_return_t n = dds_readcdr(t->reader, &sd, 1, &si, DDS_ANY_STATE);

	if (n <= 0)
		return;
	ddsi_serdata_unref(sd);
	t->stalled = true;
	t->slot_waits++;
	timerfd_settime(b->retry_fd, 0, &its, NULL);
}

void bridge_pump_in(struct bridge *b, struct topic *t)
{
	for (int i = 0; i < BATCH; i++) {
		void *slot;
		int err = vdds_pub_loan(t->pub, &slot, 0);

		if (err == -EAGAIN) {
			/* frames wait in the DDS reader meanwhile (up to --depth) */
			stall(b, t);
			return;
		}
		if (err < 0) {
			bridge_log("%s: loan: %s", t->name, vdds_strerror(err));
			return;
		}
		struct ddsi_serdata *sd = NULL;
		dds_sample_info_t si;
		dds_return_t n = dds_takecdr(t->reader, &sd, 1, &si, DDS_ANY_STATE);

		if (n <= 0) {
			vdds_pub_discard(t->pub, slot);
			if (n < 0)
				bridge_log("%s: take: %s", t->name, dds_strretcode(n));
			return;
		}
		if (si.valid_data)
			import_frame(b, t, sd, slot);
		else
			vdds_pub_discard(t->pub, slot);
		ddsi_serdata_unref(sd);
	}
	/* more may wait: come back after the loop served the others */
	atomic_store_explicit(&t->pending, true, memory_order_relaxed);
	uint64_t one = 1;

	if (write(b->wake_fd, &one, sizeof(one)) < 0)
		return; /* saturated: awake anyway */
}

void bridge_retry_stalled(struct bridge *b)
{
	uint64_t expirations;

	if (read(b->retry_fd, &expirations, sizeof(expirations)) < 0)
		return;
	for (struct topic *t = b->topics; t; t = t->next) {
		if (t->mode != TOPIC_IN || !t->stalled)
			continue;
		t->stalled = false;
		bridge_pump_in(b, t);
	}
}
