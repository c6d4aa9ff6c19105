/* vddssink.c — the vddssink element: publishes each buffer on a vdds topic,
 * its caps and timestamps in the sample's header (vddsgst.h), written in
 * place when upstream took a buffer from the pool it proposed (vddspool.h). */
#include "vddsgst.h"
#include "vddspool.h"

#include <gst/video/video.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#define GST_CAT_DEFAULT vddsgst_debug

typedef struct {
	GstBaseSink parent;
	/* properties (object lock) */
	gchar *topic;
	guint slots;
	gint overflow;
	guint history;
	gchar *group_access;
	guint64 slot_size;
	guint wait_subscribers;
	gboolean huge_pages;
	/* streaming state */
	VddsPubLink *link;
	GstAllocator *alloc;
	gchar *caps_str; /* object lock: the header's caps */
	guint32 caps_gen;
	gsize frame_size;
	gboolean waited;
	/* counters (atomic-free: object lock) */
	guint64 published, zero_copy, copied, dropped;
} GstVddsSink;

typedef struct {
	GstBaseSinkClass parent_class;
} GstVddsSinkClass;

G_DEFINE_TYPE(GstVddsSink, gst_vdds_sink, GST_TYPE_BASE_SINK)

enum {
	PROP_0,
	PROP_TOPIC,
	PROP_SLOTS,
	PROP_OVERFLOW,
	PROP_HISTORY,
	PROP_GROUP_ACCESS,
	PROP_SLOT_SIZE,
	PROP_WAIT_SUBSCRIBERS,
	PROP_HUGE_PAGES,
	PROP_STATS,
};

#define DEFAULT_SLOTS 8
#define DEFAULT_HISTORY 1

static GType vdds_overflow_get_type(void)
{
	static const GEnumValue values[] = {
		{ VDDS_OVERFLOW_BLOCK, "Wait for a reader to release a slot", "block" },
		{ VDDS_OVERFLOW_DROP_OLDEST,
		  "Take back the oldest frame queued for the reader holding most slots",
		  "drop-oldest" },
		{ VDDS_OVERFLOW_FAIL, "Drop the new frame", "fail" },
		{ 0, NULL, NULL },
	};
	static GType type;

	if (g_once_init_enter(&type))
		g_once_init_leave(&type, g_enum_register_static("GstVddsOverflow", values));
	return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
	"sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* The gid group-access names (a group name or a number), -1 if none. */
static gint64 vdds_sink_group(const gchar *s)
{
	struct group *gr;
	char *end;
	unsigned long gid;

	if (!s || !*s)
		return -1;
	gid = strtoul(s, &end, 10);
	if (*end == '\0')
		return (gint64)gid;
	gr = getgrnam(s);
	return gr ? (gint64)gr->gr_gid : -2;
}

static gboolean vdds_sink_open(GstVddsSink *self, gsize frame_size)
{
	struct vdds_pub_opts o;
	struct vdds_pub_stats st;
	vdds_pub *pub;
	gint64 gid;
	int err;

	memset(&o, 0, sizeof(o));
	GST_OBJECT_LOCK(self);
	o.slot_size = VDDSGST_HDR_SIZE + MAX(frame_size, self->slot_size);
	o.slot_count = self->slots;
	o.history = self->history;
	o.overflow = (uint32_t)self->overflow;
	o.huge_pages = self->huge_pages;
	gid = vdds_sink_group(self->group_access);
	GST_OBJECT_UNLOCK(self);
	o.type_name = VDDSGST_TYPE_NAME;
	if (gid == -2) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no group %s", self->group_access),
				  (NULL));
		return FALSE;
	}
	if (gid >= 0) {
		o.group_access = true;
		o.group = (uint32_t)gid;
	}
	if (!self->topic) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no topic set"), (NULL));
		return FALSE;
	}
	err = vdds_pub_open(&pub, self->topic, &o);
	if (err < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
				  ("cannot publish topic %s: %s", self->topic, vdds_strerror(err)),
				  ("%s", vdds_last_error_detail()));
		return FALSE;
	}
	self->link = vdds_pub_link_new(pub, o.slot_size - VDDSGST_HDR_SIZE, self->overflow);
	self->alloc = gst_vdds_allocator_new(self->link);
	/* huge pages asked for and not had is no error (normal pages work),
	 * but the user should learn why */
	vdds_pub_stats(pub, &st);
	if (o.huge_pages && !st.huge_pages)
		GST_WARNING_OBJECT(self, "huge pages not had: %s", st.huge_pages_note);
	GST_INFO_OBJECT(self, "topic %s: %u slots of %" G_GSIZE_FORMAT " bytes, huge pages: %s",
			self->topic, o.slot_count, o.slot_size, st.huge_pages_note);
	return TRUE;
}

