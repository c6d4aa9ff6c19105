/* test_gst_elements.c — vddssink and vddssrc in one process, through GStreamer's
 * check framework (gst-check, libcheck): caps, timestamps, EOS, a caps change,
 * the pool's memory being vdds loans (the zero-copy path asserted), buffers
 * going back to vdds when downstream frees them. Exit 77 when the plugin or
 * videotestsrc cannot be found. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAPS_A "video/x-raw,format=I420,width=320,height=240,framerate=30/1"
#define CAPS_B "video/x-raw,format=RGBx,width=64,height=48,framerate=15/1"
#define SIZE_A ((gsize)320 * 240 * 3 / 2)
#define SIZE_B ((gsize)64 * 48 * 4)

static int topic_no;

/* A topic of its own per test: the tests run one by one, each in a fork. */
static gchar *new_topic(void)
{
	return g_strdup_printf("gst-%d-%d", (int)getpid(), topic_no++);
}

/* A reader (started first: it waits for the writer) and a writer that holds
 * its first frame until the reader is there. */
static void open_pair(const gchar *topic, const gchar *src_opts, GstHarness **src,
		      GstHarness **sink)
{
	gchar *s = g_strdup_printf("vddssrc topic=%s %s", topic, src_opts ? src_opts : "");
	gchar *k = g_strdup_printf("vddssink topic=%s sync=false wait-subscribers=1", topic);

	*src = gst_harness_new_parse(s);
	/* a harness does not start a source of its own accord */
	gst_harness_play(*src);
	*sink = gst_harness_new_parse(k);
	g_free(s);
	g_free(k);
}

static GstBuffer *make_buffer(gsize size, guint8 seed)
{
	GstBuffer *buf = gst_buffer_new_allocate(NULL, size, NULL);
	GstMapInfo map;
	gsize i;

	fail_unless(gst_buffer_map(buf, &map, GST_MAP_WRITE));
	for (i = 0; i < size; i++)
		map.data[i] = (guint8)(seed + i * 7);
	gst_buffer_unmap(buf, &map);
	return buf;
}

static gboolean same_bytes(GstBuffer *a, GstBuffer *b)
{
	GstMapInfo ma, mb;
	gboolean same;

	fail_unless(gst_buffer_map(a, &ma, GST_MAP_READ));
	fail_unless(gst_buffer_map(b, &mb, GST_MAP_READ));
	same = ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0;
	gst_buffer_unmap(a, &ma);
	gst_buffer_unmap(b, &mb);
	return same;
}

/* The next event of this type the reader pushed (others skipped). */
static GstEvent *pull_event_of(GstHarness *h, GstEventType type)
{
	for (;;) {
		GstEvent *ev = gst_harness_pull_event(h);

		fail_unless(ev != NULL, "no %s event", gst_event_type_get_name(type));
		if (GST_EVENT_TYPE(ev) == type)
			return ev;
		gst_event_unref(ev);
	}
}

/* The vdds element of a harness made by gst_harness_new_parse (a bin). */
static GstElement *vdds_element(GstHarness *h)
{
	GstElement *e = gst_harness_find_element(h, "vddssrc");

	if (!e)
		e = gst_harness_find_element(h, "vddssink");
	fail_unless(e != NULL);
	/* the harness holds it for as long as the test uses it */
	gst_object_unref(e);
	return e;
}

static guint64 stat_u64(GstElement *e, const gchar *field)
{
	GstStructure *st;
	guint64 v = 0;

	g_object_get(e, "stats", &st, NULL);
	fail_unless(gst_structure_get_uint64(st, field, &v), "no %s in stats", field);
	gst_structure_free(st);
	return v;
}

static guint stat_uint(GstElement *e, const gchar *field)
{
	GstStructure *st;
	guint v = 0;

	g_object_get(e, "stats", &st, NULL);
	fail_unless(gst_structure_get_uint(st, field, &v), "no %s in stats", field);
	gst_structure_free(st);
	return v;
}

