/* errors.h — the per-thread reason text behind vdds_last_error_detail(): a
 * handshake clears it, and sets it when the publisher refuses it. */
#ifndef VDDS_ERRORS_H
#define VDDS_ERRORS_H

/* Forget the reason of an earlier refusal on this thread. */
void vdds__detail_clear(void);

/* Keep text (from a peer: bounded to VDDS_ERROR_DETAIL_MAX - 1 bytes, control
 * characters replaced by '?') as this thread's error detail. */
void vdds__detail_set(const char *text);

#endif