/* Bytes a buffer of these caps needs: a raw video frame's size, else 0. */
static gsize vdds_caps_frame_size(GstCaps *caps)
{
	GstVideoInfo info;

	if (caps && gst_video_info_from_caps(&info, caps))
		return info.size;
	return 0;
}

static gboolean vdds_sink_set_caps(GstBaseSink *bs, GstCaps *caps)
{
	GstVddsSink *self = (GstVddsSink *)bs;
	gchar *str = gst_caps_to_string(caps);
	gsize need = vdds_caps_frame_size(caps);

	if (strlen(str) >= VDDSGST_CAPS_MAX) {
		GST_ELEMENT_ERROR(self, STREAM, FORMAT,
				  ("caps longer than %u bytes cannot travel", VDDSGST_CAPS_MAX - 1),
				  ("%s", str));
		g_free(str);
		return FALSE;
	}
	if (!need && !self->slot_size) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
				  ("slot-size must be set for caps that are not raw video"),
				  ("%s", str));
		g_free(str);
		return FALSE;
	}
	if (!self->link && !vdds_sink_open(self, need)) {
		g_free(str);
		return FALSE;
	}
	if (need > self->link->payload_max) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
				  ("frames of %" G_GSIZE_FORMAT
				   " bytes do not fit slots of %" G_GSIZE_FORMAT ": set slot-size",
				   need, self->link->payload_max),
				  ("%s", str));
		g_free(str);
		return FALSE;
	}
	GST_OBJECT_LOCK(self);
	g_free(self->caps_str);
	self->caps_str = str;
	self->caps_gen++;
	self->frame_size = need;
	GST_OBJECT_UNLOCK(self);
	GST_DEBUG_OBJECT(self, "caps %u: %s", self->caps_gen, str);
	return TRUE;
}

static gboolean vdds_sink_propose_allocation(GstBaseSink *bs, GstQuery *query)
{
	GstVddsSink *self = (GstVddsSink *)bs;
	GstCaps *caps;
	GstBufferPool *pool;
	GstStructure *config;
	gsize size;

	gst_query_parse_allocation(query, &caps, NULL);
	size = vdds_caps_frame_size(caps);
	if (!size || !self->link || size > self->link->payload_max)
		return TRUE; /* no pool: buffers are copied into slots */
	pool = gst_vdds_pool_new(self->alloc);
	config = gst_buffer_pool_get_config(pool);
	gst_buffer_pool_config_set_params(config, caps, (guint)size, 0, 0);
	if (!gst_buffer_pool_set_config(pool, config)) {
		gst_object_unref(pool);
		return TRUE;
	}
	gst_query_add_allocation_pool(query, pool, (guint)size, 0, 0);
	gst_query_add_allocation_param(query, self->alloc, NULL);
	gst_object_unref(pool);
	return TRUE;
}

