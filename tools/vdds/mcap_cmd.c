/* mcap_cmd.c — `vdds mcap recover IN OUT`: rewrite what a cut-short MCAP
 * file (a recording killed, a disk that filled up) holds up to its last
 * complete record as a complete, indexed file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mcap.h"

static const char help[] =
	"usage: vdds mcap recover IN.mcap OUT.mcap\n"
	"\n"
	"Read IN (chunked or not, zstd, lz4 or uncompressed; a file cut short by a\n"
	"crash included) up to its last complete record and write every message\n"
	"found, with its channels and schemas, to OUT, a new file (never one that\n"
	"exists) with chunk indexes and a summary. Says how many bytes of IN were\n"
	"past the last complete record (lost).\n"
	"\n"
	"Exit status: 0 when OUT was written (also from a damaged IN), 1 when\n"
	"nothing could be read or written, 2 on a usage error.\n";

/* Each reader channel's id in the output, by the reader's table index. */
struct recover {
	struct mcap_reader *rd;
	struct mcap_writer *w;
	uint16_t out_id[MCAP_MAX_CHANNELS];
	int n_declared;
	uint64_t messages;
};

static int declare_new(struct recover *c)
{
	const struct mcap_channel *ch;
	int n = mcap_reader_channels(c->rd, &ch);

	for (; c->n_declared < n; c->n_declared++) {
		const struct mcap_channel *x = &ch[c->n_declared];
		const struct mcap_schema sc = { x->schema_name, x->schema_encoding, x->schema_data,
						x->schema_len };
		int err = mcap_writer_channel(c->w, x->topic, &sc, x->message_encoding, x->meta,
					      x->n_meta, &c->out_id[c->n_declared]);

		if (err < 0)
			return err;
	}
	return 0;
}

/* Copy every message; the reader's result at its end (0, or why it
 * stopped). */
static int copy(struct recover *c)
{
	struct mcap_message m;
	const struct mcap_channel *ch;
	int err;

	while ((err = mcap_reader_next(c->rd, &m)) > 0) {
		mcap_reader_channels(c->rd, &ch);
		if ((err = declare_new(c)) < 0)
			return err;
		err = mcap_writer_message(c->w, c->out_id[m.channel - ch], m.sequence, m.log_time,
					  m.publish_time, m.data, m.len);
		if (err < 0)
			return err;
		c->messages++;
	}
	if (err == 0)
		err = declare_new(c); /* channels without messages are kept too */
	return err;
}

static int recover(const char *in, const char *out)
{
	struct recover c = { 0 };
	struct stat st;
	int sigfd = cli_signal_fd(), rc = CLI_RUNTIME;
	int ifd = open(in, O_RDONLY | O_NONBLOCK | O_CLOEXEC), ofd = -1;

	if (ifd < 0 || fstat(ifd, &st) < 0) {
		cli_fail(CLI_RUNTIME, "cannot read '%s': %s", in, strerror(errno));
		if (ifd >= 0)
			close(ifd);
		goto out;
	}
	int err = mcap_reader_open(&c.rd, ifd, !S_ISREG(st.st_mode), sigfd);

	if (err < 0) {
		cli_fail(CLI_RUNTIME, "%s: %s", in,
			 err == -EBADMSG || err == -ENODATA ? mcap_reader_error(c.rd)
							    : strerror(-err));
		goto out;
	}
	/* O_EXCL: never replaces, never follows a link */
	if ((ofd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0) {
		cli_fail(CLI_RUNTIME, "cannot write '%s': %s", out, strerror(errno));
		goto out;
	}
	const struct mcap_writer_opts o = { .profile = "x-vdds",
					    .library = "vdds mcap recover",
					    .compression = MCAP_ZSTD,
					    .chunk_size = 1u << 20 };

	if ((err = mcap_writer_open(&c.w, ofd, &o)) < 0) {
		cli_fail(CLI_RUNTIME, "writing %s: %s", out, strerror(-err));
		goto out;
	}
	int why = copy(&c);
	uint64_t good = mcap_reader_good_bytes(c.rd);

	if (why == -EINTR) {
		fprintf(stderr, "vdds: stopped by a signal\n");
	} else if (why == -ENODATA || why == -EBADMSG) {
		fprintf(stderr, "vdds: %s: %s; ", in, mcap_reader_error(c.rd));
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size >= good)
			fprintf(stderr, "%" PRIu64 " bytes after the last complete record lost\n",
				(uint64_t)st.st_size - good);
		else
			fprintf(stderr, "the rest lost\n");
	} else if (why < 0) {
		cli_fail(CLI_RUNTIME, "%s: %s", why == -ENOSPC ? out : in, strerror(-why));
		mcap_writer_close(c.w);
		c.w = NULL;
		goto out;
	}
	err = mcap_writer_close(c.w);
	c.w = NULL;
	if (err < 0) {
		cli_fail(CLI_RUNTIME, "writing %s: %s", out, strerror(-err));
		goto out;
	}
	fprintf(stderr, "vdds: recovered %" PRIu64 " messages on %d channels into %s\n", c.messages,
		c.n_declared, out);
	rc = CLI_OK;
out:
	if (c.w)
		mcap_writer_close(c.w);
	mcap_reader_close(c.rd);
	if (sigfd >= 0)
		close(sigfd);
	return rc;
}

int cli_mcap(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(help);
	if (argc < 2 || strcmp(argv[1], "recover") != 0)
		return cli_usage("mcap",
				 argc < 2 ? "missing SUBCOMMAND: recover"
					  : "unknown subcommand '%s': recover",
				 argv[argc < 2 ? 0 : 1]);
	if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
		return cli_help(help);
	if (argc != 4)
		return cli_usage("mcap", "recover wants IN.mcap and OUT.mcap");
	return recover(argv[2], argv[3]);
}
