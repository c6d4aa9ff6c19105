/* writers.c — which remote DDS writers count, and for how long. Any host on
 * the domain can make writers, so what they make the bridge hold is bounded:
 * no state for a topic that matches no --in pattern, at most --peer-writers
 * writers per remote participant, an import ended --grace seconds after its
 * last writer left. The type of an imported topic is decided by the writers
 * present: the first accepted writer's announced type holds while any
 * accepted writer is present or the topic is imported; a writer announcing
 * another type is refused (counted, said once) and waits, and is accepted
 * once the topic is free again, i.e. torn down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "escape.h"
#include "frame.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------- announcement */

/* What a writer's USER_DATA says; see BRIDGE_USERDATA_ORIGIN. */
struct announcement {
	char origin[BRIDGE_ORIGIN_MAX];
	char type_name[VDDS_TYPE_NAME_MAX + 1];
	bool too_long; /* a type name no vdds topic can have */
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
		else
			a->too_long = true;
	}
	dds_free(ud);
}

/* ------------------------------------------------------------------ peers */

static struct remote_peer *peer_of(struct bridge *b, const dds_guid_t *key)
{
	struct remote_peer *p;

	for (p = b->peers; p; p = p->next)
		if (memcmp(&p->key, key, sizeof(*key)) == 0)
			return p;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->key = *key;
	p->next = b->peers;
	b->peers = p;
	return p;
}

/* n of its writers gone; a peer with none left is forgotten */
static void peer_put(struct bridge *b, struct remote_peer *peer, uint32_t n)
{
	peer->writers -= n;
	if (peer->writers)
		return;
	for (struct remote_peer **pp = &b->peers; *pp; pp = &(*pp)->next)
		if (*pp == peer) {
			*pp = peer->next;
			free(peer);
			return;
		}
}

static void say_peer_full(struct bridge *b, struct remote_peer *peer)
{
	char guid[2 * sizeof(peer->key.v) + 1];

	b->writers_over_peer++;
	if (peer->said_full)
		return;
	peer->said_full = true;
	for (size_t i = 0; i < sizeof(peer->key.v); i++)
		snprintf(guid + 2 * i, 3, "%02x", peer->key.v[i]);
	bridge_log("DDS participant %s has %u writers of vdds topics (--peer-writers): "
		   "more are ignored",
		   guid, peer->writers);
}

/* ---------------------------------------------------------- a topic's type */

static bool type_held(const struct topic *t)
{
	return t->mode == TOPIC_IN || t->remote_writers > 0;
}

static void accept_writer(struct topic *t, struct remote_writer *w)
{
	if (!type_held(t))
		memcpy(t->announced_type, w->type_name, sizeof(t->announced_type));
	w->accepted = true;
	t->remote_writers++;
	t->orphaned_ns = 0;
}

static void refuse_writer(struct topic *t, struct remote_writer *w)
{
	char theirs[ESC_NAME_MAX], ours[ESC_NAME_MAX];

	t->refused_writers++;
	t->writers_refused++;
	if (w->too_long) {
		bridge_log_once(t, SAID_TYPE_TOO_LONG,
				"%s: a DDS writer announcing a type name over %d bytes: refused",
				t->name, VDDS_TYPE_NAME_MAX);
		return;
	}
	bridge_log_once(t, SAID_TYPE_CONFLICT,
			"%s: a DDS writer of type \"%s\" refused: the topic's is \"%s\" while its "
			"writers last (counted in writers_refused)",
			t->name, esc_str(w->type_name, theirs, sizeof(theirs)),
			esc_str(t->announced_type, ours, sizeof(ours)));
}

/* The topic's type is free (not imported, no accepted writer): the writer
 * present longest among the refused decides it, and those of its type are
 * accepted. */
static void retype(struct bridge *b, struct topic *t)
{
	struct remote_writer *first = NULL;

	if (t->refused_writers == 0)
		return;
	/* the list is newest first: the last match is the oldest */
	for (struct remote_writer *w = b->writers; w; w = w->next)
		if (w->topic == t && !w->too_long)
			first = w;
	if (!first)
		return;
	memcpy(t->announced_type, first->type_name, sizeof(t->announced_type));
	for (struct remote_writer *w = b->writers; w; w = w->next)
		if (w->topic == t && !w->accepted && !w->too_long &&
		    strcmp(w->type_name, t->announced_type) == 0) {
			t->refused_writers--;
			accept_writer(t, w);
		}
}

/* ------------------------------------------------------- writers come, go */

static struct remote_writer **find_writer(struct bridge *b, const dds_guid_t *key)
{
	struct remote_writer **pw = &b->writers;

	while (*pw && memcmp(&(*pw)->key, key, sizeof(*key)) != 0)
		pw = &(*pw)->next;
	return pw;
}

