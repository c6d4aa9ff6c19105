/* escape.c — control characters and non-ASCII bytes from a peer or a file,
 * escaped before they reach a terminal or a log (escape.h). */
#include "escape.h"

#include <string.h>

/* The escaped form of c into out (at most 5 bytes with the NUL); its length. */
static size_t esc_byte(unsigned char c, char out[5])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\\': memcpy(out, "\\\\", 3); return 2;
	case '\n': memcpy(out, "\\n", 3); return 2;
	case '\t': memcpy(out, "\\t", 3); return 2;
	case '\r': memcpy(out, "\\r", 3); return 2;
	default: break;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		out[1] = '\0';
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	out[4] = '\0';
	return 4;
}

void esc_write(FILE *f, const void *p, size_t len)
{
	const unsigned char *b = p;
	char e[5];

	for (size_t i = 0; i < len; i++) {
		size_t n = esc_byte(b[i], e);
		fwrite(e, 1, n, f);
	}
}

const char *esc_str(const char *s, char *buf, size_t size)
{
	size_t used = 0;
	char e[5];

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		size_t n = esc_byte(*p, e);
		if (used + n + 1 > size) {
			/* room for "..." and the NUL: back off to where it fits */
			while (used > 0 && used + 4 > size)
				used--;
			memcpy(buf + used, "...", 4);
			return buf;
		}
		memcpy(buf + used, e, n);
		used += n;
	}
	buf[used] = '\0';
	return buf;
}
