/* vddssrc.c — the vddssrc element: a live source whose buffers wrap the
 * samples of a vdds topic written by vddssink (read-only, released back to
 * the publisher when downstream frees them), with the caps each sample
 * carries (vddsgst.h). */
#include "vddsgst.h"

#include <vdds.h>
#include <gst/video/video.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT vddsgst_debug

/* A subscriber shared by the element and every buffer it made: a buffer may
 * outlive the element, and releases from downstream's threads. vdds handles
 * are used by one thread at a time: lock. wake_fd wakes a create() that
 * waits (a release when max-held was reached; unlock). A release writes it
 * only while create() waits for one (wants_release, under lock): a write
 * per frame would cost a syscall, and the next wait a wake-up for nothing. */
typedef struct {
	gint refs;
	GMutex lock;
	vdds_sub *sub;
	int wake_fd;
	gint held;
	gboolean wants_release;
} VddsSubLink;

typedef struct {
	VddsSubLink *link;
	struct vdds_sample s;
} VddsHeld;

enum { VDDS_GONE_EOS = 0, VDDS_GONE_ERROR = 1 };

typedef struct {
	GstPushSrc parent;
	/* properties (object lock) */
	gchar *topic;
	guint depth;
	guint max_held;
	gint on_gone;
	/* streaming state */
	VddsSubLink *link; /* NULL while no publisher */
	int wake_fd;       /* unlock() writes it; a link borrows it */
	int inotify_fd;
	int watch; /* inotify watch of the runtime directory, or -1 */
	gint flushing;
	GstCaps *caps;
	guint32 caps_gen;
	guint32 epoch;
	GstClockTime frame_dur;
	guint64 received, skipped;
} GstVddsSrc;

typedef struct {
	GstPushSrcClass parent_class;
} GstVddsSrcClass;

G_DEFINE_TYPE(GstVddsSrc, gst_vdds_src, GST_TYPE_PUSH_SRC)

enum {
	PROP_0,
	PROP_TOPIC,
	PROP_DEPTH,
	PROP_MAX_HELD,
	PROP_ON_PUBLISHER_GONE,
	PROP_STATS,
};

static GType vdds_gone_get_type(void)
{
	static const GEnumValue values[] = {
		{ VDDS_GONE_EOS, "End of stream", "eos" },
		{ VDDS_GONE_ERROR, "Error", "error" },
		{ 0, NULL, NULL },
	};
	static GType type;

	if (g_once_init_enter(&type))
		g_once_init_leave(&type, g_enum_register_static("GstVddsPublisherGone", values));
	return type;
}

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
	"src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static VddsSubLink *vdds_sub_link_ref(VddsSubLink *link)
{
	g_atomic_int_inc(&link->refs);
	return link;
}

static void vdds_sub_link_unref(VddsSubLink *link)
{
	if (!link || !g_atomic_int_dec_and_test(&link->refs))
		return;
	vdds_sub_close(link->sub);
	close(link->wake_fd);
	g_mutex_clear(&link->lock);
	g_free(link);
}

static void vdds_wake(int fd)
{
	uint64_t one = 1;

	/* a full counter is still readable: nothing lost */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void vdds_drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;
}

static void vdds_held_free(gpointer data)
{
	VddsHeld *h = data;
	VddsSubLink *link = h->link;
	gboolean wake;

	g_mutex_lock(&link->lock);
	vdds_sub_release(link->sub, &h->s);
	wake = link->wants_release;
	g_mutex_unlock(&link->lock);
	g_atomic_int_add(&link->held, -1);
	if (wake)
		vdds_wake(link->wake_fd);
	g_free(h);
	vdds_sub_link_unref(link);
}

/* The runtime directory vdds_pub_open() uses (see vdds.h). */
static gchar *vdds_runtime_dir(void)
{
	const char *d = g_getenv("VDDS_DIR");
	const char *x = g_getenv("XDG_RUNTIME_DIR");

	if (d && *d)
		return g_strdup(d);
	if (x && *x)
		return g_strdup_printf("%s/vdds", x);
	return g_strdup_printf("/tmp/vdds-%u", (unsigned)getuid());
}