GST_START_TEST(test_reader_gets_the_writers_caps_without_being_told)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *in, *out;
	GstEvent *ev;
	GstCaps *caps, *want = gst_caps_from_string(CAPS_A);

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	in = make_buffer(SIZE_A, 1);
	fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(in)), GST_FLOW_OK);
	out = gst_harness_pull(src);
	fail_unless(out != NULL);
	fail_unless(same_bytes(in, out));
	ev = pull_event_of(src, GST_EVENT_CAPS);
	gst_event_parse_caps(ev, &caps);
	fail_unless(gst_caps_is_equal(caps, want), "caps %" GST_PTR_FORMAT, caps);
	/* live, and a frame of 30/1 late at least */
	fail_unless_equals_uint64(gst_harness_query_latency(src), GST_SECOND / 30);
	gst_event_unref(ev);
	gst_buffer_unref(in);
	gst_buffer_unref(out);
	gst_caps_unref(want);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_timestamps_offsets_and_flags_travel_with_each_buffer)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	int i;

	/* the writer's times, not the arrival's */
	open_pair(topic, "do-timestamp=false", &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	for (i = 0; i < 3; i++) {
		GstBuffer *b = make_buffer(SIZE_A, (guint8)i);

		GST_BUFFER_PTS(b) = 1000 + i * 33;
		GST_BUFFER_DTS(b) = i == 1 ? GST_CLOCK_TIME_NONE : 900 + (guint64)i;
		GST_BUFFER_DURATION(b) = 33 + (guint64)i;
		GST_BUFFER_OFFSET(b) = 10 + (guint64)i;
		GST_BUFFER_OFFSET_END(b) = 11 + (guint64)i;
		if (i == 2)
			GST_BUFFER_FLAG_SET(b,
					    GST_BUFFER_FLAG_DELTA_UNIT | GST_BUFFER_FLAG_DISCONT);
		fail_unless_equals_int(gst_harness_push(sink, b), GST_FLOW_OK);
	}
	for (i = 0; i < 3; i++) {
		GstBuffer *b = gst_harness_pull(src);

		fail_unless(b != NULL);
		fail_unless_equals_uint64(GST_BUFFER_PTS(b), 1000 + i * 33);
		fail_unless_equals_uint64(GST_BUFFER_DTS(b),
					  i == 1 ? GST_CLOCK_TIME_NONE : 900 + (guint64)i);
		fail_unless_equals_uint64(GST_BUFFER_DURATION(b), 33 + (guint64)i);
		fail_unless_equals_uint64(GST_BUFFER_OFFSET(b), 10 + (guint64)i);
		fail_unless_equals_uint64(GST_BUFFER_OFFSET_END(b), 11 + (guint64)i);
		fail_unless_equals_int(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT),
				       i == 2);
		/* (basesrc marks the first buffer after start DISCONT itself) */
		if (i > 0)
			fail_unless_equals_int(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT),
					       i == 2);
		gst_buffer_unref(b);
	}
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_eos_of_the_writer_ends_the_reader)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *b;
	GstEvent *ev;

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	fail_unless_equals_int(gst_harness_push(sink, make_buffer(SIZE_A, 3)), GST_FLOW_OK);
	fail_unless(gst_harness_push_event(sink, gst_event_new_eos()));
	b = gst_harness_pull(src);
	fail_unless(b != NULL);
	gst_buffer_unref(b);
	/* the writer's pipeline is still there: EOS came in the topic */
	ev = pull_event_of(src, GST_EVENT_EOS);
	gst_event_unref(ev);
	fail_unless_equals_uint64(stat_u64(vdds_element(src), "received"), 1);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_a_caps_change_mid_stream_reaches_the_reader_in_order)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *a, *b, *out;
	GstEvent *ev;
	GstCaps *caps, *want_a = gst_caps_from_string(CAPS_A),
		       *want_b = gst_caps_from_string(CAPS_B);

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	a = make_buffer(SIZE_A, 4);
	fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(a)), GST_FLOW_OK);
	gst_harness_set_src_caps_str(sink, CAPS_B);
	b = make_buffer(SIZE_B, 5);
	fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(b)), GST_FLOW_OK);

	out = gst_harness_pull(src);
	fail_unless(same_bytes(a, out));
	gst_buffer_unref(out);
	out = gst_harness_pull(src);
	fail_unless(same_bytes(b, out));
	gst_buffer_unref(out);
	ev = pull_event_of(src, GST_EVENT_CAPS);
	gst_event_parse_caps(ev, &caps);
	fail_unless(gst_caps_is_equal(caps, want_a), "first caps %" GST_PTR_FORMAT, caps);
	gst_event_unref(ev);
	ev = pull_event_of(src, GST_EVENT_CAPS);
	gst_event_parse_caps(ev, &caps);
	fail_unless(gst_caps_is_equal(caps, want_b), "second caps %" GST_PTR_FORMAT, caps);
	gst_event_unref(ev);
	/* and the latency follows the new frame rate */
	fail_unless_equals_uint64(gst_harness_query_latency(src), GST_SECOND / 15);
	gst_buffer_unref(a);
	gst_buffer_unref(b);
	gst_caps_unref(want_a);
	gst_caps_unref(want_b);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_the_proposed_pool_gives_vdds_memory_published_without_a_copy)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstCaps *caps = gst_caps_from_string(CAPS_A);
	GstQuery *q = gst_query_new_allocation(caps, TRUE);
	GstBufferPool *pool = NULL;
	GstBuffer *b, *out, *ref;
	GstMapInfo map;
	guint size;

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps(sink, gst_caps_ref(caps));
	fail_unless(gst_pad_peer_query(sink->srcpad, q));
	fail_unless(gst_query_get_n_allocation_pools(q) >= 1, "no pool proposed");
	gst_query_parse_nth_allocation_pool(q, 0, &pool, &size, NULL, NULL);
	fail_unless(pool != NULL);
	fail_unless_equals_int(size, SIZE_A);
	fail_unless(gst_buffer_pool_set_active(pool, TRUE));
	fail_unless_equals_int(gst_buffer_pool_acquire_buffer(pool, &b, NULL), GST_FLOW_OK);
	fail_unless_equals_int(gst_buffer_n_memory(b), 1);
	fail_unless(gst_memory_is_type(gst_buffer_peek_memory(b, 0), "VddsLoan"),
		    "pool memory is %s", gst_buffer_peek_memory(b, 0)->allocator->mem_type);
	/* upstream writes into the loan... */
	fail_unless(gst_buffer_map(b, &map, GST_MAP_WRITE));
	memset(map.data, 0x5a, map.size);
	gst_buffer_unmap(b, &map);
	ref = make_buffer(SIZE_A, 0);
	gst_buffer_memset(ref, 0, 0x5a, SIZE_A);
	fail_unless_equals_int(gst_harness_push(sink, b), GST_FLOW_OK);
	/* ...which is published where it lies */
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "zero-copy"), 1);
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "copied"), 0);
	out = gst_harness_pull(src);
	fail_unless(same_bytes(ref, out));
	gst_buffer_unref(out);
	/* memory of upstream's own is copied, once */
	fail_unless_equals_int(gst_harness_push(sink, make_buffer(SIZE_A, 9)), GST_FLOW_OK);
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "zero-copy"), 1);
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "copied"), 1);
	out = gst_harness_pull(src);
	gst_buffer_unref(out);
	fail_unless(gst_buffer_pool_set_active(pool, FALSE));
	gst_object_unref(pool);
	gst_buffer_unref(ref);
	gst_query_unref(q);
	gst_caps_unref(caps);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_videotestsrc_writes_straight_into_shared_memory)
{
	gchar *topic = new_topic();
	gchar *line = g_strdup_printf("videotestsrc num-buffers=20 ! " CAPS_A
				      " ! vddssink name=s sync=false topic=%s",
				      topic);
	GstElement *pipe = gst_parse_launch(line, NULL);
	GstElement *s;
	GstMessage *m;

	fail_unless(pipe != NULL);
	s = gst_bin_get_by_name(GST_BIN(pipe), "s");
	fail_unless_equals_int(gst_element_set_state(pipe, GST_STATE_PLAYING),
			       GST_STATE_CHANGE_ASYNC);
	m = gst_bus_timed_pop_filtered(GST_ELEMENT_BUS(pipe), 30 * GST_SECOND,
				       GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	fail_unless(m != NULL && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS);
	gst_message_unref(m);
	/* every frame took the pool path: no copy counted */
	fail_unless_equals_uint64(stat_u64(s, "zero-copy"), 20);
	fail_unless_equals_uint64(stat_u64(s, "copied"), 0);
	gst_element_set_state(pipe, GST_STATE_NULL);
	gst_object_unref(s);
	gst_object_unref(pipe);
	g_free(line);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_buffers_go_back_to_vdds_when_downstream_frees_them)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *held[4];
	int i;

	open_pair(topic, "max-held=3", &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	for (i = 0; i < 4; i++)
		fail_unless_equals_int(gst_harness_push(sink, make_buffer(SIZE_A, (guint8)i)),
				       GST_FLOW_OK);
	for (i = 0; i < 3; i++) {
		held[i] = gst_harness_pull(src);
		fail_unless(held[i] != NULL);
	}
	/* the buffers are the samples: as many held in vdds as alive here */
	fail_unless_equals_int(stat_uint(vdds_element(src), "held"), 3);
	/* max-held: the fourth waits for one of them to be freed */
	g_usleep(200000);
	fail_unless(gst_harness_try_pull(src) == NULL, "max-held=3 let a fourth through");
	gst_buffer_unref(held[0]);
	held[3] = gst_harness_pull(src);
	fail_unless(held[3] != NULL);
	fail_unless_equals_int(stat_uint(vdds_element(src), "held"), 3);
	for (i = 1; i < 4; i++)
		gst_buffer_unref(held[i]);
	fail_unless_equals_int(stat_uint(vdds_element(src), "held"), 0);
	fail_unless_equals_uint64(stat_u64(vdds_element(src), "received"), 4);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_depth_skips_to_the_newest_frames)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *first, *in[4], *out;
	int i;

	/* max-held=1 keeps frames 1..3 queued while frame 0 is held */
	open_pair(topic, "depth=1 max-held=1", &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	for (i = 0; i < 4; i++)
		in[i] = make_buffer(SIZE_A, (guint8)(10 + i));
	fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(in[0])), GST_FLOW_OK);
	first = gst_harness_pull(src);
	fail_unless(same_bytes(in[0], first));
	for (i = 1; i < 4; i++)
		fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(in[i])), GST_FLOW_OK);
	gst_buffer_unref(first);
	/* 1 and 2 had a newer frame behind them: skipped */
	out = gst_harness_pull(src);
	fail_unless(same_bytes(in[3], out));
	fail_unless_equals_uint64(stat_u64(vdds_element(src), "skipped"), 2);
	gst_buffer_unref(out);
	for (i = 0; i < 4; i++)
		gst_buffer_unref(in[i]);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