static void vdds_fill_header(GstVddsSink *self, guint8 *slot, enum vddsgst_kind kind,
			     GstBuffer *buf, gsize len)
{
	struct vddsgst_hdr *h = (struct vddsgst_hdr *)slot;
	gsize caps_len;

	h->magic = VDDSGST_MAGIC;
	h->kind = (uint16_t)kind;
	h->reserved = 0;
	h->pts = buf ? GST_BUFFER_PTS(buf) : GST_CLOCK_TIME_NONE;
	h->dts = buf ? GST_BUFFER_DTS(buf) : GST_CLOCK_TIME_NONE;
	h->duration = buf ? GST_BUFFER_DURATION(buf) : GST_CLOCK_TIME_NONE;
	h->offset = buf ? GST_BUFFER_OFFSET(buf) : GST_BUFFER_OFFSET_NONE;
	h->offset_end = buf ? GST_BUFFER_OFFSET_END(buf) : GST_BUFFER_OFFSET_NONE;
	h->flags = buf ? (GST_BUFFER_FLAGS(buf) & VDDSGST_FLAGS) : 0;
	h->payload_len = (uint32_t)len;
	GST_OBJECT_LOCK(self);
	h->caps_gen = self->caps_gen;
	caps_len = self->caps_str ? strlen(self->caps_str) + 1 : 1;
	if (self->caps_str)
		memcpy(h->caps, self->caps_str, caps_len);
	else
		h->caps[0] = '\0';
	GST_OBJECT_UNLOCK(self);
	h->caps_len = (uint32_t)caps_len;
}

/* Before the first frame, wait-subscribers readers (a test, a recorder that
 * must see frame 1); flushing cuts it short. */
static GstFlowReturn vdds_sink_wait_subscribers(GstVddsSink *self)
{
	struct vdds_pub_stats st;

	while (!self->waited) {
		g_mutex_lock(&self->link->lock);
		vdds_pub_stats(self->link->pub, &st);
		g_mutex_unlock(&self->link->lock);
		if (st.subscribers >= self->wait_subscribers)
			self->waited = TRUE;
		else if (g_atomic_int_get(&self->link->flushing))
			return GST_FLOW_FLUSHING;
		else
			g_usleep(5000);
	}
	return GST_FLOW_OK;
}

/* Publish a copy of buf (or, without buf, an EOS marker) in a new loan. */
static GstFlowReturn vdds_sink_publish_copy(GstVddsSink *self, GstBuffer *buf,
					    enum vddsgst_kind kind)
{
	gsize len = buf ? gst_buffer_get_size(buf) : 0;
	guint8 *slot = NULL;
	int err;

	if (len > self->link->payload_max) {
		GST_ELEMENT_ERROR(self, RESOURCE, WRITE,
				  ("buffer of %" G_GSIZE_FORMAT
				   " bytes does not fit slots of %" G_GSIZE_FORMAT
				   ": set slot-size",
				   len, self->link->payload_max),
				  (NULL));
		return GST_FLOW_ERROR;
	}
	err = vdds_pub_link_loan(self->link, &slot);
	if (err == -EINTR)
		return GST_FLOW_FLUSHING;
	if (err == -EAGAIN || err == -ENOBUFS) {
		/* the overflow policy's answer: this frame is not sent */
		GST_OBJECT_LOCK(self);
		self->dropped++;
		GST_OBJECT_UNLOCK(self);
		return GST_FLOW_OK;
	}
	if (err < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("loan: %s", vdds_strerror(err)), (NULL));
		return GST_FLOW_ERROR;
	}
	vdds_fill_header(self, slot, kind, buf, len);
	if (buf)
		gst_buffer_extract(buf, 0, slot + VDDSGST_HDR_SIZE, len);
	g_mutex_lock(&self->link->lock);
	err = vdds_pub_publish(self->link->pub, slot, VDDSGST_HDR_SIZE + len);
	if (err < 0)
		vdds_pub_discard(self->link->pub, slot);
	g_mutex_unlock(&self->link->lock);
	if (err < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("publish: %s", vdds_strerror(err)),
				  (NULL));
		return GST_FLOW_ERROR;
	}
	GST_OBJECT_LOCK(self);
	self->published++;
	self->copied += buf ? 1 : 0;
	GST_OBJECT_UNLOCK(self);
	return GST_FLOW_OK;
}

