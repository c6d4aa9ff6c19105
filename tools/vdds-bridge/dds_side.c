/* dds_side.c — the Cyclone DDS half of vdds-bridge: one participant, the QoS
 * the options say, a writer or a reader per bridged topic, listeners that do
 * nothing but wake the loop through an eventfd (Cyclone gives no fd), and the
 * discovery of vdds/ writers through the DCPSPublication built-in topic,
 * handed to writers.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "frame.h"

/* How long dds_write may wait for acknowledgements before the frame is
 * counted as dropped; the loop is blocked meanwhile. */
#define WRITE_MAX_BLOCKING DDS_SECS(1)

static void wake(int fd)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: the loop is awake anyway */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

/* Cyclone's thread: mark the topic and wake the loop, nothing else. */
static void on_frames(dds_entity_t reader, void *arg)
{
	struct topic *t = arg;

	(void)reader;
	/* release: the mark is seen by the loop once it reads the eventfd */
	atomic_store_explicit(&t->pending, true, memory_order_release);
	wake(t->bridge->wake_fd);
}

static void on_discovery(dds_entity_t reader, void *arg)
{
	struct bridge *b = arg;

	(void)reader;
	/* release: as in on_frames */
	atomic_store_explicit(&b->discovery_pending, true, memory_order_release);
	wake(b->wake_fd);
}

int bridge_dds_open(struct bridge *b)
{
	b->participant = dds_create_participant(b->opts.domain, NULL, NULL);
	if (b->participant < 0) {
		bridge_log("cannot join DDS domain %u: %s", b->opts.domain,
			   dds_strretcode(b->participant));
		return -EIO;
	}
	dds_return_t rc = dds_get_guid(b->participant, &b->guid);

	if (rc < 0) {
		bridge_log("DDS participant: %s", dds_strretcode(rc));
		return -EIO;
	}
	dds_listener_t *l = dds_create_listener(b);

	dds_lset_data_available(l, on_discovery);
	b->discovery = dds_create_reader(b->participant, DDS_BUILTIN_TOPIC_DCPSPUBLICATION, NULL,
					 l);
	dds_delete_listener(l);
	if (b->discovery < 0) {
		bridge_log("DDS discovery reader: %s", dds_strretcode(b->discovery));
		return -EIO;
	}
	/* publications known before the listener was set are there already */
	atomic_store_explicit(&b->discovery_pending, true, memory_order_relaxed);
	return 0;
}

void bridge_dds_close(struct bridge *b)
{
	/* deletes every reader, writer and topic; waits for running listeners */
	if (b->participant > 0)
		dds_delete(b->participant);
	b->participant = 0;
	bridge_free_writers(b);
}

static dds_qos_t *frame_qos(const struct bridge *b)
{
	dds_qos_t *q = dds_create_qos();

	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, WRITE_MAX_BLOCKING);
	dds_qset_history(q, DDS_HISTORY_KEEP_LAST, b->opts.depth);
	dds_qset_durability(q, b->opts.durable ? DDS_DURABILITY_TRANSIENT_LOCAL
					       : DDS_DURABILITY_VOLATILE);
	return q;
}

static int ensure_topic(struct bridge *b, struct topic *t)
{
	if (t->dds_topic > 0)
		return 0;
	t->dds_topic = dds_create_topic(b->participant, &vdds_Frame_desc, t->dds_name, NULL, NULL);
	if (t->dds_topic < 0) {
		/* the mapping (names.c) makes only names Cyclone takes: this is
		 * a Cyclone that takes fewer */
		bridge_log_once(t, SAID_DDS_REFUSED,
				"%s: Cyclone DDS refuses the topic %s (%s): "
				"not bridged",
				t->name, t->dds_name, dds_strretcode(t->dds_topic));
		t->dds_topic = 0;
		t->dds_refused = true;
		return -EINVAL;
	}
	return 0;
}

int bridge_dds_writer(struct bridge *b, struct topic *t)
{
	char ud[sizeof(BRIDGE_USERDATA_ORIGIN BRIDGE_USERDATA_TYPE) + BRIDGE_ORIGIN_MAX +
		VDDS_TYPE_NAME_MAX];
	int err = ensure_topic(b, t);

	if (err < 0)
		return err;
	dds_qos_t *q = frame_qos(b);
	int n = snprintf(ud, sizeof(ud), BRIDGE_USERDATA_ORIGIN "%s\n" BRIDGE_USERDATA_TYPE "%s",
			 b->origin, t->type_name);

	/* where it comes from, so that no bridge of this host imports it; its
	 * vdds type, so that an importing bridge creates the topic with it */
	dds_qset_userdata(q, ud, (size_t)n);
	t->writer = dds_create_writer(b->participant, t->dds_topic, q, NULL);
	dds_delete_qos(q);
	if (t->writer < 0) {
		bridge_log("%s: DDS writer: %s", t->name, dds_strretcode(t->writer));
		t->writer = 0;
		return -EIO;
	}
	return 0;
}

int bridge_dds_reader(struct bridge *b, struct topic *t)
{
	int err = ensure_topic(b, t);

	if (err < 0)
		return err;
	dds_qos_t *q = frame_qos(b);
	dds_listener_t *l = dds_create_listener(t);

	dds_lset_data_available(l, on_frames);
	t->reader = dds_create_reader(b->participant, t->dds_topic, q, l);
	dds_delete_listener(l);
	dds_delete_qos(q);
	if (t->reader < 0) {
		bridge_log("%s: DDS reader: %s", t->name, dds_strretcode(t->reader));
		t->reader = 0;
		return -EIO;
	}
	/* samples that came before the listener was in place */
	atomic_store_explicit(&t->pending, true, memory_order_relaxed);
	return 0;
}

void bridge_dds_drop_endpoints(struct topic *t)
{
	/* a writer lingers in dds_delete until its readers acknowledged what
	 * it wrote (Cyclone's WriterLingerDuration, 1 s by default) */
	if (t->writer > 0)
		dds_delete(t->writer);
	if (t->reader > 0)
		dds_delete(t->reader);
	t->writer = t->reader = 0;
}

void bridge_dds_drop_topic(struct topic *t)
{
	bridge_dds_drop_endpoints(t);
	/* the participant may be gone already (at exit): it took the topic */
	if (t->dds_topic > 0 && t->bridge->participant > 0)
		dds_delete(t->dds_topic);
	t->dds_topic = 0;
}

/* ------------------------------------------------------------- discovery */

void bridge_discovery(struct bridge *b)
{
	enum { BATCH = 16 };
	void *samples[BATCH];
	dds_sample_info_t info[BATCH];
	int n;

	do {
		memset(samples, 0, sizeof(samples)); /* NULL: Cyclone lends them */
		n = dds_take(b->discovery, samples, info, BATCH, BATCH);
		for (int i = 0; i < n; i++) {
			const dds_builtintopic_endpoint_t *ep = samples[i];

			/* a writer deleted, or its participant gone (left or its
			 * lease ran out), disposes its instance */
			if (info[i].instance_state != DDS_IST_ALIVE)
				bridge_writer_gone(b, &ep->key);
			else if (info[i].valid_data)
				bridge_writer_seen(b, ep);
		}
		if (n > 0)
			dds_return_loan(b->discovery, samples, n);
	} while (n == BATCH);
}
