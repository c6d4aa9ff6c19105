/* vddsgst.h — what vddssink and vddssrc share: the layout of a sample on a
 * vdds topic carrying GStreamer buffers, and the plugin's element types.
 *
 * Every sample starts with one fixed header of VDDSGST_HDR_SIZE bytes, then
 * the buffer's bytes (the payload, 64-byte aligned like the slot):
 *
 *   0      16               56      64                               1024
 *   +------+----------------+-------+--------------------------------+---------
 *   | id   | pts dts dur    | flags | caps as a string, NUL ended    | payload
 *   | kind | offset off_end | len   | (caps_len bytes, at most 959)  | ...
 *   +------+----------------+-------+--------------------------------+---------
 *
 * Why the caps in every sample: a vdds type name is at most 63 bytes, too
 * short for caps; a side topic would have to be kept in step with the frames.
 * A reader that joins late (with the publisher's history, the last frame at
 * once) or after a caps change finds the caps of *this* frame in the frame
 * itself; caps_gen changes with each caps change, so a reader parses the
 * string only then. 1 KiB costs nothing next to a video frame.
 */
#ifndef VDDSGST_H
#define VDDSGST_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/base/gstpushsrc.h>
#include <stdint.h>

/* The publisher's type name: a subscriber that is not vddssrc, or a vddssrc
 * on a topic that is not vddssink's, is refused by the handshake (-EPROTO). */
#define VDDSGST_TYPE_NAME "gst-buffer-1"
#define VDDSGST_MAGIC 0x54534756u /* "VGST" little-endian */
#define VDDSGST_HDR_SIZE 1024u
#define VDDSGST_CAPS_MAX 960u /* bytes of caps string, NUL included */

enum vddsgst_kind {
	VDDSGST_KIND_BUFFER = 1, /* a buffer: payload follows */
	VDDSGST_KIND_EOS = 2,    /* end of stream: no payload */
};

struct vddsgst_hdr {
	uint32_t magic;       /* VDDSGST_MAGIC */
	uint16_t kind;        /* enum vddsgst_kind */
	uint16_t reserved;    /* 0 */
	uint32_t caps_gen;    /* +1 at each caps change of the writer */
	uint32_t caps_len;    /* bytes of caps[], NUL included */
	uint64_t pts;         /* GstClockTime; GST_CLOCK_TIME_NONE if none */
	uint64_t dts;         /* same */
	uint64_t duration;    /* same */
	uint64_t offset;      /* GST_BUFFER_OFFSET */
	uint64_t offset_end;  /* GST_BUFFER_OFFSET_END */
	uint32_t flags;       /* GstBufferFlags carried (VDDSGST_FLAGS) */
	uint32_t payload_len; /* bytes after the header */
	char caps[VDDSGST_CAPS_MAX];
};
_Static_assert(sizeof(struct vddsgst_hdr) == VDDSGST_HDR_SIZE, "header layout");
_Static_assert(VDDSGST_HDR_SIZE % 64 == 0, "payload stays slot-aligned");

/* The buffer flags that mean something to a reader in another pipeline. */
#define VDDSGST_FLAGS                                                                              \
	(GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_DELTA_UNIT | GST_BUFFER_FLAG_HEADER |           \
	 GST_BUFFER_FLAG_GAP | GST_BUFFER_FLAG_DROPPABLE | GST_BUFFER_FLAG_MARKER |                \
	 GST_BUFFER_FLAG_CORRUPTED | GST_BUFFER_FLAG_LIVE | GST_BUFFER_FLAG_DECODE_ONLY)

GType gst_vdds_sink_get_type(void);
GType gst_vdds_src_get_type(void);
#define GST_TYPE_VDDS_SINK (gst_vdds_sink_get_type())
#define GST_TYPE_VDDS_SRC (gst_vdds_src_get_type())

GST_DEBUG_CATEGORY_EXTERN(vddsgst_debug);

#endif /* VDDSGST_H */
