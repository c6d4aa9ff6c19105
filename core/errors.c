/* errors.c — vdds_strerror() and vdds_version(): the words for every error
 * code the API returns, in the terms of this library. */
#include <errno.h>
#include <string.h>

#include "vdds.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *vdds_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return "success";
	case EINVAL: return "invalid argument or topic name";
	case ENOENT: return "no publisher for this topic";
	case EEXIST: return "topic already has a publisher";
	case EACCES: return "permission denied (peer credentials or runtime directory)";
	case EPROTO: return "protocol version, type name or type size mismatch";
	case EMSGSIZE: return "sample larger than the slot size";
	case ETIMEDOUT: return "timed out";
	case EAGAIN: return "nothing available now";
	case EPIPE: return "publisher gone";
	case ENOSPC: return "subscriber limit reached";
	case EBADMSG: return "peer broke the protocol";
	case ENOBUFS: return "no slot can be had: every one is held (or max_held reached)";
	case ENOMEM: return "out of memory";
	case ENAMETOOLONG: return "runtime directory path too long";
	default: return "system error";
	}
}

const char *vdds_version(void)
{
	return STR(VDDS_VERSION_MAJOR) "." STR(VDDS_VERSION_MINOR) "." STR(VDDS_VERSION_PATCH);
}
