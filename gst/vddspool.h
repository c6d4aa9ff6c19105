/* vddspool.h — vddssink's way into shared memory: a refcounted publisher
 * (VddsPubLink), a GstAllocator whose memories are vdds loans, and the buffer
 * pool vddssink proposes upstream so that frames are written in place. */
#ifndef VDDSPOOL_H
#define VDDSPOOL_H

#include <gst/gst.h>
#include <vdds.h>

/* A publisher shared by the sink, its allocator and every loaned memory: a
 * memory may outlive the sink (upstream frees its pool last), and its slot
 * must stay valid until then, so the publisher closes with the last ref.
 * vdds handles are used by one thread at a time: lock serialises the
 * streaming threads (upstream's loans, the sink's publishes, frees). */
typedef struct VddsPubLink {
	gint refs;
	GMutex lock;
	vdds_pub *pub;
	gsize payload_max; /* slot bytes after the header */
	gint overflow;     /* enum vdds_overflow */
	gint flushing;     /* atomic: a waiting loan gives up */
} VddsPubLink;

VddsPubLink *vdds_pub_link_new(vdds_pub *pub, gsize payload_max, gint overflow);
VddsPubLink *vdds_pub_link_ref(VddsPubLink *link);
void vdds_pub_link_unref(VddsPubLink *link);
/* Loan a slot (the whole slot, header first); waits as the overflow policy
 * says, giving up with -EINTR when flushing. 0 or a negative errno. */
int vdds_pub_link_loan(VddsPubLink *link, guint8 **slot);

#define GST_VDDS_MEMORY_TYPE "VddsLoan"

/* Memory of this allocator: a loaned slot, the payload at offset
 * VDDSGST_HDR_SIZE. Freed unpublished, it is discarded (the slot goes back). */
GstAllocator *gst_vdds_allocator_new(VddsPubLink *link);
/* A loaned slot's memory, or NULL when there is no free slot (-err in *err). */
GstMemory *gst_vdds_allocator_loan(GstAllocator *alloc, gsize size, int *err);
/* TRUE when mem is a whole loan of link not yet published: publishable in place. */
gboolean gst_vdds_memory_is_loan_of(GstMemory *mem, VddsPubLink *link);
/* The slot's start (where the header goes) of such a memory. */
guint8 *gst_vdds_memory_slot(GstMemory *mem);
/* Publish len payload bytes of such a memory (its header already written):
 * afterwards it is the readers', freeing it gives nothing back. */
int gst_vdds_memory_publish(GstMemory *mem, gsize len);
gboolean gst_vdds_memory_is_published(GstMemory *mem);

/* A pool of buffers of one vdds loan each. A buffer published goes away when
 * freed (its slot is the readers'); one not published returns to the pool. */
GstBufferPool *gst_vdds_pool_new(GstAllocator *alloc);

#endif /* VDDSPOOL_H */