GST_START_TEST(test_a_buffer_outlives_its_source_element)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstBuffer *in = make_buffer(SIZE_A, 7), *out;

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps_str(sink, CAPS_A);
	fail_unless_equals_int(gst_harness_push(sink, gst_buffer_ref(in)), GST_FLOW_OK);
	out = gst_harness_pull(src);
	gst_harness_teardown(src);
	gst_harness_teardown(sink);
	/* the subscription lives until its last buffer is freed */
	fail_unless(same_bytes(in, out));
	gst_buffer_unref(out);
	gst_buffer_unref(in);
	g_free(topic);
}
GST_END_TEST;

/* A slot's first write faults in its pages (3000 for a 4K frame): the pool
 * must loan the slot the reader just returned, not every slot in turn. With
 * history 1 and a reader that frees each frame before the next is made, two
 * slots are enough; the library alone hands out all 8 before reusing one. */
GST_START_TEST(test_the_pool_reuses_the_slot_the_reader_returned)
{
	gchar *topic = new_topic();
	GstHarness *src, *sink;
	GstCaps *caps = gst_caps_from_string(CAPS_A);
	GstQuery *q = gst_query_new_allocation(caps, TRUE);
	GstBufferPool *pool = NULL;
	gpointer seen[8] = { NULL };
	guint n_seen = 0, i, j;

	open_pair(topic, NULL, &src, &sink);
	gst_harness_set_src_caps(sink, gst_caps_ref(caps));
	fail_unless(gst_pad_peer_query(sink->srcpad, q));
	gst_query_parse_nth_allocation_pool(q, 0, &pool, NULL, NULL, NULL);
	fail_unless(pool != NULL);
	fail_unless(gst_buffer_pool_set_active(pool, TRUE));
	for (i = 0; i < 24; i++) {
		GstBuffer *b, *out;
		GstMapInfo map;

		fail_unless_equals_int(gst_buffer_pool_acquire_buffer(pool, &b, NULL), GST_FLOW_OK);
		fail_unless(gst_memory_is_type(gst_buffer_peek_memory(b, 0), "VddsLoan"));
		fail_unless(gst_buffer_map(b, &map, GST_MAP_WRITE));
		for (j = 0; j < n_seen && seen[j] != map.data; j++)
			;
		if (j == n_seen) {
			fail_unless(n_seen < G_N_ELEMENTS(seen), "more slots than the topic has");
			seen[n_seen++] = map.data;
		}
		memset(map.data, (int)i, map.size);
		gst_buffer_unmap(b, &map);
		fail_unless_equals_int(gst_harness_push(sink, b), GST_FLOW_OK);
		out = gst_harness_pull(src);
		fail_unless(out != NULL);
		gst_buffer_unref(out);
	}
	fail_unless(n_seen <= 3, "24 frames, one at a time, went through %u slots", n_seen);
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "zero-copy"), 24);
	fail_unless(gst_buffer_pool_set_active(pool, FALSE));
	gst_object_unref(pool);
	gst_query_unref(q);
	gst_caps_unref(caps);
	gst_harness_teardown(sink);
	gst_harness_teardown(src);
	g_free(topic);
}
GST_END_TEST;