/* Subscribe: 0, -ENOENT (no publisher yet) or another error (posted). */
static int vdds_src_try_open(GstVddsSrc *self)
{
	struct vdds_sub_opts o;
	VddsSubLink *link;
	vdds_sub *sub;
	int err, wake;

	memset(&o, 0, sizeof(o));
	o.type_name = VDDSGST_TYPE_NAME;
	GST_OBJECT_LOCK(self);
	o.max_held = self->max_held;
	GST_OBJECT_UNLOCK(self);
	err = vdds_sub_open(&sub, self->topic, &o);
	if (err == -ENOENT)
		return err;
	if (err < 0) {
		GST_ELEMENT_ERROR(
			self, RESOURCE, OPEN_READ,
			("cannot subscribe to topic %s: %s", self->topic, vdds_strerror(err)),
			("%s", vdds_last_error_detail()));
		return err;
	}
	/* asked for once, the fd stays readable exactly when take() has news */
	vdds_sub_fd(sub);
	wake = dup(self->wake_fd);
	if (wake < 0) {
		vdds_sub_close(sub);
		GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("dup: %s", g_strerror(errno)),
				  (NULL));
		return -errno;
	}
	link = g_new0(VddsSubLink, 1);
	link->refs = 1;
	g_mutex_init(&link->lock);
	link->sub = sub;
	link->wake_fd = wake;
	self->link = link;
	GST_INFO_OBJECT(self, "subscribed to %s", self->topic);
	return 0;
}

/* Wait for a publisher: inotify on the runtime directory when it exists (a
 * socket appearing wakes us), and a 100 ms timer anyway (the directory may
 * not exist yet, or be replaced). The watch is kept between calls: removing
 * it queues an IN_IGNORED event, which would wake the next poll at once.
 * FALSE when flushing. */
