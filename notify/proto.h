/* proto.h — the handshake on the topic's SOCK_SEQPACKET socket:
 *   subscriber -> HELLO {version, type name, type size}
 *   publisher  -> WELCOME {lane id, sizes} + SCM_RIGHTS {topic, lane, data eventfd, return eventfd}
 *              or REJECT {errno, reason}
 * and later, publisher -> BYE {errno, reason} before it cuts a subscriber off.
 * Every message is one datagram of a fixed size; parsers check all of it. */
#ifndef VDDS_PROTO_H
#define VDDS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define VDDS_PROTO_MAGIC 0x53444456u /* "VDDS" */
#define VDDS_PROTO_VERSION 2u        /* 2: layout v2 (overflow, history); HELLO flags */
#define VDDS_WELCOME_FDS 4           /* topic memfd, lane memfd, data eventfd, return eventfd */
#define VDDS_MSG_MAX 256             /* no valid message is larger */

enum vdds_msg_kind {
	VDDS_MSG_HELLO = 1,
	VDDS_MSG_WELCOME = 2,
	VDDS_MSG_REJECT = 3,
	VDDS_MSG_BYE = 4,
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

#define VDDS_HELLO_NO_HISTORY 1u /* do not deliver the publisher's history */

struct vdds__msg_welcome {
	struct vdds__msg_hdr hdr;
	uint32_t lane_id;
	uint32_t reserved;
	uint64_t topic_size;
	uint64_t lane_size;
};

#define VDDS_REASON_MAX 128 /* a REJECT's reason, NUL included */

/* REJECT and BYE */
struct vdds__msg_reject {
	struct vdds__msg_hdr hdr;
	int32_t err; /* positive errno */
	uint32_t reserved;
	char reason[VDDS_REASON_MAX]; /* NUL-terminated */
};

/* Room for the largest datagram we accept: longer ones arrive truncated
 * (MSG_TRUNC) and are rejected. */
union vdds__msg {
	uint8_t raw[VDDS_MSG_MAX];
	struct vdds__msg_hdr hdr;
	struct vdds__msg_hello hello;
	struct vdds__msg_welcome welcome;
	struct vdds__msg_reject reject;
};

_Static_assert(sizeof(struct vdds__msg_hello) == 88, "hello size");
_Static_assert(sizeof(struct vdds__msg_welcome) == 40, "welcome size");
_Static_assert(sizeof(struct vdds__msg_reject) == 152, "reject size");
_Static_assert(sizeof(union vdds__msg) == VDDS_MSG_MAX, "message size");

void vdds__msg_hello(struct vdds__msg_hello *m, const char *type_name, uint32_t type_size,
		     uint32_t flags);
void vdds__msg_welcome(struct vdds__msg_welcome *m, uint32_t lane_id, uint64_t topic_size,
		       uint64_t lane_size);
void vdds__msg_reject(struct vdds__msg_reject *m, int kind, int err, const char *reason);

/* The words of a refusal, the same whichever side finds it: the subscriber's
 * expectation, then what the publisher has. Written into buf[cap] (cut short,
 * NUL-terminated, if it does not fit), e.g.
 *   "protocol version 2 expected, publisher speaks 1"
 *   "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)"
 * An empty name or a zero size is "of any name" / "any size" on the
 * subscriber's side, "no type name" / "no size" on the publisher's. */
void vdds__reason_version(char *buf, size_t cap, unsigned expected, unsigned spoken);
void vdds__reason_type(char *buf, size_t cap, const char *want_name, uint32_t want_size,
		       const char *have_name, uint32_t have_size);

/* Check len bytes received into m: magic, version (-EPROTO when only the
 * version differs), a known kind of exactly its size, NUL-terminated strings,
 * zero reserved fields. Returns the kind, or -EBADMSG / -EPROTO. */
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
