/* proto.h — the handshake on the topic's SOCK_SEQPACKET socket:
 *   subscriber -> HELLO {version, type name, type size, flags}
 *   publisher  -> WELCOME {lane id, sizes} + SCM_RIGHTS {topic, lane, data eventfd}
 *              or REJECT {errno, reason}
 * and later, on the same connection:
 *   subscriber -> WAKE {} (version 3) when a release met the lane's pub_wait
 *                 watermark: the publisher's control side wakes its blocked
 *                 loan. Sent without blocking; a full socket means a WAKE is
 *                 already queued, which is as good. A WAKE only makes the
 *                 publisher look at its rings again, so a subscriber sending
 *                 too many harms nobody but its own latch (sub_fd.c).
 *   publisher  -> BYE {errno, reason} before it cuts a subscriber off.
 * Introspection (version 2) instead of HELLO, on a connection of its own:
 *   client     -> INFO_REQ {flags}
 *   publisher  -> INFO {who, layout, statistics, one entry per subscriber}, then hangs up
 *              or REJECT {errno, reason}
 * Every message is one datagram of a size fixed by its kind (INFO: by its
 * subscriber count, bounded by VDDS__MSG_MAX); parsers check all of it.
 *
 * Versions: every message carries VDDS__PROTO_VERSION in hdr.version, and a
 * parser accepts exactly that one (-EPROTO for any other, whatever the kind:
 * the shared layout changed in 2 and in 3, so peers of two versions cannot
 * work together). The version named beside a kind above is the one that
 * introduced it. A peer of another version is refused in words taken from
 * the header alone (vdds__reason_version): a publisher REJECTs such a HELLO
 * or INFO_REQ with EPROTO ("protocol version 3 expected, publisher speaks
 * 2", in the subscriber's terms); a subscriber that cannot parse the answer
 * to its HELLO says the same from the answer's header, and an introspection
 * client returns -EPROTO. */
#ifndef VDDS_PROTO_H
#define VDDS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "vdds.h"

#define VDDS__PROTO_MAGIC 0x53444456u /* "VDDS" */
/* 2: layout v2 (overflow, history), HELLO flags, INFO; 3: WAKE instead of a
 * return eventfd (issue #14: fewer fds), so WELCOME carries three; and layout
 * v3 (marked ring entries carrying the sample's metadata, issue #14) */
#define VDDS__PROTO_VERSION 3u
#define VDDS__WELCOME_FDS 3 /* topic memfd, lane memfd, data eventfd */
/* no valid message is larger: an INFO with VDDS_MAX_SUBSCRIBERS subscribers */
#define VDDS__MSG_MAX (304 + 32 * VDDS_MAX_SUBSCRIBERS)

enum vdds__msg_kind {
	VDDS__MSG_HELLO = 1,
	VDDS__MSG_WELCOME = 2,
	VDDS__MSG_REJECT = 3,
	VDDS__MSG_BYE = 4,
	VDDS__MSG_INFO_REQ = 5, /* version 2 */
	VDDS__MSG_INFO = 6,     /* version 2 */
	VDDS__MSG_WAKE = 7,     /* version 3 */
};

struct vdds__msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;
	uint32_t size; /* of the whole message */
	uint32_t reserved;
};

struct vdds__msg_hello {
	struct vdds__msg_hdr hdr;
	uint32_t type_size; /* 0: any */
	uint32_t flags;     /* VDDS_HELLO_*; others must be 0 */
	char type_name[64]; /* "": any; NUL-terminated */
};

#define VDDS__HELLO_NO_HISTORY 1u /* do not deliver the publisher's history */

struct vdds__msg_welcome {
	struct vdds__msg_hdr hdr;
	uint32_t lane_id;
	uint32_t reserved;
	uint64_t topic_size;
	uint64_t lane_size;
};

#define VDDS__REASON_MAX 128 /* a REJECT's reason, NUL included */

/* REJECT and BYE */
struct vdds__msg_reject {
	struct vdds__msg_hdr hdr;
	int32_t err; /* positive errno */
	uint32_t reserved;
	char reason[VDDS__REASON_MAX]; /* NUL-terminated */
};

/* Subscriber -> publisher: a release met pub_wait; look at the rings again. */
struct vdds__msg_wake {
	struct vdds__msg_hdr hdr;
};

/* Introspection request: sent instead of HELLO. */
struct vdds__msg_info_req {
	struct vdds__msg_hdr hdr;
	uint32_t flags; /* none defined; must be 0 */
	uint32_t reserved;
};

/* One subscriber, as the publisher's control side sees it. Counts come from
 * the lane's ring indices (subscriber-written ones are untrusted: each count
 * is clamped to the slot count). */
struct vdds__msg_info_sub {
	int32_t pid;  /* SO_PEERCRED at accept */
	uint32_t uid; /* SO_PEERCRED at accept */
	uint32_t lane_id;
	uint32_t held;   /* taken and not yet released */
	uint32_t queued; /* delivered and not yet taken */
	uint32_t reserved;
	uint64_t lost; /* DROP_OLDEST: queued samples taken back from it */
};