static gboolean vdds_src_wait_publisher(GstVddsSrc *self)
{
	struct pollfd p[2];
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (self->inotify_fd >= 0 && self->watch < 0) {
		gchar *dir = vdds_runtime_dir();

		self->watch = inotify_add_watch(self->inotify_fd, dir,
						IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
		g_free(dir);
	}
	p[0].fd = self->wake_fd;
	p[0].events = POLLIN;
	p[1].fd = self->watch >= 0 ? self->inotify_fd : -1;
	p[1].events = POLLIN;
	poll(p, 2, 100);
	while (self->watch >= 0 && (n = read(self->inotify_fd, ev, sizeof(ev))) > 0) {
		const char *at = ev;

		/* the directory went (or was replaced): watch it anew */
		while (at + sizeof(struct inotify_event) <= ev + n) {
			const struct inotify_event *e = (const struct inotify_event *)at;

			if (e->mask & IN_IGNORED)
				self->watch = -1;
			at += sizeof(*e) + e->len;
		}
	}
	return !g_atomic_int_get(&self->flushing);
}

/* Wait until take() may have news (sample, death), a release when held is
 * the limit, or unlock. FALSE when flushing. */
static gboolean vdds_src_wait_sample(GstVddsSrc *self, gboolean for_release)
{
	struct pollfd p[2];
	int n = 1;

	p[0].fd = self->link->wake_fd;
	p[0].events = POLLIN;
	if (!for_release) {
		g_mutex_lock(&self->link->lock);
		p[1].fd = vdds_sub_fd(self->link->sub);
		g_mutex_unlock(&self->link->lock);
		p[1].events = POLLIN;
		n = 2;
	}
	/* the timeout is a backstop only: every event above wakes us */
	if (poll(p, n, 1000) > 0 && (p[0].revents & POLLIN))
		vdds_drain(self->link->wake_fd);
	return !g_atomic_int_get(&self->flushing);
}

/* Adopt the caps a sample carries when they are new: the header is the
 * writer's, read once into private memory and checked there. */
static GstFlowReturn vdds_src_adopt_caps(GstVddsSrc *self, const struct vddsgst_hdr *shared,
					 uint32_t epoch)
{
	char caps_str[VDDSGST_CAPS_MAX];
	uint32_t gen, len;
	GstCaps *caps;
	GstVideoInfo info;

	gen = shared->caps_gen;
	len = shared->caps_len;
	if (self->caps && gen == self->caps_gen && epoch == self->epoch)
		return GST_FLOW_OK;
	if (len == 0 || len > VDDSGST_CAPS_MAX)
		goto bad;
	memcpy(caps_str, shared->caps, len);
	caps_str[len - 1] = '\0';
	caps = gst_caps_from_string(caps_str);
	if (!caps || !gst_caps_is_fixed(caps)) {
		if (caps)
			gst_caps_unref(caps);
		goto bad;
	}
	self->caps_gen = gen;
	self->epoch = epoch;
	if (self->caps && gst_caps_is_equal(caps, self->caps)) {
		gst_caps_unref(caps);
		return GST_FLOW_OK;
	}
	GST_DEBUG_OBJECT(self, "caps %u: %" GST_PTR_FORMAT, gen, caps);
	self->frame_dur = GST_CLOCK_TIME_NONE;
	if (gst_video_info_from_caps(&info, caps) && info.fps_n > 0)
		self->frame_dur = gst_util_uint64_scale_int(GST_SECOND, info.fps_d, info.fps_n);
	gst_caps_replace(&self->caps, caps);
	if (!gst_base_src_set_caps(GST_BASE_SRC(self), caps)) {
		gst_caps_unref(caps);
		return GST_FLOW_NOT_NEGOTIATED;
	}
	gst_caps_unref(caps);
	return GST_FLOW_OK;
bad:
	GST_ELEMENT_ERROR(self, STREAM, DECODE, ("sample with unreadable caps"), (NULL));
	return GST_FLOW_ERROR;
}

/* Build the buffer around a taken sample: no copy, the sample is released
 * when the buffer's memory is freed. */
static GstBuffer *vdds_src_wrap(GstVddsSrc *self, const struct vdds_sample *s,
				const struct vddsgst_hdr *h, gsize len)
{
	VddsHeld *held = g_new0(VddsHeld, 1);
	GstBuffer *buf = gst_buffer_new();
	GstMemory *mem;

	held->link = vdds_sub_link_ref(self->link);
	held->s = *s;
	g_atomic_int_inc(&self->link->held);
	mem = gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, (gpointer)s->data,
				     VDDSGST_HDR_SIZE + len, VDDSGST_HDR_SIZE, len, held,
				     vdds_held_free);
	gst_buffer_append_memory(buf, mem);
	/* do-timestamp (the default): the writer's times are of its own
	 * running time, which means nothing to this pipeline's clock (a sink
	 * that syncs would wait for the writer's uptime); basesrc stamps
	 * the arrival instead of an unset time */
	if (gst_base_src_get_do_timestamp(GST_BASE_SRC(self))) {
		GST_BUFFER_PTS(buf) = GST_CLOCK_TIME_NONE;
		GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
	} else {
		GST_BUFFER_PTS(buf) = h->pts;
		GST_BUFFER_DTS(buf) = h->dts;
	}
	GST_BUFFER_DURATION(buf) = h->duration;
	GST_BUFFER_OFFSET(buf) = h->offset;
	GST_BUFFER_OFFSET_END(buf) = h->offset_end;
	GST_BUFFER_FLAGS(buf) = h->flags & VDDSGST_FLAGS;
	return buf;
}

/* The publisher left: EOS or an error, as on-publisher-gone says. */
static GstFlowReturn vdds_src_gone(GstVddsSrc *self, int err)
{
	if (self->on_gone == VDDS_GONE_EOS && err == -EPIPE) {
		GST_INFO_OBJECT(self, "publisher gone: end of stream");
		return GST_FLOW_EOS;
	}
	GST_ELEMENT_ERROR(self, RESOURCE, READ,
			  ("topic %s: %s", self->topic,
			   err == -EPIPE ? "publisher gone" : vdds_strerror(err)),
			  (NULL));
	return GST_FLOW_ERROR;
}

