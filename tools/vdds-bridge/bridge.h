/* bridge.h — vdds-bridge's state (options, the topic table, counters) and the
 * calls its sources make into each other: main.c (loop), topics.c (which topic
 * goes which way), dds_side.c (Cyclone), writers.c (which DDS writers count),
 * forward.c (frames), names.c (vdds names to DDS names), report.c (log). */
#ifndef VDDS_BRIDGE_H
#define VDDS_BRIDGE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <dds/dds.h>
#include <vdds.h>

#define BRIDGE_MAX_PATTERNS 32
#define BRIDGE_DDS_PREFIX "vdds/"
/* The longest DDS name of a vdds topic: every byte may take two (names.c). */
#define BRIDGE_DDS_NAME_MAX (sizeof(BRIDGE_DDS_PREFIX) - 1 + 2 * (size_t)VDDS_TOPIC_MAX)
/* The USER_DATA of a writer: "vdds.origin=ID\n" (a bridge's: which vdds host
 * it exports from), then "vdds.type_name=NAME" (the vdds type it writes);
 * either may be missing. */
#define BRIDGE_USERDATA_ORIGIN "vdds.origin="
#define BRIDGE_USERDATA_TYPE "vdds.type_name="
#define BRIDGE_ORIGIN_MAX 96
/* DDS topics the bridge ignores (no vdds name, no --in match, not a Frame, a
 * writer of this host): each is logged once, up to this many names; after
 * that they are only counted, so a flood of writers cannot fill the log. */
#define BRIDGE_IGNORED_SAID_MAX 32

struct bridge_opts {
	const char *out[BRIDGE_MAX_PATTERNS];
	const char *in[BRIDGE_MAX_PATTERNS];
	int n_out, n_in;
	uint32_t domain;
	int32_t depth;
	bool durable;
	size_t slot_size;
	uint32_t slots;
	uint32_t grace_s;      /* an import outlives its last DDS writer this long */
	uint32_t peer_writers; /* DDS writers tracked per remote participant */
};

enum topic_mode {
	TOPIC_IDLE, /* not bridged (yet) */
	TOPIC_OUT,  /* local vdds publisher -> our subscriber -> DDS writer */
	TOPIC_IN,   /* DDS reader -> our vdds publisher -> local subscribers */
};

enum drop_reason {
	DROP_TOO_LARGE,     /* in: payload larger than the local slot */
	DROP_EMPTY,         /* in or out: no payload */
	DROP_TYPE_MISMATCH, /* in: type_name differs from the local topic's */
	DROP_MALFORMED,     /* in: serialized frame does not parse */
	DROP_WRITE_FAILED,  /* out: dds_write refused or timed out */
	DROP_REASONS
};

/* Log lines said at most once per topic. */
enum topic_said {
	SAID_LOCKED = 1u << 0,        /* another bridge on this host has it */
	SAID_LOCAL = 1u << 1,         /* published locally: not imported */
	SAID_DDS_REFUSED = 1u << 2,   /* Cyclone refused the topic */
	SAID_TYPE_CONFLICT = 1u << 3, /* a DDS writer announcing another vdds type */
	SAID_NO_IMPORT = 1u << 4,     /* exported once: never imported */
	SAID_OPEN_FAILED = 1u << 5,   /* vdds open failed otherwise */
	SAID_TYPE_TOO_LONG = 1u << 6, /* a DDS writer announcing an over-long type */
};

struct topic {
	struct bridge *bridge;
	char name[VDDS_TOPIC_MAX + 1];
	char dds_name[BRIDGE_DDS_NAME_MAX + 1]; /* vdds/<name, mapped> */
	enum topic_mode mode;
	int lock_fd, lock_wfd; /* the bridge lock while mode != TOPIC_IDLE */
	bool lock_blocked;     /* another bridge holds the lock: retry when it goes */
	bool exported_once;    /* never import what we exported */
	bool dds_refused;      /* Cyclone refused the topic name: give up */
	unsigned said;         /* enum topic_said bits */
	dds_entity_t dds_topic;

	/* TOPIC_OUT */
	vdds_sub *sub;
	dds_entity_t writer;
	char type_name[VDDS_TYPE_NAME_MAX + 1];

	/* TOPIC_IN */
	vdds_pub *pub;
	dds_entity_t reader;
	atomic_bool pending; /* set by the listener, cleared by the loop */
	bool stalled;        /* every slot held: retry on the timer */
	char local_type[VDDS_TYPE_NAME_MAX + 1];

	/* what discovery saw: DDS writers of vdds/<name> that are not ours.
	 * Accepted ones all announce announced_type (the topic's type while
	 * any is present or the topic is imported); refused ones announce
	 * another type, or one too long, and wait (writers.c). */
	uint32_t remote_writers, refused_writers;
	char announced_type[VDDS_TYPE_NAME_MAX + 1];
	uint64_t orphaned_ns;     /* imported, no writer since (CLOCK_MONOTONIC); 0: has one */
	uint64_t writers_refused; /* counter: writers refused for their type */
	bool dead;                /* nothing refers to it: freed after this turn of the loop */

