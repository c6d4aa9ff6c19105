/* introspect.h — ask a topic's publisher about itself over its socket
 * (INFO_REQ / INFO, see proto.h): what `vdds info` and `vdds ls` show. */
#ifndef VDDS_INTROSPECT_H
#define VDDS_INTROSPECT_H

#include <stdint.h>

#include "proto.h"

/* Connect to <dir>/<topic>.sock, send INFO_REQ and wait up to timeout_ms
 * (< 0: forever) for the answer, which is checked whole (vdds__msg_parse)
 * before it is copied to *info. dir is a runtime directory (vdds__rundir).
 * Returns 0, or -ENOENT (no publisher), -EACCES (it refuses this user),
 * -EPROTO (it speaks another protocol version, older or newer, or REJECTs
 * with EPROTO), -ETIMEDOUT, -EBADMSG (a malformed answer), another errno
 * the publisher REJECTed with, or -errno. */
int vdds__introspect(const char *dir, const char *topic, struct vdds__msg_info *info,
		     int timeout_ms);

#endif