/* One sample taken: 0 a buffer in *out, >0 none (skipped, try again). */
static GstFlowReturn vdds_src_use(GstVddsSrc *self, struct vdds_sample *s, GstBuffer **out,
				  gboolean *again)
{
	const struct vddsgst_hdr *shared = s->data;
	uint32_t magic, kind;
	struct vddsgst_hdr h;
	struct vdds_sub_stats st;
	GstFlowReturn ret;

	*again = FALSE;
	if (s->len < VDDSGST_HDR_SIZE)
		goto bad;
	/* the fixed part, read once: the writer may be anyone */
	memcpy(&h, shared, offsetof(struct vddsgst_hdr, caps));
	magic = h.magic;
	kind = h.kind;
	if (magic != VDDSGST_MAGIC || h.payload_len != s->len - VDDSGST_HDR_SIZE)
		goto bad;
	if (kind == VDDSGST_KIND_EOS) {
		vdds_sub_release(self->link->sub, s);
		return GST_FLOW_EOS;
	}
	if (kind != VDDSGST_KIND_BUFFER)
		goto bad;
	if (self->depth) {
		/* keep at most depth frames waiting: the older ones are skipped */
		vdds_sub_stats(self->link->sub, &st);
		if (st.queued >= self->depth) {
			vdds_sub_release(self->link->sub, s);
			self->skipped++;
			*again = TRUE;
			return GST_FLOW_OK;
		}
	}
	ret = vdds_src_adopt_caps(self, shared, s->epoch);
	if (ret != GST_FLOW_OK) {
		vdds_sub_release(self->link->sub, s);
		return ret;
	}
	*out = vdds_src_wrap(self, s, &h, s->len - VDDSGST_HDR_SIZE);
	self->received++;
	return GST_FLOW_OK;
bad:
	vdds_sub_release(self->link->sub, s);
	GST_ELEMENT_ERROR(self, STREAM, DECODE, ("topic %s: not a vddssink sample", self->topic),
			  (NULL));
	return GST_FLOW_ERROR;
}

static GstFlowReturn vdds_src_create(GstPushSrc *ps, GstBuffer **out)
{
	GstVddsSrc *self = (GstVddsSrc *)ps;
	struct vdds_sample s;
	GstFlowReturn ret;
	gboolean again;
	int err;

	for (;;) {
		if (g_atomic_int_get(&self->flushing))
			return GST_FLOW_FLUSHING;
		if (!self->link) {
			err = vdds_src_try_open(self);
			if (err == -ENOENT) {
				if (!vdds_src_wait_publisher(self))
					return GST_FLOW_FLUSHING;
				continue;
			}
			if (err < 0)
				return GST_FLOW_ERROR;
		}
		g_mutex_lock(&self->link->lock);
		err = vdds_sub_take(self->link->sub, &s);
		if (err == 0) {
			ret = vdds_src_use(self, &s, out, &again);
			g_mutex_unlock(&self->link->lock);
			if (ret != GST_FLOW_OK || !again)
				return ret;
			continue;
		}
		/* max-held reached: a release must wake us. Set under the lock
		 * take() failed under, so a release either came before it (and
		 * take() would have had its slot) or sees the flag */
		self->link->wants_release = err == -ENOBUFS;
		g_mutex_unlock(&self->link->lock);
		if (err == -EAGAIN || err == -ENOBUFS) {
			gboolean go_on = vdds_src_wait_sample(self, err == -ENOBUFS);

			if (err == -ENOBUFS) {
				g_mutex_lock(&self->link->lock);
				self->link->wants_release = FALSE;
				g_mutex_unlock(&self->link->lock);
			}
			if (!go_on)
				return GST_FLOW_FLUSHING;
			continue;
		}
		return vdds_src_gone(self, err);
	}
}