	uint64_t frames_in, frames_out, dropped[DROP_REASONS];
	uint64_t slot_waits; /* in: times local subscribers held every slot */
	uint64_t noted;      /* in: the counters' sum when last put in the note */
	struct topic *next;
};

/* A remote DDS participant with writers of vdds topics: what it may make
 * the bridge hold is bounded (--peer-writers). */
struct remote_peer {
	dds_guid_t key;
	uint32_t writers;
	bool said_full;
	struct remote_peer *next;
};

/* A DDS writer of vdds/<topic> seen through DCPSPublication. */
struct remote_writer {
	dds_guid_t key;
	struct remote_peer *peer;
	struct topic *topic;
	bool accepted; /* counted in topic->remote_writers, else refused_writers */
	bool too_long; /* announced a type name over VDDS_TYPE_NAME_MAX: never accepted */
	char type_name[VDDS_TYPE_NAME_MAX + 1];
	struct remote_writer *next;
};

struct bridge {
	struct bridge_opts opts;
	char rundir[PATH_MAX];
	/* this vdds host: the boot and the runtime directory; bridges of one
	 * host never import each other's writers */
	char origin[BRIDGE_ORIGIN_MAX];
	vdds_waitset *ws;
	int wake_fd;   /* eventfd: Cyclone's listeners write it */
	int watch_fd;  /* inotify on the runtime directory */
	int signal_fd; /* SIGINT, SIGTERM, SIGUSR1 */
	int retry_fd;  /* timerfd: stalled imports try again */
	int grace_fd;  /* timerfd: imports without writers end */
	bool stop;

	dds_entity_t participant, discovery;
	dds_guid_t guid;
	atomic_bool discovery_pending;

	struct topic *topics;
	struct remote_writer *writers;
	struct remote_peer *peers;

	/* DDS topics ignored: the names logged so far, and counts */
	char ignored_said[BRIDGE_IGNORED_SAID_MAX][BRIDGE_DDS_NAME_MAX + 1];
	uint32_t n_ignored_said;
	uint64_t writers_ignored;   /* writers of ignored topics */
	uint64_t writers_over_peer; /* writers over a participant's --peer-writers */
};

/* names.c: the DDS name of a vdds topic name and back; -EINVAL for a name
 * that is no vdds name, or no vdds name's image */
bool bridge_topic_name_ok(const char *name);
int bridge_dds_name(const char *topic, char *out, size_t cap);
int bridge_vdds_name(const char *dds, char *out, size_t cap);

/* topics.c */
struct topic *bridge_topic(struct bridge *b, const char *name);
bool bridge_wants_in(const struct bridge *b, const char *name);
void bridge_reconsider(struct bridge *b, struct topic *t);
/* Mark t dead if nothing needs it any more; bridge_reap frees it. */
void bridge_release_topic(struct bridge *b, struct topic *t);
void bridge_reap(struct bridge *b);
int bridge_watch_rundir(struct bridge *b);
void bridge_rundir_event(struct bridge *b);
void bridge_stop_topic(struct bridge *b, struct topic *t);

/* dds_side.c */
int bridge_dds_open(struct bridge *b);
void bridge_dds_close(struct bridge *b);
int bridge_dds_writer(struct bridge *b, struct topic *t);
int bridge_dds_reader(struct bridge *b, struct topic *t);
void bridge_dds_drop_endpoints(struct topic *t);
/* The endpoints and the DDS topic: before the topic is freed. */
void bridge_dds_drop_topic(struct topic *t);
void bridge_discovery(struct bridge *b);

/* writers.c */
void bridge_writer_seen(struct bridge *b, const dds_builtintopic_endpoint_t *ep);
void bridge_writer_gone(struct bridge *b, const dds_guid_t *key);
void bridge_expire_imports(struct bridge *b);
void bridge_free_writers(struct bridge *b);

/* forward.c */
void bridge_pump_out(struct bridge *b, struct topic *t);
void bridge_pump_in(struct bridge *b, struct topic *t);
void bridge_retry_stalled(struct bridge *b);

/* report.c */
void bridge_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bridge_log_once(struct topic *t, unsigned said, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void bridge_drop(struct topic *t, enum drop_reason why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A DDS topic ignored (dds_name as the remote writer spelled it); the log
 * says so once per name, for the first BRIDGE_IGNORED_SAID_MAX names. */
void bridge_ignored(struct bridge *b, const char *dds_name, const char *why);
void bridge_print_counters(const struct bridge *b, const char *when);
/* Imported topics whose counters moved: put them in the publisher's note,
 * which `vdds info` shows. */
void bridge_note_counters(struct bridge *b);

#endif
