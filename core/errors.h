/* errors.h — the per-thread reason text behind vdds_last_error_detail(): an
 * open or a handshake clears it, and a call that fails sets it to what was at
 * fault (a publisher's refusal, the argument, the limit). */
#ifndef VDDS_ERRORS_H
#define VDDS_ERRORS_H

#include <stddef.h>

/* Forget the reason of an earlier refusal on this thread. */
void vdds__detail_clear(void);

/* Keep text (from a peer: bounded to VDDS_ERROR_DETAIL_MAX - 1 bytes, control
 * characters replaced by '?') as this thread's error detail. */
void vdds__detail_set(const char *text);

/* Format the detail (as vdds__detail_set: cut short, control characters
 * replaced) and return err, so that a check reads
 *   return vdds__detail_setf(-EINVAL, "slot_count %u: must be >= 2", n);
 * For -EINVAL name the argument and what it must be; for -EMFILE whose limit
 * it was (this process's, or the publisher's). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int vdds__detail_setf(int err, const char *fmt, ...);

/* An options struct's reserve (bytes [from, to) of s, `name` the struct's
 * name) must be zero: bytes a newer header gave a meaning this library does
 * not know. 0, or -EINVAL with the detail naming the first one set. */
int vdds__reserve_check(const char *name, const void *s, size_t from, size_t to);

#endif
