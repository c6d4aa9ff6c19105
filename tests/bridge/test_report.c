/* test_report.c — what vdds-bridge's log says of DDS topics it ignores
 * (tools/vdds-bridge/report.c): a name a remote writer chose is shown escaped,
 * each name once, and after BRIDGE_IGNORED_SAID_MAX names only counted. A
 * DDS topic name holding an escape sequence cannot be made through Cyclone's
 * API (it checks names), so this is where that path is driven. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

/* stderr into a fresh file; what was written is read back by logged(). */
static void capture(void)
{
	char path[] = "/tmp/vdds-bridge-report-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	unlink(path);
}

static const char *logged(void)
{
	static char buf[1 << 16];
	ssize_t n;

	fflush(stderr);
	n = pread(STDERR_FILENO, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(an_ignored_name_with_an_escape_sequence_is_logged_escaped_once)
{
	static struct bridge b;

	capture();
	bridge_ignored(&b, "vdds/\033]0;PWNED\007\033[31mRED", "not a vdds topic name");
	bridge_ignored(&b, "vdds/\033]0;PWNED\007\033[31mRED", "not a vdds topic name");
	const char *log = logged();

	ck_assert_ptr_null(strchr(log, '\033'));
	ck_assert_ptr_null(strchr(log, '\007'));
	ck_assert_int_eq(count(log, "ignoring DDS topic vdds/\\x1b]0;PWNED\\x07\\x1b[31mRED: not a "
				    "vdds topic name\n"),
			 1);
	ck_assert_uint_eq(b.writers_ignored, 2);
}
END_TEST

START_TEST(ignored_names_are_said_up_to_the_bound_then_only_counted)
{
	static struct bridge b;
	char name[64];

	capture();
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < BRIDGE_IGNORED_SAID_MAX + 100; i++) {
			snprintf(name, sizeof(name), "vdds/other%d", i);
			bridge_ignored(&b, name, "matches no --in pattern");
		}
	/* a name longer than any vdds topic's: compared as far as it is kept */
	char long_name[2 * BRIDGE_DDS_NAME_MAX];

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	bridge_ignored(&b, long_name, "long");
	bridge_print_counters(&b, "test");
	const char *log = logged();

	ck_assert_int_eq(count(log, "ignoring DDS topic"), BRIDGE_IGNORED_SAID_MAX);
	ck_assert_int_eq(count(log, "ignoring DDS topic vdds/other0: matches no --in pattern\n"),
			 1);
	ck_assert_int_eq(count(log, "more are counted, not named"), 1);
	ck_assert_uint_eq(b.writers_ignored, 2 * (BRIDGE_IGNORED_SAID_MAX + 100) + 1);
	ck_assert_int_eq(count(log, "counters (test): writers_ignored=265 writers_over_peer=0"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bridge_report");
	TCase *tc = tcase_create("report");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, an_ignored_name_with_an_escape_sequence_is_logged_escaped_once);
	tcase_add_test(tc, ignored_names_are_said_up_to_the_bound_then_only_counted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed ? 1 : 0;
}
