/* escape.h — the one way the tools show a string that another process or a
 * file chose (a topic or type name, a payload, a reason): control bytes and
 * non-ASCII escaped as \\ \n \t \r \xHH, so nothing reaches a terminal raw. */
#ifndef VDDS_TOOLS_ESCAPE_H
#define VDDS_TOOLS_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Write len bytes of p to f, escaped. */
void esc_write(FILE *f, const void *p, size_t len);

/* s escaped into buf (size bytes, at least 8), NUL-terminated; what does not
 * fit is cut and marked with "...". Returns buf, for a printf %s. */
const char *esc_str(const char *s, char *buf, size_t size);

/* A buffer size for esc_str that shows a 63-byte name whole even if every
 * byte needs \xHH. */
#define ESC_NAME_MAX (4 * 64 + 4)

#endif