void bridge_writer_seen(struct bridge *b, const dds_builtintopic_endpoint_t *ep)
{
	char name[VDDS_TOPIC_MAX + 1], type[ESC_NAME_MAX];
	size_t plen = strlen(BRIDGE_DDS_PREFIX);

	if (memcmp(&ep->participant_key, &b->guid, sizeof(b->guid)) == 0)
		return; /* our own writer */
	if (*find_writer(b, &ep->key))
		return; /* known; a change of its QoS changes nothing here */
	if (!ep->topic_name || strncmp(ep->topic_name, BRIDGE_DDS_PREFIX, plen) != 0)
		return; /* not the bridge's business */
	if (bridge_vdds_name(ep->topic_name, name, sizeof(name)) < 0) {
		bridge_ignored(b, ep->topic_name, "not a vdds topic name's DDS name");
		return;
	}
	if (!bridge_wants_in(b, name)) {
		bridge_ignored(b, ep->topic_name, "matches no --in pattern");
		return;
	}
	if (!ep->type_name || strcmp(ep->type_name, vdds_Frame_desc.m_typename) != 0) {
		char why[ESC_NAME_MAX + 64];

		snprintf(why, sizeof(why), "a writer of type %s, not %s",
			 ep->type_name ? esc_str(ep->type_name, type, sizeof(type)) : "(none)",
			 vdds_Frame_desc.m_typename);
		bridge_ignored(b, ep->topic_name, why);
		return;
	}
	struct announcement a;

	read_announcement(ep->qos, &a);
	if (strcmp(a.origin, b->origin) == 0) {
		/* another bridge exports it from this very host: never import */
		bridge_ignored(b, ep->topic_name, "a writer of another bridge of this host");
		return;
	}
	struct remote_peer *peer = peer_of(b, &ep->participant_key);

	if (peer && peer->writers >= b->opts.peer_writers) {
		say_peer_full(b, peer);
		return;
	}
	struct topic *t = peer ? bridge_topic(b, name) : NULL;
	struct remote_writer *w = t ? calloc(1, sizeof(*w)) : NULL;

	if (!w) {
		bridge_log("%s: out of memory", name);
		if (peer)
			peer_put(b, peer, 0);
		if (t)
			bridge_release_topic(b, t);
		return;
	}
	w->key = ep->key;
	w->peer = peer;
	w->topic = t;
	w->too_long = a.too_long;
	memcpy(w->type_name, a.type_name, sizeof(w->type_name));
	w->next = b->writers;
	b->writers = w;
	peer->writers++;
	if (w->too_long || (type_held(t) && strcmp(t->announced_type, w->type_name) != 0)) {
		refuse_writer(t, w);
		return;
	}
	accept_writer(t, w);
	bridge_reconsider(b, t);
}

/* The earliest end of a grace period, or none: the timer is set to it. */
static void arm_grace(struct bridge *b)
{
	uint64_t grace = (uint64_t)b->opts.grace_s * 1000000000ull, next = 0;
	struct itimerspec its = { 0 };

	for (struct topic *t = b->topics; t; t = t->next)
		if (t->mode == TOPIC_IN && t->orphaned_ns &&
		    (!next || t->orphaned_ns + grace < next))
			next = t->orphaned_ns + grace;
	if (next) {
		/* absolute, and never 0 (which would disarm it) */
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull) + 1;
		if (its.it_value.tv_nsec >= 1000000000l) {
			its.it_value.tv_sec++;
			its.it_value.tv_nsec -= 1000000000l;
		}
	}
	timerfd_settime(b->grace_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void bridge_writer_gone(struct bridge *b, const dds_guid_t *key)
{
	struct remote_writer **pw = find_writer(b, key);
	struct remote_writer *w = *pw;

	if (!w)
		return; /* one we never counted */
	struct topic *t = w->topic;

	*pw = w->next;
	peer_put(b, w->peer, 1);
	if (!w->accepted) {
		t->refused_writers--;
		free(w);
		bridge_release_topic(b, t);
		return;
	}
	free(w);
	t->remote_writers--;
	bridge_log("%s: a DDS writer left (%u remain)", t->name, t->remote_writers);
	if (t->remote_writers > 0)
		return;
	if (t->mode == TOPIC_IN) {
		t->orphaned_ns = now_ns();
		arm_grace(b);
		return;
	}
	/* never imported (another bridge has it, or it is published here):
	 * nothing to keep, the type is free */
	retype(b, t);
	if (t->remote_writers)
		bridge_reconsider(b, t);
	bridge_release_topic(b, t);
}

void bridge_expire_imports(struct bridge *b)
{
	uint64_t grace = (uint64_t)b->opts.grace_s * 1000000000ull, now = now_ns(), expirations;

	if (read(b->grace_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	for (struct topic *t = b->topics; t; t = t->next) {
		if (t->mode != TOPIC_IN || !t->orphaned_ns || t->orphaned_ns + grace > now)
			continue;
		bridge_log("%s: no DDS writer for %u s: import ended", t->name, b->opts.grace_s);
		t->orphaned_ns = 0;
		bridge_stop_topic(b, t);
		retype(b, t);
		if (t->remote_writers)
			bridge_reconsider(b, t);
		bridge_release_topic(b, t);
	}
	arm_grace(b);
}

void bridge_free_writers(struct bridge *b)
{
	while (b->writers) {
		struct remote_writer *w = b->writers;

		b->writers = w->next;
		free(w);
	}
	while (b->peers) {
		struct remote_peer *p = b->peers;

		b->peers = p->next;
		free(p);
	}
}