static GstCaps *vdds_src_get_caps(GstBaseSrc *bs, GstCaps *filter)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;
	GstCaps *caps;

	/* before the first sample: anything (ANY skips negotiation; the caps
	 * are set with the first sample) */
	GST_OBJECT_LOCK(self);
	caps = self->caps ? gst_caps_ref(self->caps) : gst_caps_new_any();
	GST_OBJECT_UNLOCK(self);
	if (filter) {
		GstCaps *c = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);

		gst_caps_unref(caps);
		caps = c;
	}
	return caps;
}

static gboolean vdds_src_query(GstBaseSrc *bs, GstQuery *query)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;
	GstClockTime min;

	if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY)
		return GST_BASE_SRC_CLASS(gst_vdds_src_parent_class)->query(bs, query);
	/* a frame arrives at most one frame period after it was made; and
	 * depth frames may queue (none with depth 0 counts as unbounded) */
	min = GST_CLOCK_TIME_IS_VALID(self->frame_dur) ? self->frame_dur : 0;
	gst_query_set_latency(query, TRUE, min,
			      self->depth && min ? min * (self->depth + 1) : GST_CLOCK_TIME_NONE);
	return TRUE;
}

static gboolean vdds_src_start(GstBaseSrc *bs)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;
	int err;

	if (!self->topic) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("no topic set"), (NULL));
		return FALSE;
	}
	self->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	self->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	self->watch = -1;
	if (self->wake_fd < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("eventfd: %s", g_strerror(errno)),
				  (NULL));
		return FALSE;
	}
	self->caps_gen = 0;
	self->epoch = 0;
	self->frame_dur = GST_CLOCK_TIME_NONE;
	self->received = self->skipped = 0;
	/* a publisher already there is subscribed now, so that it counts us
	 * before its first frame; else create() waits for one */
	err = vdds_src_try_open(self);
	return err == 0 || err == -ENOENT;
}

static gboolean vdds_src_stop(GstBaseSrc *bs)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;

	GST_INFO_OBJECT(self, "received %" G_GUINT64_FORMAT ", skipped %" G_GUINT64_FORMAT,
			self->received, self->skipped);
	vdds_sub_link_unref(self->link);
	self->link = NULL;
	if (self->inotify_fd >= 0)
		close(self->inotify_fd);
	if (self->wake_fd >= 0)
		close(self->wake_fd);
	self->inotify_fd = self->wake_fd = -1;
	gst_caps_replace(&self->caps, NULL);
	return TRUE;
}

static gboolean vdds_src_unlock(GstBaseSrc *bs)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;

	g_atomic_int_set(&self->flushing, 1);
	if (self->wake_fd >= 0)
		vdds_wake(self->wake_fd);
	if (self->link)
		vdds_wake(self->link->wake_fd);
	return TRUE;
}

static gboolean vdds_src_unlock_stop(GstBaseSrc *bs)
{
	GstVddsSrc *self = (GstVddsSrc *)bs;

	g_atomic_int_set(&self->flushing, 0);
	if (self->wake_fd >= 0)
		vdds_drain(self->wake_fd);
	return TRUE;
}

static GstStructure *vdds_src_stats(GstVddsSrc *self)
{
	struct vdds_sub_stats st;

	memset(&st, 0, sizeof(st));
	if (self->link) {
		g_mutex_lock(&self->link->lock);
		vdds_sub_stats(self->link->sub, &st);
		g_mutex_unlock(&self->link->lock);
	}
	return gst_structure_new("application/x-vddssrc-stats", "received", G_TYPE_UINT64,
				 self->received, "skipped", G_TYPE_UINT64, self->skipped, "lost",
				 G_TYPE_UINT64, st.lost, "held", G_TYPE_UINT, st.held, "queued",
				 G_TYPE_UINT, st.queued, NULL);
}

