/* test_names.c — the bridge's mapping of vdds topic names to DDS topic names
 * (tools/vdds-bridge/names.c), against vdds-bridge(1): the documented
 * examples, every vdds name up to three bytes there and back, and every short
 * DDS name over a hostile alphabet taken back only if it is some vdds name's
 * image. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* Every byte a vdds topic name may hold (vdds.h), and a few it may not. */
static const char vdds_bytes[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";

static const char *dds_of(const char *topic)
{
	static char out[BRIDGE_DDS_NAME_MAX + 1];

	return bridge_dds_name(topic, out, sizeof(out)) == 0 ? out : NULL;
}

static const char *vdds_of(const char *dds)
{
	static char out[VDDS_TOPIC_MAX + 1];

	return bridge_vdds_name(dds, out, sizeof(out)) == 0 ? out : NULL;
}

START_TEST(the_documented_examples_map_as_the_manual_says)
{
	static const char *const pairs[][2] = {
		{ "camera-front", "vdds/camera_hfront" },
		{ "a.b_c", "vdds/a_db__c" },
		{ "x-y.z", "vdds/x_hy_dz" },
		{ "pose", "vdds/pose" },
		{ "Pose2", "vdds/Pose2" },
		{ "_", "vdds/__" },
		{ "a_b", "vdds/a__b" },
		{ "a..b--c__", "vdds/a_d_db_h_hc____" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		ck_assert_str_eq(dds_of(pairs[i][0]), pairs[i][1]);
		ck_assert_str_eq(vdds_of(pairs[i][1]), pairs[i][0]);
	}
}
END_TEST

/* The DDS name uses only what Cyclone takes, and the way back restores the
 * vdds name: so no two vdds names share a DDS name. */
static void round_trip(const char *name)
{
	const char *dds = dds_of(name);

	ck_assert_msg(dds != NULL, "%s has no DDS name", name);
	ck_assert_msg(
		strspn(dds, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/") ==
			strlen(dds),
		"%s -> %s", name, dds);
	ck_assert_msg(strncmp(dds, "vdds/", 5) == 0 && strchr(dds + 5, '/') == NULL, "%s", dds);
	const char *back = vdds_of(dds);

	ck_assert_msg(back && strcmp(back, name) == 0, "%s -> %s -> %s", name, dds,
		      back ? back : "(refused)");
}

START_TEST(every_vdds_name_up_to_three_bytes_goes_and_comes_back)
{
	size_t n = strlen(vdds_bytes), checked = 0;
	char name[4];

	for (size_t len = 1; len <= 3; len++) {
		size_t total = 1;

		for (size_t i = 0; i < len; i++)
			total *= n;
		for (size_t k = 0; k < total; k++) {
			size_t v = k;

			for (size_t i = 0; i < len; i++, v /= n)
				name[i] = vdds_bytes[v % n];
			name[len] = '\0';
			if (name[0] == '.') {
				/* no vdds name: no DDS name either */
				ck_assert_ptr_null(dds_of(name));
				continue;
			}
			round_trip(name);
			checked++;
		}
	}
	ck_assert_uint_eq(checked, 64 + 64 * 65 + 64 * 65 * 65);
}
END_TEST

START_TEST(the_longest_names_fit_and_longer_ones_are_refused)
{
	char name[VDDS_TOPIC_MAX + 2], dds[2 * VDDS_TOPIC_MAX + 16];

	memset(name, '_', VDDS_TOPIC_MAX);
	name[VDDS_TOPIC_MAX] = '\0';
	round_trip(name);
	ck_assert_uint_eq(strlen(dds_of(name)), BRIDGE_DDS_NAME_MAX);
	memset(name, '.', VDDS_TOPIC_MAX);
	name[0] = 'a';
	round_trip(name);
	/* one byte more: no vdds name, and its image is refused on the way back */
	memset(name, 'a', VDDS_TOPIC_MAX + 1);
	name[VDDS_TOPIC_MAX + 1] = '\0';
	ck_assert_ptr_null(dds_of(name));
	snprintf(dds, sizeof(dds), "vdds/%s", name);
	ck_assert_ptr_null(vdds_of(dds));
	/* too little room for the result is a refusal, not an overflow */
	char small[8];

	ck_assert_int_eq(bridge_dds_name("abcd-e", small, sizeof(small)), -EINVAL);
	ck_assert_int_eq(bridge_vdds_name("vdds/abcdefgh", small, sizeof(small)), -EINVAL);
}
END_TEST

/* Over an alphabet of what a remote writer might send, every DDS name of up
 * to five bytes after "vdds/" is taken back exactly when it is the image of
 * the vdds name it gives: nothing non-canonical ("_x", a lone '_', "_H", '/',
 * '-', an escape) is accepted. */
START_TEST(a_dds_name_is_taken_back_only_if_it_is_a_vdds_names_image)
{
	static const char alphabet[] = "aZ0_hd/.-x\033";
	size_t n = strlen(alphabet), accepted = 0;
	char dds[16] = "vdds/";

	for (size_t len = 0; len <= 5; len++) {
		size_t total = 1;

		for (size_t i = 0; i < len; i++)
			total *= n;
		for (size_t k = 0; k < total; k++) {
			size_t v = k;

			for (size_t i = 0; i < len; i++, v /= n)
				dds[5 + i] = alphabet[v % n];
			dds[5 + len] = '\0';
			const char *back = vdds_of(dds);

			if (!back)
				continue;
			accepted++;
			ck_assert_msg(strcmp(dds_of(back), dds) == 0, "%s taken back as %s", dds,
				      back);
		}
	}
	ck_assert_uint_gt(accepted, 1000);
	static const char *const refused[] = {
		"vdds/",      "vdds/_",   "vdds/a_",   "vdds/_x",   "vdds/_H",    "vdds/a/b",
		"vdds/a-b",   "vdds/a.b", "vdds/_dx",  "vdds/a___", "vdds/\033x", "pose",
		"vdds2/pose", "vdd/pose", "VDDS/pose", "",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_msg(vdds_of(refused[i]) == NULL, "%s was taken back", refused[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bridge_names");
	TCase *tc = tcase_create("names");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, the_documented_examples_map_as_the_manual_says);
	tcase_add_test(tc, every_vdds_name_up_to_three_bytes_goes_and_comes_back);
	tcase_add_test(tc, the_longest_names_fit_and_longer_ones_are_refused);
	tcase_add_test(tc, a_dds_name_is_taken_back_only_if_it_is_a_vdds_names_image);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed ? 1 : 0;
}
