/* dds_side.c — the Cyclone DDS half of vdds-bridge: one participant, the QoS
 * the options say, a writer or a reader per bridged topic, listeners that do
 * nothing but wake the loop through an eventfd (Cyclone gives no fd), and the
 * discovery of vdds/ writers through the DCPSPublication built-in topic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	while (b->writers) {
		struct remote_writer *w = b->writers;

		b->writers = w->next;
		free(w);
	}
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
	char name[sizeof(BRIDGE_DDS_PREFIX) + VDDS_TOPIC_MAX];

	if (t->dds_topic > 0)
		return 0;
	snprintf(name, sizeof(name), BRIDGE_DDS_PREFIX "%s", t->name);
	t->dds_topic = dds_create_topic(b->participant, &vdds_Frame_desc, name, NULL, NULL);
	if (t->dds_topic < 0) {
		/* Cyclone 0.10 takes only letters, digits, '_' and '/' in a name */
		bridge_log_once(t, SAID_DDS_REFUSED,
				"%s: Cyclone DDS refuses the topic %s (%s): "
				"not bridged",
				t->name, name, dds_strretcode(t->dds_topic));
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

/* ------------------------------------------------------------- discovery */

/* What a writer's USER_DATA says; see BRIDGE_USERDATA_ORIGIN. */
struct announcement {
	char origin[BRIDGE_ORIGIN_MAX];
	char type_name[VDDS_TYPE_NAME_MAX + 1];
};

static void read_announcement(const dds_qos_t *qos, struct announcement *a)
{
	size_t olen = strlen(BRIDGE_USERDATA_ORIGIN), tlen = strlen(BRIDGE_USERDATA_TYPE);
	void *ud = NULL;
	size_t sz = 0;

	memset(a, 0, sizeof(*a));
	/* it comes back NUL-terminated (sz + 1 bytes); NULs inside end it early */
	if (!dds_qget_userdata(qos, &ud, &sz) || !ud)
		return;
	const char *p = ud;

	if (strncmp(p, BRIDGE_USERDATA_ORIGIN, olen) == 0) {
		size_t n = strcspn(p + olen, "\n");

		if (n < sizeof(a->origin))
			memcpy(a->origin, p + olen, n);
		p += olen + n + (p[olen + n] == '\n');
	}
	if (strncmp(p, BRIDGE_USERDATA_TYPE, tlen) == 0) {
		size_t n = strlen(p + tlen);

		if (n < sizeof(a->type_name))
			memcpy(a->type_name, p + tlen, n);
	}
	dds_free(ud);
}

static struct remote_writer **find_writer(struct bridge *b, const dds_guid_t *key)
{
	struct remote_writer **pw = &b->writers;

	while (*pw && memcmp(&(*pw)->key, key, sizeof(*key)) != 0)
		pw = &(*pw)->next;
	return pw;
}

static void writer_left(struct remote_writer **pw)
{
	struct remote_writer *w = *pw;
	struct topic *t = w->topic;

	*pw = w->next;
	t->remote_writers--;
	free(w);
	bridge_log("%s: a DDS writer left (%u remain)", t->name, t->remote_writers);
}

static void writer_seen(struct bridge *b, const dds_builtintopic_endpoint_t *ep)
{
	size_t plen = strlen(BRIDGE_DDS_PREFIX);

	if (memcmp(&ep->participant_key, &b->guid, sizeof(b->guid)) == 0)
		return; /* our own writer */
	if (!ep->topic_name || strncmp(ep->topic_name, BRIDGE_DDS_PREFIX, plen) != 0)
		return;
	struct topic *t = bridge_topic(b, ep->topic_name + plen);

	if (!t) {
		bridge_log("ignoring DDS topic %s: not a vdds topic name", ep->topic_name);
		return;
	}
	if (!ep->type_name || strcmp(ep->type_name, vdds_Frame_desc.m_typename) != 0) {
		bridge_log_once(t, SAID_NOT_FRAME, "%s: a DDS writer of type %s, not %s: ignored",
				t->name, ep->type_name ? ep->type_name : "(none)",
				vdds_Frame_desc.m_typename);
		return;
	}
	struct announcement a;

	read_announcement(ep->qos, &a);
	if (strcmp(a.origin, b->origin) == 0) {
		/* another bridge exports it from this very host: never import */
		bridge_log_once(t, SAID_SAME_HOST,
				"%s: a DDS writer of another bridge of this host: not imported",
				t->name);
		return;
	}
	struct remote_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		bridge_log("%s: out of memory", t->name);
		return;
	}
	w->key = ep->key;
	w->topic = t;
	w->next = b->writers;
	b->writers = w;
	t->remote_writers++;
	if (!t->announced) {
		t->announced = true;
		memcpy(t->announced_type, a.type_name, sizeof(t->announced_type));
	}
	bridge_reconsider(b, t);
}

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
			struct remote_writer **pw = find_writer(b, &ep->key);

			if (info[i].instance_state != DDS_IST_ALIVE) {
				if (*pw)
					writer_left(pw);
			} else if (info[i].valid_data && !*pw) {
				writer_seen(b, ep);
			}
		}
		if (n > 0)
			dds_return_loan(b->discovery, samples, n);
	} while (n == BATCH);
}
