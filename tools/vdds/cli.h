/* cli.h — what the subcommands of the `vdds` command share: exit codes,
 * one-line error messages, argument parsing, the runtime directory,
 * signals as a file descriptor, subscribing, JSON output. */
#ifndef VDDS_CLI_H
#define VDDS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vdds.h"

enum { CLI_OK = 0, CLI_RUNTIME = 1, CLI_USAGE = 2 };

/* How long `info` waits for a publisher's answer, and `ls` for all of
 * theirs together. */
#define CLI_INFO_WAIT_MS 2000
/* Room for a runtime-directory path: a socket address's (sun_path). */
#define CLI_PATH_MAX 108

/* The subcommands: argc/argv start at the subcommand's name. */
int cli_ls(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_echo(int argc, char **argv);
int cli_pub(int argc, char **argv);
int cli_hz(int argc, char **argv);
int cli_bw(int argc, char **argv);
int cli_record(int argc, char **argv);
int cli_play(int argc, char **argv);
int cli_mcap(int argc, char **argv); /* mcap_cmd.c: `vdds mcap recover` */

/* "vdds: " + message + newline on stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error of subcommand cmd: "vdds CMD: message (see vdds CMD --help)". */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print help text to stdout; returns CLI_OK. */
int cli_help(const char *text);
/* Flush stdout: CLI_OK, also when its reader has gone (EPIPE: it took what
 * it wanted, as `head` does), else CLI_RUNTIME with a message. */
int cli_flush_stdout(void);
/* An argument the user gave, for a message: escaped and cut to 80 bytes (a
 * 1000-byte name is not echoed back whole). Valid until four more calls. */
const char *cli_arg(const char *s);
/* A failed library call's err in words: vdds_strerror(err), and the
 * library's detail in parentheses when it has one (vdds_last_error_detail,
 * escaped). Valid until the next call. */
const char *cli_lib_error(int err);

/* Parse an unsigned decimal (or, for doubles, a positive number) within
 * [min, max]; false when it is not one. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool cli_parse_double(const char *s, double min, double max, double *out);

/* A valid topic name, or a usage error message naming the rule. */
int cli_check_topic(const char *cmd, const char *topic);

/* The runtime directory path, whether or not it exists (for messages and
 * listing). Returns vdds_rundir's error (0, -ENOENT, -EACCES...). */
int cli_rundir(char *buf, size_t cap);
extern char cli_dir[]; /* filled by main() before any subcommand runs */

/* The message for a failure to subscribe to / introspect / publish topic. */
int cli_topic_error(int err, const char *topic, const char *doing);

/* info.c: an introspection answer as one JSON object and a newline; the
 * message for a failed introspection. */
void cli_info_json(FILE *f, const char *topic, const struct vdds_topic_info *m);
int cli_introspect_error(int err, const char *topic);

/* Topics asked about their publishers together, and what came of it:
 * err[i] is vdds_topic_info_many()'s for topic[i] (0: info[i] holds the
 * answer). */
struct cli_probes {
	size_t n;
	char **topic;
	struct vdds_topic_info *info;
	int *err;
};
/* Ask all p->n topics of the runtime directory at once, none blocking the
 * others, within timeout_ms for all together, first letting this process
 * hold one descriptor per topic where the hard limit allows. Returns 0 or
 * vdds_topic_info_many()'s error. */
int cli_probe(struct cli_probes *p, int timeout_ms);
/* Free what a cli_probes holds (not p itself). */
void cli_probes_free(struct cli_probes *p);

/* SIGINT and SIGTERM, blocked, as a readable fd (signalfd). */
int cli_signal_fd(void);
/* Which signal is pending on it (0 if none), taken. */
int cli_signal_read(int sigfd);
/* Whether one is pending, left there. */
int cli_signal_pending(int sigfd);
/* Call fn(arg), which may block in the kernel without a timeout of its own
 * (a connect to a publisher whose backlog is full), with SIGINT and SIGTERM
 * let through to a handler, so that the call returns -EINTR; a signal that
 * came is pending again on the signalfd after. Returns fn's result, or
 * -EINTR without calling fn when a signal was already pending. */
int cli_interruptible(int (*fn)(void *arg), void *arg);

/* Subscribe to topic. With wait (--reconnect), a topic that has no publisher
 * yet is waited for (inotify on the runtime directory) and the subscriber
 * reconnects to later publishers. Returns 0, 1 if a signal came first, or a
 * negative errno, its message already printed (cli_topic_error). */
int cli_subscribe(const char *topic, bool wait, int sigfd, vdds_sub **sub);
/* The same with options (a type, its size; reconnect is the waiting). */
int cli_subscribe_opts(const char *topic, const struct vdds_sub_opts *o, int sigfd, vdds_sub **sub);

/* JSON: a string with its quotes and escapes; bytes as base64 in quotes. */
void cli_json_str(FILE *f, const char *s);
void cli_json_base64(FILE *f, const void *data, size_t len);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t cli_mono_ns(void);
uint64_t cli_real_ns(void);

/* Sleep until the CLOCK_MONOTONIC time deadline_ns, or until a signal is
 * pending on sigfd: returns 1 for the signal, 0 at the deadline. */
int cli_sleep_until(uint64_t deadline_ns, int sigfd);

#endif
