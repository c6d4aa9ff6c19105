/* names.c — the wire contract's name mapping: a vdds topic name may hold
 * letters, digits, '_', '-' and '.', a DDS topic name only letters, digits,
 * '_' and '/'. Each byte of the vdds name maps to one or two bytes, '_' to
 * "__", '-' to "_h", '.' to "_d", letters and digits to themselves, so the
 * mapping is a prefix code: one DDS name per vdds name, and the way back
 * accepts a DDS name only if it is exactly what some vdds name maps to. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "bridge.h"

bool bridge_topic_name_ok(const char *name)
{
	/* the library's own rule, so that every name vdds takes is mapped */
	return vdds_topic_check(name) == 0;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int bridge_dds_name(const char *topic, char *out, size_t cap)
{
	size_t plen = strlen(BRIDGE_DDS_PREFIX), o = plen;

	if (!bridge_topic_name_ok(topic) || cap < plen + 2 * strlen(topic) + 1)
		return -EINVAL;
	memcpy(out, BRIDGE_DDS_PREFIX, plen);
	for (const char *p = topic; *p; p++) {
		char c = *p;

		if (alnum(c)) {
			out[o++] = c;
			continue;
		}
		out[o++] = '_';
		switch (c) {
		case '_': out[o++] = '_'; break;
		case '-': out[o++] = 'h'; break;
		case '.': out[o++] = 'd'; break;
		default: return -EINVAL; /* vdds took a byte this mapping does not know */
		}
	}
	out[o] = '\0';
	return 0;
}

int bridge_vdds_name(const char *dds, char *out, size_t cap)
{
	size_t plen = strlen(BRIDGE_DDS_PREFIX), o = 0;

	if (strncmp(dds, BRIDGE_DDS_PREFIX, plen) != 0)
		return -EINVAL;
	for (const char *p = dds + plen; *p; p++) {
		char c = *p;

		if (o + 1 >= cap)
			return -EINVAL;
		if (!alnum(c)) {
			/* an escape: '_' and one of three letters; anything else
			 * (a lone '_', "_x", '/', a byte DDS does not allow) is
			 * no vdds name's image */
			if (c != '_')
				return -EINVAL;
			c = p[1] == '_' ? '_' : p[1] == 'h' ? '-' : p[1] == 'd' ? '.' : '\0';
			if (!c)
				return -EINVAL;
			p++;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	/* the vdds rules: not empty, not too long, no leading '.' */
	return bridge_topic_name_ok(out) ? 0 : -EINVAL;
}