/* huge-pages: asked for without huge pages reserved, the topic still works
 * on normal pages, and stats says which it got. */
GST_START_TEST(test_huge_pages_fall_back_to_normal_pages)
{
	gchar *topic = new_topic();
	gchar *k = g_strdup_printf("vddssink topic=%s sync=false huge-pages=true", topic);
	GstHarness *sink = gst_harness_new_parse(k);
	GstStructure *st;
	gboolean huge = FALSE;
	gchar *nr = NULL;
	guint64 reserved;

	gst_harness_set_src_caps_str(sink, CAPS_A);
	fail_unless_equals_int(gst_harness_push(sink, make_buffer(SIZE_A, 3)), GST_FLOW_OK);
	g_object_get(vdds_element(sink), "stats", &st, NULL);
	fail_unless(gst_structure_get_boolean(st, "huge-pages", &huge));
	gst_structure_free(st);
	fail_unless_equals_uint64(stat_u64(vdds_element(sink), "published"), 1);
	/* had exactly when the machine reserves some (we cannot tell how many
	 * are free to us, so only the none-reserved case is checked) */
	if (g_file_get_contents("/proc/sys/vm/nr_hugepages", &nr, NULL, NULL)) {
		reserved = g_ascii_strtoull(nr, NULL, 10);
		if (reserved == 0)
			fail_if(huge, "huge pages had with vm.nr_hugepages 0");
		g_free(nr);
	}
	gst_harness_teardown(sink);
	g_free(k);
	g_free(topic);
}
GST_END_TEST;