static GstFlowReturn vdds_sink_render(GstBaseSink *bs, GstBuffer *buf)
{
	GstVddsSink *self = (GstVddsSink *)bs;
	GstMemory *mem;
	GstFlowReturn ret;
	int err;

	if (!self->link) {
		GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("buffer before caps"), (NULL));
		return GST_FLOW_NOT_NEGOTIATED;
	}
	ret = vdds_sink_wait_subscribers(self);
	if (ret != GST_FLOW_OK)
		return ret;
	mem = gst_buffer_n_memory(buf) == 1 ? gst_buffer_peek_memory(buf, 0) : NULL;
	if (!mem || !gst_vdds_memory_is_loan_of(mem, self->link))
		return vdds_sink_publish_copy(self, buf, VDDSGST_KIND_BUFFER);
	/* upstream wrote into our loan: the header goes before its bytes, and
	 * the slot is published where it lies */
	vdds_fill_header(self, gst_vdds_memory_slot(mem), VDDSGST_KIND_BUFFER, buf, mem->size);
	err = gst_vdds_memory_publish(mem, mem->size);
	if (err < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("publish: %s", vdds_strerror(err)),
				  (NULL));
		return GST_FLOW_ERROR;
	}
	GST_OBJECT_LOCK(self);
	self->published++;
	self->zero_copy++;
	GST_OBJECT_UNLOCK(self);
	return GST_FLOW_OK;
}

static gboolean vdds_sink_event(GstBaseSink *bs, GstEvent *event)
{
	GstVddsSink *self = (GstVddsSink *)bs;

	/* the readers' pipelines end too: EOS travels as a sample of its own */
	if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && self->link)
		vdds_sink_publish_copy(self, NULL, VDDSGST_KIND_EOS);
	return GST_BASE_SINK_CLASS(gst_vdds_sink_parent_class)->event(bs, event);
}

static gboolean vdds_sink_unlock(GstBaseSink *bs)
{
	GstVddsSink *self = (GstVddsSink *)bs;

	if (self->link)
		g_atomic_int_set(&self->link->flushing, 1);
	return TRUE;
}

static gboolean vdds_sink_unlock_stop(GstBaseSink *bs)
{
	GstVddsSink *self = (GstVddsSink *)bs;

	if (self->link)
		g_atomic_int_set(&self->link->flushing, 0);
	return TRUE;
}

static gboolean vdds_sink_start(GstBaseSink *bs)
{
	GstVddsSink *self = (GstVddsSink *)bs;

	self->waited = self->wait_subscribers == 0;
	GST_OBJECT_LOCK(self);
	self->published = self->zero_copy = self->copied = self->dropped = 0;
	GST_OBJECT_UNLOCK(self);
	return TRUE;
}

static gboolean vdds_sink_stop(GstBaseSink *bs)
{
	GstVddsSink *self = (GstVddsSink *)bs;
	struct vdds_pub_stats st;

	memset(&st, 0, sizeof(st));
	if (self->link) {
		g_mutex_lock(&self->link->lock);
		vdds_pub_stats(self->link->pub, &st);
		g_mutex_unlock(&self->link->lock);
	}
	/* blocked: how long the stream waited for readers to return slots,
	 * what a benchmark needs to tell waiting from work */
	GST_INFO_OBJECT(self,
			"published %" G_GUINT64_FORMAT " (zero-copy %" G_GUINT64_FORMAT
			", copied %" G_GUINT64_FORMAT "), dropped %" G_GUINT64_FORMAT
			", blocked %" G_GUINT64_FORMAT " loans for %" G_GUINT64_FORMAT " us",
			self->published, self->zero_copy, self->copied, self->dropped,
			(guint64)st.blocked, (guint64)(st.blocked_ns / 1000));
	/* the publisher closes when the last loan upstream still holds is
	 * freed (VddsPubLink); readers then see it leave */
	if (self->alloc)
		gst_object_unref(self->alloc);
	self->alloc = NULL;
	vdds_pub_link_unref(self->link);
	self->link = NULL;
	return TRUE;
}

