/* report.c — what vdds-bridge says on stderr: log lines, drops (the first of
 * each kind per topic, then at every power of two, so a flood stays readable),
 * and the per-topic counters printed on SIGUSR1 and at exit. */
#include <stdarg.h>
#include <stdio.h>

#include "bridge.h"

static const char *const drop_names[DROP_REASONS] = {
	[DROP_TOO_LARGE] = "too_large",         [DROP_EMPTY] = "empty",
	[DROP_TYPE_MISMATCH] = "type_mismatch", [DROP_MALFORMED] = "malformed",
	[DROP_WRITE_FAILED] = "write_failed",
};

static void vlog(const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* one write per line: lines of two bridges sharing a terminal do not mix */
	fprintf(stderr, "vdds-bridge: %s\n", line);
}

void bridge_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void bridge_log_once(struct topic *t, unsigned said, const char *fmt, ...)
{
	va_list ap;

	if (t->said & said)
		return;
	t->said |= said;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void bridge_drop(struct topic *t, enum drop_reason why, const char *fmt, ...)
{
	uint64_t n = ++t->dropped[why];
	char what[384];
	va_list ap;

	if (n & (n - 1)) /* not a power of two */
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	bridge_log("%s: dropped %s (%s: %llu so far)", t->name, what, drop_names[why],
		   (unsigned long long)n);
}

void bridge_print_counters(const struct bridge *b, const char *when)
{
	static const char *const modes[] = { "idle", "out", "in" };

	for (const struct topic *t = b->topics; t; t = t->next) {
		uint64_t dropped = 0;
		char reasons[256];
		int len = 0;

		for (int i = 0; i < DROP_REASONS; i++) {
			dropped += t->dropped[i];
			len += snprintf(reasons + len, sizeof(reasons) - (size_t)len, " %s=%llu",
					drop_names[i], (unsigned long long)t->dropped[i]);
		}
		if (t->mode == TOPIC_IDLE && t->frames_in == 0 && t->frames_out == 0 &&
		    dropped == 0)
			continue;
		bridge_log("counters (%s): topic=%s mode=%s in=%llu out=%llu dropped=%llu%s "
			   "slot_waits=%llu",
			   when, t->name, modes[t->mode], (unsigned long long)t->frames_in,
			   (unsigned long long)t->frames_out, (unsigned long long)dropped, reasons,
			   (unsigned long long)t->slot_waits);
	}
}

void bridge_note_counters(struct bridge *b)
{
	for (struct topic *t = b->topics; t; t = t->next) {
		uint64_t sum = t->frames_in + t->slot_waits, dropped = 0;

		for (int i = 0; i < DROP_REASONS; i++)
			dropped += t->dropped[i];
		sum += dropped;
		if (t->mode != TOPIC_IN || sum == t->noted)
			continue;
		char note[VDDS_NOTE_MAX];

		snprintf(note, sizeof(note),
			 "vdds-bridge from DDS: in=%llu dropped=%llu too_large=%llu empty=%llu "
			 "type_mismatch=%llu malformed=%llu slot_waits=%llu",
			 (unsigned long long)t->frames_in, (unsigned long long)dropped,
			 (unsigned long long)t->dropped[DROP_TOO_LARGE],
			 (unsigned long long)t->dropped[DROP_EMPTY],
			 (unsigned long long)t->dropped[DROP_TYPE_MISMATCH],
			 (unsigned long long)t->dropped[DROP_MALFORMED],
			 (unsigned long long)t->slot_waits);
		vdds_pub_set_note(t->pub, note);
		t->noted = sum;
	}
}
