/* fuzz_mcap.c — libFuzzer target for the `vdds` command's MCAP reader
 * (tools/vdds/mcap_read.c): each input is read as a file (seekable: always
 * with a time range, so the summary's chunk index is taken and followed,
 * set before the first message or after it as play does; records skipped
 * by seeking, then every message read again by its place) and as a stream
 * (a pipe or FIFO: everything read, nothing sought).
 * Any crash, sanitizer report, leak or hang is a finding; so is a message
 * whose bytes lie outside what the reader holds (ASan sees the read). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void touch(const struct mcap_message *m)
{
	unsigned s = 0;

	for (size_t i = 0; i < m->len; i++)
		s += m->data[i];
	s += (unsigned)strlen(m->channel->topic) + (unsigned)strlen(m->channel->schema_name);
	sink = s;
}

static void read_as(const uint8_t *data, size_t size, bool stream)
{
	int fd = memfd_create("mcap", MFD_CLOEXEC);
	struct mcap_reader *r;
	struct mcap_message m;
	struct mcap_pos pos[8];
	int n = 0, err;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (mcap_reader_open(&r, fd, stream, -1) == 0) {
		bool first = false; /* the range still to be set at the first message */

		if (stream && size > 0 && (data[size - 1] & 1))
			mcap_reader_set_range(r, 10, 1000); /* chunks skipped by time too */
		else if (!stream && (size & 1))
			mcap_reader_set_range(r, 140, 170); /* the seeds' middle chunk */
		else
			first = !stream;
		while ((err = mcap_reader_next(r, &m)) == 1) {
			touch(&m);
			if (first) /* around the first time, as play's relative --start */
				mcap_reader_set_range(r, m.log_time + 40, m.log_time + 70);
			first = false;
			if (n < 8)
				pos[n++] = m.pos;
		}
		sink = mcap_reader_indexed(r);
		if (err > 1)
			abort();
		for (int i = n - 1; !stream && i >= 0; i--)
			if (mcap_reader_message_at(r, pos[i], &m) == 0)
				touch(&m);
	}
	mcap_reader_error(r);
	mcap_reader_close(r); /* closes fd */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_as(data, size, false);
	read_as(data, size, true);
	return 0;
}
