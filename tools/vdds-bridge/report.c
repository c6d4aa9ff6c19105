/* report.c — what vdds-bridge says on stderr: log lines, drops (the first of
 * each kind per topic, then at every power of two, so a flood stays readable),
 * ignored DDS topics (once per name, for a bounded number of names), and the
 * counters printed on SIGUSR1 and at exit. Every string a remote writer or a
 * local publisher chose goes through esc_str() before it gets here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "escape.h"

static const char *const drop_names[DROP_REASONS] = {
	[DROP_TOO_LARGE] = "too_large",         [DROP_EMPTY] = "empty",
	[DROP_TYPE_MISMATCH] = "type_mismatch", [DROP_MALFORMED] = "malformed",
	[DROP_WRITE_FAILED] = "write_failed",
};

static void vlog(const char *fmt, va_list ap)
{
	char line[512];

	/* ap is started by every caller; clang-tidy 14 cannot follow it */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
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
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	bridge_log("%s: dropped %s (%s: %llu so far)", t->name, what, drop_names[why],
		   (unsigned long long)n);
}

void bridge_ignored(struct bridge *b, const char *dds_name, const char *why)
{
	char shown[BRIDGE_DDS_NAME_MAX + 1], name[ESC_NAME_MAX];

	b->writers_ignored++;
	/* a name longer than any vdds topic's is kept, and compared, cut */
	snprintf(shown, sizeof(shown), "%s", dds_name);
	for (uint32_t i = 0; i < b->n_ignored_said; i++)
		if (strcmp(b->ignored_said[i], shown) == 0)
			return;
	if (b->n_ignored_said == BRIDGE_IGNORED_SAID_MAX)
		return;
	memcpy(b->ignored_said[b->n_ignored_said++], shown, sizeof(shown));
	bridge_log("ignoring DDS topic %s: %s", esc_str(dds_name, name, sizeof(name)), why);
	if (b->n_ignored_said == BRIDGE_IGNORED_SAID_MAX)
		bridge_log("ignored %u DDS topics: more are counted, not named "
			   "(counters: writers_ignored)",
			   BRIDGE_IGNORED_SAID_MAX);
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
		    dropped == 0 && t->writers_refused == 0)
			continue;
		bridge_log("counters (%s): topic=%s mode=%s in=%llu out=%llu dropped=%llu%s "
			   "slot_waits=%llu writers_refused=%llu",
			   when, t->name, modes[t->mode], (unsigned long long)t->frames_in,
			   (unsigned long long)t->frames_out, (unsigned long long)dropped, reasons,
			   (unsigned long long)t->slot_waits,
			   (unsigned long long)t->writers_refused);
	}
	if (b->writers_ignored || b->writers_over_peer)
		bridge_log("counters (%s): writers_ignored=%llu writers_over_peer=%llu", when,
			   (unsigned long long)b->writers_ignored,
			   (unsigned long long)b->writers_over_peer);
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
