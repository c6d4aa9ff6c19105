/* test_mcap.c — the `vdds` command's MCAP writer and reader: CRC-32 against
 * its check value, a file's exact framing (magic, records, summary offsets,
 * footer), reading back what was written, and refusing damaged files. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcap.h"

static char path[64];

static void temp_path(void)
{
	snprintf(path, sizeof(path), "/tmp/vdds-mcap-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

static unsigned char *slurp(size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	*len = fread(p, 1, 1 << 20, f);
	fclose(f);
	return p;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Two channels (one typed, one not), five messages. */
static void write_sample_file(void)
{
	struct mcap_writer *w;
	uint16_t a, b;
	const struct mcap_kv meta[] = { { "vdds.type_name", "pose" } };

	temp_path();
	ck_assert_int_eq(mcap_writer_open(&w, path, "x-vdds", "test"), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "cam", "pose", "x-vdds-raw", meta, 1, &a), 0);
	ck_assert_int_eq(mcap_writer_channel(w, "imu", "", "x-vdds-raw", NULL, 0, &b), 0);
	ck_assert_uint_ne(a, b);
	for (uint32_t i = 0; i < 5; i++) {
		char data[16];
		int n = snprintf(data, sizeof(data), "m%u", i);

		ck_assert_int_eq(mcap_writer_message(w, i % 2 ? b : a, i + 1, 1000 + i, 500 + i,
						     data, (size_t)n),
				 0);
	}
	ck_assert_int_eq(mcap_writer_close(w), 0);
}

START_TEST(test_crc32_has_its_check_value)
{
	ck_assert_uint_eq(mcap_crc32(0, "123456789", 9), 0xcbf43926u);
	/* in pieces, the same */
	ck_assert_uint_eq(mcap_crc32(mcap_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	ck_assert_uint_eq(mcap_crc32(0, "", 0), 0);
}
END_TEST

START_TEST(test_file_is_framed_as_the_spec_says)
{
	static const unsigned char magic[8] = { 0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n' };
	size_t len;

	write_sample_file();
	unsigned char *p = slurp(&len);

	ck_assert_mem_eq(p, magic, 8);
	ck_assert_mem_eq(p + len - 8, magic, 8);
	ck_assert_uint_eq(p[8], 0x01); /* Header first */
	/* Footer: opcode, length 20, summary start, summary offset start, CRC */
	const unsigned char *f = p + len - 8 - 29;

	ck_assert_uint_eq(f[0], 0x02);
	ck_assert_uint_eq(le(f + 1, 8), 20);
	uint64_t summary = le(f + 9, 8), offsets = le(f + 17, 8);

	ck_assert_uint_eq(le(f + 25, 4),
			  mcap_crc32(0, p + summary, (size_t)(f + 25 - (p + summary))));
	/* Data End right before the summary, with the CRC of all before it */
	const unsigned char *de = p + summary - 13;

	ck_assert_uint_eq(de[0], 0x0f);
	ck_assert_uint_eq(le(de + 1, 8), 4);
	ck_assert_uint_eq(le(de + 9, 4), mcap_crc32(0, p, (size_t)(de - p)));
	/* records walk from the Header to the Footer exactly */
	size_t off = 8;
	int ops[64], n = 0;

	while (off < len - 8) {
		ops[n++] = p[off];
		off += 9 + le(p + off + 1, 8);
	}
	ck_assert_uint_eq(off, len - 8);
	/* Header Schema Channel Channel 5xMessage DataEnd | Schema Channel Channel
	 * Statistics | 3xSummaryOffset | Footer */
	static const int want[] = { 1, 3, 4, 4, 5, 5, 5, 5, 5, 15, 3, 4, 4, 11, 14, 14, 14, 2 };

	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ops[i], want[i]);
	/* each Summary Offset points at its group */
	for (const unsigned char *so = p + offsets; so[0] == 0x0e; so += 9 + 17) {
		uint64_t start = le(so + 10, 8);

		ck_assert_uint_eq(p[start], so[9]);
	}
	free(p);
	unlink(path);
}
END_TEST

START_TEST(test_reader_gives_back_what_was_written)
{
	struct mcap_reader *r;
	struct mcap_message m;
	const struct mcap_channel *ch;

	write_sample_file();
	ck_assert_int_eq(mcap_reader_open(&r, path), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < 5; i++) {
			char data[16];
			int n = snprintf(data, sizeof(data), "m%u", i);

			ck_assert_int_eq(mcap_reader_next(r, &m), 1);
			ck_assert_str_eq(m.channel->topic, i % 2 ? "imu" : "cam");
			ck_assert_str_eq(m.channel->schema_name, i % 2 ? "" : "pose");
			ck_assert_str_eq(m.channel->message_encoding, "x-vdds-raw");
			ck_assert_uint_eq(m.sequence, i + 1);
			ck_assert_uint_eq(m.log_time, 1000 + i);
			ck_assert_uint_eq(m.publish_time, 500 + i);
			ck_assert_uint_eq(m.len, (size_t)n);
			ck_assert_mem_eq(m.data, data, (size_t)n);
		}
		ck_assert_int_eq(mcap_reader_next(r, &m), 0); /* Data End, CRC good */
		ck_assert_int_eq(mcap_reader_channels(r, &ch), 2);
		ck_assert_int_eq(ch[0].n_meta, 1);
		ck_assert_str_eq(ch[0].meta[0].value, "pose");
		ck_assert_int_eq(mcap_reader_rewind(r), 0);
	}
	mcap_reader_close(r);
	unlink(path);
}
END_TEST

/* Change one byte of the file at offset off. */
static void damage(long off, unsigned char v)
{
	FILE *f = fopen(path, "r+b");

	ck_assert_ptr_nonnull(f);
	fseek(f, off, SEEK_SET);
	fputc(v, f);
	fclose(f);
}

static int read_all(void)
{
	struct mcap_reader *r;
	struct mcap_message m;
	int err = mcap_reader_open(&r, path);

	if (err == 0)
		while ((err = mcap_reader_next(r, &m)) == 1)
			;
	mcap_reader_close(r);
	return err;
}

START_TEST(test_damaged_files_are_refused)
{
	size_t len;

	write_sample_file();
	unsigned char *p = slurp(&len);
	/* a payload byte: only the data section CRC can tell */
	unsigned char *hit = memmem(p, len, "m3", 2);

	ck_assert_ptr_nonnull(hit);
	damage(hit - p, 'X');
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* a record length past the end */
	write_sample_file();
	damage(9 + 7, 0x7f);
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* not MCAP at all */
	write_sample_file();
	damage(1, 'X');
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* truncated in the middle of a message */
	write_sample_file();
	ck_assert_int_eq(truncate(path, (off_t)(hit - p)), 0);
	ck_assert_int_eq(read_all(), -EBADMSG);
	/* a chunk: not supported, said so */
	write_sample_file();
	damage(hit - p - 31, 0x06); /* the Message record's opcode */
	ck_assert_int_eq(read_all(), -ENOTSUP);
	free(p);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mcap");
	TCase *tc = tcase_create("mcap");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_crc32_has_its_check_value);
	tcase_add_test(tc, test_file_is_framed_as_the_spec_says);
	tcase_add_test(tc, test_reader_gives_back_what_was_written);
	tcase_add_test(tc, test_damaged_files_are_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed ? 1 : 0;
}