static Suite *vddsgst_suite(void)
{
	Suite *s = suite_create("vddsgst");
	TCase *tc = tcase_create("elements");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reader_gets_the_writers_caps_without_being_told);
	tcase_add_test(tc, test_timestamps_offsets_and_flags_travel_with_each_buffer);
	tcase_add_test(tc, test_eos_of_the_writer_ends_the_reader);
	tcase_add_test(tc, test_a_caps_change_mid_stream_reaches_the_reader_in_order);
	tcase_add_test(tc, test_the_proposed_pool_gives_vdds_memory_published_without_a_copy);
	tcase_add_test(tc, test_videotestsrc_writes_straight_into_shared_memory);
	tcase_add_test(tc, test_buffers_go_back_to_vdds_when_downstream_frees_them);
	tcase_add_test(tc, test_depth_skips_to_the_newest_frames);
	tcase_add_test(tc, test_a_buffer_outlives_its_source_element);
	tcase_add_test(tc, test_the_pool_reuses_the_slot_the_reader_returned);
	tcase_add_test(tc, test_huge_pages_fall_back_to_normal_pages);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/vdds-gst-XXXXXX";
	const char *need[] = { "vddssink", "vddssrc", "videotestsrc" };
	size_t i;
	int failed;

	gst_check_init(&argc, &argv);
	for (i = 0; i < G_N_ELEMENTS(need); i++) {
		GstElementFactory *f = gst_element_factory_find(need[i]);

		if (!f) {
			printf("SKIP: GStreamer element %s not found (GST_PLUGIN_PATH=%s)\n",
			       need[i], g_getenv("GST_PLUGIN_PATH"));
			return 77;
		}
		gst_object_unref(f);
	}
	/* a runtime directory of its own: no other test's topics */
	if (!mkdtemp(dir))
		return 1;
	g_setenv("VDDS_DIR", dir, TRUE);
	failed = gst_check_run_suite(vddsgst_suite(), "vddsgst", __FILE__);
	g_spawn_command_line_sync(g_strdup_printf("rm -rf %s", dir), NULL, NULL, NULL, NULL);
	return failed ? 1 : 0;
}
