/* errors.c — vdds_strerror() and vdds_version(): the words for every error
 * code the API returns, in the terms of this library; and the per-thread
 * detail a refused handshake leaves (vdds_last_error_detail). */
#include <errno.h>
#include <string.h>

#include "errors.h"
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
	case EBUSY: return "publisher busy: too many handshakes pending";
	case ECHILD: return "handle belongs to the parent process (used after fork)";
	default: return "system error";
	}
}

const char *vdds_version(void)
{
	return STR(VDDS_VERSION_MAJOR) "." STR(VDDS_VERSION_MINOR) "." STR(VDDS_VERSION_PATCH);
}

/* Per thread, like errno: read by the thread whose call failed, so it needs
 * no lock and has no lifetime to manage (the one piece of mutable state here;
 * see vdds_last_error_detail in vdds.h for why not an out-buffer). */
static _Thread_local char detail[VDDS_ERROR_DETAIL_MAX];

const char *vdds_last_error_detail(void)
{
	return detail;
}

void vdds__detail_clear(void)
{
	detail[0] = '\0';
}

void vdds__detail_set(const char *text)
{
	size_t n = strnlen(text, sizeof(detail) - 1);

	/* the text may come from the other process: it must not be able to
	 * write escape sequences into the application's log or terminal */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		detail[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	detail[n] = '\0';
}