static GstStructure *vdds_sink_stats(GstVddsSink *self)
{
	struct vdds_pub_stats st;

	memset(&st, 0, sizeof(st));
	if (self->link) {
		g_mutex_lock(&self->link->lock);
		vdds_pub_stats(self->link->pub, &st);
		g_mutex_unlock(&self->link->lock);
	}
	return gst_structure_new(
		"application/x-vddssink-stats", "published", G_TYPE_UINT64, self->published,
		"zero-copy", G_TYPE_UINT64, self->zero_copy, "copied", G_TYPE_UINT64, self->copied,
		"dropped", G_TYPE_UINT64, self->dropped, "subscribers", G_TYPE_UINT, st.subscribers,
		"overflow-dropped", G_TYPE_UINT64, st.dropped, "blocked", G_TYPE_UINT64, st.blocked,
		"blocked-ns", G_TYPE_UINT64, st.blocked_ns, "huge-pages", G_TYPE_BOOLEAN,
		(gboolean)st.huge_pages, NULL);
}

static void vdds_sink_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
	GstVddsSink *self = (GstVddsSink *)obj;

	GST_OBJECT_LOCK(self);
	switch (id) {
	case PROP_TOPIC:
		g_free(self->topic);
		self->topic = g_value_dup_string(v);
		break;
	case PROP_SLOTS: self->slots = g_value_get_uint(v); break;
	case PROP_OVERFLOW: self->overflow = g_value_get_enum(v); break;
	case PROP_HISTORY: self->history = g_value_get_uint(v); break;
	case PROP_GROUP_ACCESS:
		g_free(self->group_access);
		self->group_access = g_value_dup_string(v);
		break;
	case PROP_SLOT_SIZE: self->slot_size = g_value_get_uint64(v); break;
	case PROP_WAIT_SUBSCRIBERS: self->wait_subscribers = g_value_get_uint(v); break;
	case PROP_HUGE_PAGES: self->huge_pages = g_value_get_boolean(v); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec); break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void vdds_sink_get_property(GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
	GstVddsSink *self = (GstVddsSink *)obj;

	if (id == PROP_STATS) {
		GST_OBJECT_LOCK(self);
		g_value_take_boxed(v, vdds_sink_stats(self));
		GST_OBJECT_UNLOCK(self);
		return;
	}
	GST_OBJECT_LOCK(self);
	switch (id) {
	case PROP_TOPIC: g_value_set_string(v, self->topic); break;
	case PROP_SLOTS: g_value_set_uint(v, self->slots); break;
	case PROP_OVERFLOW: g_value_set_enum(v, self->overflow); break;
	case PROP_HISTORY: g_value_set_uint(v, self->history); break;
	case PROP_GROUP_ACCESS: g_value_set_string(v, self->group_access); break;
	case PROP_SLOT_SIZE: g_value_set_uint64(v, self->slot_size); break;
	case PROP_WAIT_SUBSCRIBERS: g_value_set_uint(v, self->wait_subscribers); break;
	case PROP_HUGE_PAGES: g_value_set_boolean(v, self->huge_pages); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec); break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void vdds_sink_finalize(GObject *obj)
{
	GstVddsSink *self = (GstVddsSink *)obj;

	g_free(self->topic);
	g_free(self->group_access);
	g_free(self->caps_str);
	G_OBJECT_CLASS(gst_vdds_sink_parent_class)->finalize(obj);
}

static void gst_vdds_sink_class_init(GstVddsSinkClass *klass)
{
	GObjectClass *oc = G_OBJECT_CLASS(klass);
	GstElementClass *ec = GST_ELEMENT_CLASS(klass);
	GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(klass);
	const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;

	oc->set_property = vdds_sink_set_property;
	oc->get_property = vdds_sink_get_property;
	oc->finalize = vdds_sink_finalize;
	g_object_class_install_property(
		oc, PROP_TOPIC,
		g_param_spec_string("topic", "Topic",
				    "vdds topic to publish on ([A-Za-z0-9_.-], at most 64 bytes)",
				    NULL, rw));
	g_object_class_install_property(
		oc, PROP_SLOTS,
		g_param_spec_uint("slots", "Slots",
				  "Frames in shared memory at once (each a frame's size plus "
				  "1 KiB of header): what the readers and upstream may hold",
				  2, 4096, DEFAULT_SLOTS, rw));
	g_object_class_install_property(
		oc, PROP_OVERFLOW,
		g_param_spec_enum("overflow", "Overflow",
				  "When no slot is free: wait for readers (block), take back "
				  "the oldest frame queued for the slowest reader "
				  "(drop-oldest), or drop the new frame (fail)",
				  vdds_overflow_get_type(), VDDS_OVERFLOW_BLOCK, rw));
	g_object_class_install_property(
		oc, PROP_HISTORY,
		g_param_spec_uint("history", "History",
				  "Last frames kept for readers that join later (they get them "
				  "at once, caps included); at most slots / 2",
				  0, 2048, DEFAULT_HISTORY, rw));
	g_object_class_install_property(
		oc, PROP_GROUP_ACCESS,
		g_param_spec_string("group-access", "Group access",
				    "Also let readers of another user in this group (a name "
				    "or a gid) subscribe; empty: only this user (and root)",
				    NULL, rw));
	g_object_class_install_property(
		oc, PROP_SLOT_SIZE,
		g_param_spec_uint64("slot-size", "Slot size",
				    "Bytes of buffer a slot holds; 0: a raw video frame of the "
				    "first caps. Needed for other caps, and for a later caps "
				    "change to bigger frames",
				    0, G_MAXUINT32, 0, rw));
	g_object_class_install_property(
		oc, PROP_WAIT_SUBSCRIBERS,
		g_param_spec_uint("wait-subscribers", "Wait for subscribers",
				  "Hold the first frame until this many readers are "
				  "connected (0: do not wait)",
				  0, VDDS_MAX_SUBSCRIBERS, 0, rw));
	g_object_class_install_property(
		oc, PROP_HUGE_PAGES,
		g_param_spec_boolean("huge-pages", "Huge pages",
				     "Put the slots on huge pages (vm.nr_hugepages must reserve "
				     "enough): a slot's first write faults in a few pages, not "
				     "thousands. Without enough, normal pages are used (a "
				     "warning says why; stats has huge-pages)",
				     FALSE, rw));
	g_object_class_install_property(
		oc, PROP_STATS,
		g_param_spec_boxed("stats", "Statistics",
				   "published, zero-copy (written in place by upstream), "
				   "copied, dropped (no slot), subscribers, overflow-dropped "
				   "(frames taken back from slow readers), blocked and blocked-ns "
				   "(loans that waited for a slot under block, and how long), "
				   "huge-pages (the slots are on huge pages)",
				   GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

	gst_element_class_add_static_pad_template(ec, &sink_template);
	gst_element_class_set_static_metadata(
		ec, "vdds sink", "Sink/Network",
		"Publish buffers to other processes through vdds shared memory, without a copy",
		"vdds");
	bc->set_caps = vdds_sink_set_caps;
	bc->propose_allocation = vdds_sink_propose_allocation;
	bc->render = vdds_sink_render;
	bc->event = vdds_sink_event;
	bc->unlock = vdds_sink_unlock;
	bc->unlock_stop = vdds_sink_unlock_stop;
	bc->start = vdds_sink_start;
	bc->stop = vdds_sink_stop;
	gst_type_mark_as_plugin_api(vdds_overflow_get_type(), 0);
}

static void gst_vdds_sink_init(GstVddsSink *self)
{
	self->slots = DEFAULT_SLOTS;
	self->history = DEFAULT_HISTORY;
	self->overflow = VDDS_OVERFLOW_BLOCK;
}
