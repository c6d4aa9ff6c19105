/* bridge.h — vdds-bridge's state (options, the topic table, counters) and the
 * calls its sources make into each other: main.c (loop), topics.c (which topic
 * goes which way), dds_side.c (Cyclone), forward.c (frames), report.c (log). */
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
/* The USER_DATA of a writer: "vdds.origin=ID\n" (a bridge's: which vdds host
 * it exports from), then "vdds.type_name=NAME" (the vdds type it writes);
 * either may be missing. */
#define BRIDGE_USERDATA_ORIGIN "vdds.origin="
#define BRIDGE_USERDATA_TYPE "vdds.type_name="
#define BRIDGE_ORIGIN_MAX 96

struct bridge_opts {
	const char *out[BRIDGE_MAX_PATTERNS];
	const char *in[BRIDGE_MAX_PATTERNS];
	int n_out, n_in;
	uint32_t domain;
	int32_t depth;
	bool durable;
	size_t slot_size;
	uint32_t slots;
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
	SAID_LOCKED = 1u << 0,      /* another bridge on this host has it */
	SAID_LOCAL = 1u << 1,       /* published locally: not imported */
	SAID_DDS_REFUSED = 1u << 2, /* Cyclone refused the topic */
	SAID_NOT_FRAME = 1u << 3,   /* a DDS writer of another type */
	SAID_NO_IMPORT = 1u << 4,   /* exported once: never imported */
	SAID_OPEN_FAILED = 1u << 5, /* vdds open failed otherwise */
	SAID_SAME_HOST = 1u << 6,   /* a DDS writer of another bridge of this host */
};

struct topic {
	struct bridge *bridge;
	char name[VDDS_TOPIC_MAX + 1];
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

	/* what discovery saw: DDS writers of vdds/<name> that are not ours */
	uint32_t remote_writers;
	bool announced;
	char announced_type[VDDS_TYPE_NAME_MAX + 1];

	uint64_t frames_in, frames_out, dropped[DROP_REASONS];
	uint64_t slot_waits; /* in: times local subscribers held every slot */
	uint64_t noted;      /* in: the counters' sum when last put in the note */
	struct topic *next;
};

/* A DDS writer of vdds/<topic> seen through DCPSPublication. */
struct remote_writer {
	dds_guid_t key;
	struct topic *topic;
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
	bool stop;

	dds_entity_t participant, discovery;
	dds_guid_t guid;
	atomic_bool discovery_pending;

	struct topic *topics;
	struct remote_writer *writers;
};

/* topics.c */
struct topic *bridge_topic(struct bridge *b, const char *name);
bool bridge_topic_name_ok(const char *name);
void bridge_reconsider(struct bridge *b, struct topic *t);
int bridge_watch_rundir(struct bridge *b);
void bridge_rundir_event(struct bridge *b);
void bridge_stop_topic(struct bridge *b, struct topic *t);

/* dds_side.c */
int bridge_dds_open(struct bridge *b);
void bridge_dds_close(struct bridge *b);
int bridge_dds_writer(struct bridge *b, struct topic *t);
int bridge_dds_reader(struct bridge *b, struct topic *t);
void bridge_dds_drop_endpoints(struct topic *t);
void bridge_discovery(struct bridge *b);

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
void bridge_print_counters(const struct bridge *b, const char *when);
/* Imported topics whose counters moved: put them in the publisher's note,
 * which `vdds info` shows. */
void bridge_note_counters(struct bridge *b);

#endif
