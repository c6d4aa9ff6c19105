/* errors.c — vdds_strerror() and vdds_version(): the words for every error
 * code, in the terms of this library for the codes it documents and the C
 * library's for the rest; and the per-thread detail that names what was at
 * fault (vdds_last_error_detail). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "vdds.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* The C library's description of a code it knows, NULL for one it does
 * not. Not strerror(): glibc's may format an unknown code into a buffer
 * that the next call on any thread overwrites; strerrordesc_np (glibc 2.32)
 * only ever returns its constant table's strings. Elsewhere (musl's table is
 * constant too) strerror() it is. */
static const char *libc_words(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	return strerrordesc_np(err);
#else
	return strerror(err);
#endif
}

const char *vdds_strerror(int err)
{
	const char *words;

	if (err == INT_MIN) /* has no positive twin */
		return "unknown error";
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
	default: words = libc_words(err < 0 ? -err : err); return words ? words : "unknown error";
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

int vdds__detail_setf(int err, const char *fmt, ...)
{
	char text[VDDS_ERROR_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	/* clang-tidy 14 takes ap for uninitialized when it lints several files
	 * in one run (scripts/test.sh) */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(text, sizeof(text), fmt, ap); /* cut short if longer: fine */
	va_end(ap);
	vdds__detail_set(text);
	return err;
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

int vdds__reserve_check(const char *name, const void *s, size_t from, size_t to)
{
	const unsigned char *b = s;

	for (size_t i = from; i < to; i++)
		if (b[i])
			return vdds__detail_setf(
				-EINVAL, "%s: unknown field set at offset %zu: a newer header?",
				name, i);
	return 0;
}
