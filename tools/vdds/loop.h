/* loop.h — one topic's subscriber, signals and a tick in one waitset, for
 * echo, hz and bw. */
#ifndef VDDS_CLI_LOOP_H
#define VDDS_CLI_LOOP_H

#include "cli.h"

struct cli_loop {
	const char *topic;
	bool reconnect;        /* wait for a publisher, and for the next one */
	const char *type_name; /* NULL: any; else the publisher's must match */
	uint32_t type_size;    /* 0: any; else the publisher's must match */
	int timeout_ms;        /* > 0: fail when no sample came for this long */
	int tick_ms;           /* > 0: call tick this often */
	/* each sample (released after); nonzero ends the loop with exit 0. A
	 * failed write to stdout ends it too (cli_flush_stdout says how). */
	int (*sample)(void *ctx, const struct vdds_sample *s);
	void (*tick)(void *ctx);
	void (*end)(void *ctx); /* on a signal or the publisher's going */
};

/* Subscribe and serve samples until sample() says stop, a signal, or the
 * publisher goes away (each reported on stderr). Returns the exit code. */
int cli_run_loop(const struct cli_loop *l, void *ctx);

#endif