/* The answer to INFO_REQ: hdr.size == offsetof(subs) + n_subs * sizeof(subs[0]). */
struct vdds__msg_info {
	struct vdds__msg_hdr hdr;
	int32_t pid;       /* the publisher's process */
	uint32_t uid;      /* its effective uid */
	uint64_t start_ns; /* CLOCK_REALTIME when vdds_pub_open() made it */
	/* layout */
	uint64_t slot_size;
	uint32_t slot_count;
	uint32_t max_subs;
	uint32_t type_size;
	uint32_t overflow;  /* enum vdds_overflow */
	uint32_t history;   /* samples kept for late joiners */
	uint32_t n_subs;    /* entries in subs[], <= VDDS_MAX_SUBSCRIBERS */
	char type_name[64]; /* NUL-terminated */
	/* vdds_pub_stats, as of the data path's last loan, publish, discard,
	 * stats or dispatch (a snapshot it keeps with relaxed stores) */
	uint32_t free_slots;
	uint32_t loaned_slots;
	uint32_t subscribers; /* the data path's count; subs[] is the control side's */
	uint32_t reserved;
	uint64_t published;
	uint64_t wakeups;
	uint64_t disconnects;
	uint64_t kicked;
	char note[VDDS_NOTE_MAX]; /* vdds_pub_set_note; NUL-terminated */
	struct vdds__msg_info_sub subs[VDDS_MAX_SUBSCRIBERS]; /* only n_subs are sent */
};

/* Room for the largest datagram we accept: longer ones arrive truncated
 * (MSG_TRUNC) and are rejected. */
union vdds__msg {
	uint8_t raw[VDDS__MSG_MAX];
	struct vdds__msg_hdr hdr;
	struct vdds__msg_hello hello;
	struct vdds__msg_welcome welcome;
	struct vdds__msg_reject reject;
	struct vdds__msg_wake wake;
	struct vdds__msg_info_req info_req;
	struct vdds__msg_info info;
};

_Static_assert(sizeof(struct vdds__msg_hello) == 88, "hello size");
_Static_assert(sizeof(struct vdds__msg_welcome) == 40, "welcome size");
_Static_assert(sizeof(struct vdds__msg_reject) == 152, "reject size");
_Static_assert(sizeof(struct vdds__msg_wake) == 16, "wake size");
_Static_assert(sizeof(struct vdds__msg_info_req) == 24, "info request size");
_Static_assert(sizeof(struct vdds__msg_info_sub) == 32, "info subscriber size");
_Static_assert(offsetof(struct vdds__msg_info, subs) == 304, "info fixed part");
_Static_assert(sizeof(struct vdds__msg_info) == VDDS__MSG_MAX, "info size");
_Static_assert(sizeof(union vdds__msg) == VDDS__MSG_MAX, "message size");

/* Size of an INFO datagram with n subscriber entries. */
static inline size_t vdds__msg_info_size(uint32_t n)
{
	return offsetof(struct vdds__msg_info, subs) + n * sizeof(struct vdds__msg_info_sub);
}

void vdds__msg_hello(struct vdds__msg_hello *m, const char *type_name, uint32_t type_size,
		     uint32_t flags);
void vdds__msg_welcome(struct vdds__msg_welcome *m, uint32_t lane_id, uint64_t topic_size,
		       uint64_t lane_size);
void vdds__msg_reject(struct vdds__msg_reject *m, int kind, int err, const char *reason);
void vdds__msg_wake(struct vdds__msg_wake *m);
void vdds__msg_info_req(struct vdds__msg_info_req *m);
/* Zero m and set its header for n subscriber entries (filled by the caller). */
void vdds__msg_info_init(struct vdds__msg_info *m, uint32_t n);

/* The words of a refusal, the same whichever side finds it: the subscriber's
 * expectation, then what the publisher has. Written into buf[cap] (cut short,
 * NUL-terminated, if it does not fit), e.g.
 *   "protocol version 3 expected, publisher speaks 2"
 *   "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)"
 * An empty name or a zero size is "of any name" / "any size" on the
 * subscriber's side, "no type name" / "no size" on the publisher's. */
void vdds__reason_version(char *buf, size_t cap, unsigned expected, unsigned spoken);
void vdds__reason_type(char *buf, size_t cap, const char *want_name, uint32_t want_size,
		       const char *have_name, uint32_t have_size);

/* Check len bytes received into m: magic, version (-EPROTO when it is not
 * VDDS__PROTO_VERSION: the layout changed in 2 and in 3, so a peer of another version
 * cannot work with us), a known kind of exactly its size, NUL-terminated
 * strings, zero reserved fields. Returns the kind, or -EBADMSG / -EPROTO. */
int vdds__msg_parse(const union vdds__msg *m, size_t len);

/* Send one message with nfds descriptors attached (MSG_NOSIGNAL: a peer that
 * died mid-handshake must not SIGPIPE us). Returns 0 or -errno. */
int vdds__msg_send(int sock, const void *msg, size_t len, const int *fds, int nfds);

/* Receive one message into m and up to max_fds
 * descriptors (O_CLOEXEC). Returns the byte count (0 at EOF) and sets *nfds,
 * or -errno; -EBADMSG when the message or its descriptors were truncated or
 * not SCM_RIGHTS (every descriptor received is then closed). */
int vdds__msg_recv(int sock, union vdds__msg *m, int *fds, int max_fds, int *nfds, int flags);

#endif