static void vdds_src_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
	GstVddsSrc *self = (GstVddsSrc *)obj;

	GST_OBJECT_LOCK(self);
	switch (id) {
	case PROP_TOPIC:
		g_free(self->topic);
		self->topic = g_value_dup_string(v);
		break;
	case PROP_DEPTH: self->depth = g_value_get_uint(v); break;
	case PROP_MAX_HELD: self->max_held = g_value_get_uint(v); break;
	case PROP_ON_PUBLISHER_GONE: self->on_gone = g_value_get_enum(v); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec); break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void vdds_src_get_property(GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
	GstVddsSrc *self = (GstVddsSrc *)obj;

	if (id == PROP_STATS) {
		g_value_take_boxed(v, vdds_src_stats(self));
		return;
	}
	GST_OBJECT_LOCK(self);
	switch (id) {
	case PROP_TOPIC: g_value_set_string(v, self->topic); break;
	case PROP_DEPTH: g_value_set_uint(v, self->depth); break;
	case PROP_MAX_HELD: g_value_set_uint(v, self->max_held); break;
	case PROP_ON_PUBLISHER_GONE: g_value_set_enum(v, self->on_gone); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec); break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void vdds_src_finalize(GObject *obj)
{
	GstVddsSrc *self = (GstVddsSrc *)obj;

	g_free(self->topic);
	gst_caps_replace(&self->caps, NULL);
	G_OBJECT_CLASS(gst_vdds_src_parent_class)->finalize(obj);
}

static void gst_vdds_src_class_init(GstVddsSrcClass *klass)
{
	GObjectClass *oc = G_OBJECT_CLASS(klass);
	GstElementClass *ec = GST_ELEMENT_CLASS(klass);
	GstBaseSrcClass *bc = GST_BASE_SRC_CLASS(klass);
	const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;

	oc->set_property = vdds_src_set_property;
	oc->get_property = vdds_src_get_property;
	oc->finalize = vdds_src_finalize;
	g_object_class_install_property(
		oc, PROP_TOPIC,
		g_param_spec_string("topic", "Topic",
				    "vdds topic to read (a vddssink's); waits for its publisher "
				    "if there is none yet",
				    NULL, rw));
	g_object_class_install_property(
		oc, PROP_DEPTH,
		g_param_spec_uint("depth", "Depth",
				  "Frames allowed to wait for downstream; older ones are "
				  "skipped to keep up (0: every frame is pushed)",
				  0, 4096, 0, rw));
	g_object_class_install_property(
		oc, PROP_MAX_HELD,
		g_param_spec_uint("max-held", "Max held",
				  "Buffers downstream may hold at once; past it the source "
				  "waits for one to be freed, so a slow downstream cannot pin "
				  "every slot (0: no limit)",
				  0, 4096, 0, rw));
	g_object_class_install_property(
		oc, PROP_ON_PUBLISHER_GONE,
		g_param_spec_enum("on-publisher-gone", "On publisher gone",
				  "What the publisher's death (or close without EOS) becomes "
				  "downstream",
				  vdds_gone_get_type(), VDDS_GONE_EOS, rw));
	g_object_class_install_property(
		oc, PROP_STATS,
		g_param_spec_boxed("stats", "Statistics",
				   "received, skipped (depth), lost (taken back by the writer's "
				   "drop-oldest), held (by downstream now), queued",
				   GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

	gst_element_class_add_static_pad_template(ec, &src_template);
	gst_element_class_set_static_metadata(
		ec, "vdds source", "Source/Network",
		"Receive buffers a vddssink publishes in another process, without a copy", "vdds");
	bc->get_caps = vdds_src_get_caps;
	bc->query = vdds_src_query;
	bc->start = vdds_src_start;
	bc->stop = vdds_src_stop;
	bc->unlock = vdds_src_unlock;
	bc->unlock_stop = vdds_src_unlock_stop;
	GST_PUSH_SRC_CLASS(klass)->create = vdds_src_create;
	gst_type_mark_as_plugin_api(vdds_gone_get_type(), 0);
}

static void gst_vdds_src_init(GstVddsSrc *self)
{
	gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
	gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
	gst_base_src_set_do_timestamp(GST_BASE_SRC(self), TRUE);
	self->wake_fd = self->inotify_fd = self->watch = -1;
	self->on_gone = VDDS_GONE_EOS;
}
