/* vddspool.c — vdds loans as GstMemory, and the buffer pool vddssink proposes
 * upstream, so that upstream writes each frame into a slot that is then
 * published where it lies (see vddspool.h). */
#include "vddspool.h"
#include "vddsgst.h"

VddsPubLink *vdds_pub_link_new(vdds_pub *pub, gsize payload_max, gint overflow)
{
	VddsPubLink *link = g_new0(VddsPubLink, 1);

	link->refs = 1;
	g_mutex_init(&link->lock);
	link->pub = pub;
	link->payload_max = payload_max;
	link->overflow = overflow;
	return link;
}

VddsPubLink *vdds_pub_link_ref(VddsPubLink *link)
{
	g_atomic_int_inc(&link->refs);
	return link;
}

void vdds_pub_link_unref(VddsPubLink *link)
{
	if (!link || !g_atomic_int_dec_and_test(&link->refs))
		return;
	/* the last loan is gone: readers now see the publisher leave */
	vdds_pub_close(link->pub);
	g_mutex_clear(&link->lock);
	g_free(link);
}

int vdds_pub_link_loan(VddsPubLink *link, guint8 **slot)
{
	/* BLOCK waits in short steps: the lock is held through vdds_pub_loan()
	 * (one thread per handle), and another streaming thread may need it to
	 * publish; between steps a flush gets its say */
	int timeout = link->overflow == VDDS_OVERFLOW_BLOCK ? 20 : 0;

	for (;;) {
		struct vdds_pub_stats st;
		void *buf = NULL;
		int err;

		g_mutex_lock(&link->lock);
		/* take back what readers returned first (vdds_pub_stats() is
		 * the public call that reclaims): vdds_pub_loan() only looks at
		 * returns when no slot is free, so it would hand out every slot
		 * once before reusing one, and a slot's first write faults in
		 * its pages (3000 of them for a 4K frame, and as many to free at
		 * the end). Reclaimed first, the slot just returned is loaned
		 * again and the few slots in flight stay hot */
		vdds_pub_stats(link->pub, &st);
		err = vdds_pub_loan(link->pub, &buf, timeout);
		g_mutex_unlock(&link->lock);
		if (err == 0) {
			*slot = buf;
			return 0;
		}
		if (err != -ETIMEDOUT)
			return err;
		if (g_atomic_int_get(&link->flushing))
			return -EINTR;
	}
}

/* ------------------------------------------------------------ the allocator */

typedef struct {
	GstMemory mem;
	VddsPubLink *link; /* the root memory's; NULL in a shared sub-memory */
	guint8 *slot;
	gboolean published;
} GstVddsMemory;

typedef struct {
	GstAllocator parent;
	VddsPubLink *link;
} GstVddsAllocator;

typedef struct {
	GstAllocatorClass parent_class;
} GstVddsAllocatorClass;

GType gst_vdds_allocator_get_type(void);
G_DEFINE_TYPE(GstVddsAllocator, gst_vdds_allocator, GST_TYPE_ALLOCATOR)

static GstVddsMemory *vdds_root(GstMemory *mem)
{
	return (GstVddsMemory *)(mem->parent ? mem->parent : mem);
}

GstMemory *gst_vdds_allocator_loan(GstAllocator *alloc, gsize size, int *err)
{
	GstVddsAllocator *self = (GstVddsAllocator *)alloc;
	GstVddsMemory *vm;
	guint8 *slot = NULL;
	int e;

	if (size > self->link->payload_max) {
		*err = -EMSGSIZE;
		return NULL;
	}
	e = vdds_pub_link_loan(self->link, &slot);
	if (e < 0) {
		*err = e;
		return NULL;
	}
	vm = g_new0(GstVddsMemory, 1);
	gst_memory_init(&vm->mem, 0, alloc, NULL, VDDSGST_HDR_SIZE + self->link->payload_max, 63,
			VDDSGST_HDR_SIZE, size);
	vm->link = vdds_pub_link_ref(self->link);
	vm->slot = slot;
	*err = 0;
	return &vm->mem;
}

static GstMemory *vdds_alloc(GstAllocator *alloc, gsize size, GstAllocationParams *params)
{
	int err;

	(void)params; /* slots are 64-byte aligned, and no prefix fits before a header */
	return gst_vdds_allocator_loan(alloc, size, &err);
}

static void vdds_free(GstAllocator *alloc, GstMemory *mem)
{
	GstVddsMemory *vm = (GstVddsMemory *)mem;

	(void)alloc;
	if (vm->link) {
		if (!vm->published) {
			g_mutex_lock(&vm->link->lock);
			vdds_pub_discard(vm->link->pub, vm->slot);
			g_mutex_unlock(&vm->link->lock);
		}
		vdds_pub_link_unref(vm->link);
	}
	g_free(vm);
}

static gpointer vdds_mem_map(GstMemory *mem, gsize maxsize, GstMapFlags flags)
{
	(void)maxsize;
	(void)flags;
	return vdds_root(mem)->slot;
}

static void vdds_mem_unmap(GstMemory *mem)
{
	(void)mem;
}

static GstMemory *vdds_mem_share(GstMemory *mem, gssize offset, gssize size)
{
	GstVddsMemory *root = vdds_root(mem);
	GstVddsMemory *sub = g_new0(GstVddsMemory, 1);

	if (size == -1)
		size = (gssize)mem->size - offset;
	/* a share is a view: it keeps the root (and so the loan) alive */
	gst_memory_init(&sub->mem, GST_MINI_OBJECT_FLAGS(mem) | GST_MINI_OBJECT_FLAG_LOCK_READONLY,
			mem->allocator, &root->mem, mem->maxsize, mem->align, mem->offset + offset,
			size);
	sub->slot = root->slot;
	return &sub->mem;
}

static GstMemory *vdds_mem_copy(GstMemory *mem, gssize offset, gssize size)
{
	GstMemory *copy;
	GstMapInfo map;

	if (size == -1)
		size = (gssize)mem->size > offset ? (gssize)mem->size - offset : 0;
	/* a copy is ordinary memory: it owns no slot */
	copy = gst_allocator_alloc(NULL, size, NULL);
	if (!copy || !gst_memory_map(copy, &map, GST_MAP_WRITE)) {
		if (copy)
			gst_memory_unref(copy);
		return NULL;
	}
	memcpy(map.data, vdds_root(mem)->slot + mem->offset + offset, size);
	gst_memory_unmap(copy, &map);
	return copy;
}

static void gst_vdds_allocator_finalize(GObject *obj)
{
	vdds_pub_link_unref(((GstVddsAllocator *)obj)->link);
	G_OBJECT_CLASS(gst_vdds_allocator_parent_class)->finalize(obj);
}

static void gst_vdds_allocator_class_init(GstVddsAllocatorClass *klass)
{
	GstAllocatorClass *ac = GST_ALLOCATOR_CLASS(klass);

	ac->alloc = vdds_alloc;
	ac->free = vdds_free;
	G_OBJECT_CLASS(klass)->finalize = gst_vdds_allocator_finalize;
}

static void gst_vdds_allocator_init(GstVddsAllocator *self)
{
	GstAllocator *a = GST_ALLOCATOR(self);

	a->mem_type = GST_VDDS_MEMORY_TYPE;
	a->mem_map = vdds_mem_map;
	a->mem_unmap = vdds_mem_unmap;
	a->mem_share = vdds_mem_share;
	a->mem_copy = vdds_mem_copy;
	GST_OBJECT_FLAG_SET(self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

GstAllocator *gst_vdds_allocator_new(VddsPubLink *link)
{
	GstVddsAllocator *self = g_object_new(gst_vdds_allocator_get_type(), NULL);

	gst_object_ref_sink(self);
	self->link = vdds_pub_link_ref(link);
	return GST_ALLOCATOR(self);
}

gboolean gst_vdds_memory_is_loan_of(GstMemory *mem, VddsPubLink *link)
{
	GstVddsMemory *vm = (GstVddsMemory *)mem;

	return gst_memory_is_type(mem, GST_VDDS_MEMORY_TYPE) && vm->link == link &&
	       !vm->published && mem->offset == VDDSGST_HDR_SIZE;
}

guint8 *gst_vdds_memory_slot(GstMemory *mem)
{
	return vdds_root(mem)->slot;
}

int gst_vdds_memory_publish(GstMemory *mem, gsize len)
{
	GstVddsMemory *vm = (GstVddsMemory *)mem;
	int err;

	g_mutex_lock(&vm->link->lock);
	err = vdds_pub_publish(vm->link->pub, vm->slot, VDDSGST_HDR_SIZE + len);
	g_mutex_unlock(&vm->link->lock);
	if (err == 0) {
		vm->published = TRUE;
		/* the readers' now: a write through this memory would change
		 * a frame under them */
		GST_MINI_OBJECT_FLAG_SET(mem, GST_MEMORY_FLAG_READONLY);
	}
	return err;
}

gboolean gst_vdds_memory_is_published(GstMemory *mem)
{
	return gst_memory_is_type(mem, GST_VDDS_MEMORY_TYPE) && vdds_root(mem)->published;
}

/* ----------------------------------------------------------------- the pool */

typedef struct {
	GstBufferPool parent;
	GstAllocator *alloc;
	guint size;
} GstVddsPool;

typedef struct {
	GstBufferPoolClass parent_class;
} GstVddsPoolClass;

GType gst_vdds_pool_get_type(void);
G_DEFINE_TYPE(GstVddsPool, gst_vdds_pool, GST_TYPE_BUFFER_POOL)

static gboolean vdds_pool_set_config(GstBufferPool *pool, GstStructure *config)
{
	GstVddsPool *self = (GstVddsPool *)pool;
	GstVddsAllocator *va = (GstVddsAllocator *)self->alloc;
	guint size, min, max;

	if (!gst_buffer_pool_config_get_params(config, NULL, &size, &min, &max))
		return FALSE;
	if (size > va->link->payload_max) {
		GST_WARNING_OBJECT(pool, "buffers of %u bytes do not fit slots of %" G_GSIZE_FORMAT,
				   size, va->link->payload_max);
		return FALSE;
	}
	self->size = size;
	return GST_BUFFER_POOL_CLASS(gst_vdds_pool_parent_class)->set_config(pool, config);
}

static GstFlowReturn vdds_pool_alloc_buffer(GstBufferPool *pool, GstBuffer **buffer,
					    GstBufferPoolAcquireParams *params)
{
	GstVddsPool *self = (GstVddsPool *)pool;
	GstMemory *mem;
	int err;

	(void)params;
	mem = gst_vdds_allocator_loan(self->alloc, self->size, &err);
	if (err == -EINTR)
		return GST_FLOW_FLUSHING;
	if (!mem) {
		/* no slot now (overflow fail, or drop-oldest with every slot
		 * held): upstream still gets a buffer; the sink tries again to
		 * loan when it renders it, and drops it if it cannot */
		GST_DEBUG_OBJECT(pool, "no slot (%s): plain memory", vdds_strerror(err));
		*buffer = gst_buffer_new_allocate(NULL, self->size, NULL);
		return *buffer ? GST_FLOW_OK : GST_FLOW_ERROR;
	}
	*buffer = gst_buffer_new();
	gst_buffer_append_memory(*buffer, mem);
	return GST_FLOW_OK;
}

static void vdds_pool_release_buffer(GstBufferPool *pool, GstBuffer *buffer)
{
	GstMemory *mem = gst_buffer_n_memory(buffer) ? gst_buffer_peek_memory(buffer, 0) : NULL;

	/* a published slot is the readers': the buffer is freed, not reused */
	if (!mem || !gst_memory_is_type(mem, GST_VDDS_MEMORY_TYPE) ||
	    gst_vdds_memory_is_published(mem))
		GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_TAG_MEMORY);
	GST_BUFFER_POOL_CLASS(gst_vdds_pool_parent_class)->release_buffer(pool, buffer);
}

static void vdds_pool_flush_start(GstBufferPool *pool)
{
	GstVddsAllocator *va = (GstVddsAllocator *)((GstVddsPool *)pool)->alloc;

	g_atomic_int_set(&va->link->flushing, 1);
}

static void vdds_pool_flush_stop(GstBufferPool *pool)
{
	GstVddsAllocator *va = (GstVddsAllocator *)((GstVddsPool *)pool)->alloc;

	g_atomic_int_set(&va->link->flushing, 0);
}

static void gst_vdds_pool_finalize(GObject *obj)
{
	gst_object_unref(((GstVddsPool *)obj)->alloc);
	G_OBJECT_CLASS(gst_vdds_pool_parent_class)->finalize(obj);
}

static void gst_vdds_pool_class_init(GstVddsPoolClass *klass)
{
	GstBufferPoolClass *pc = GST_BUFFER_POOL_CLASS(klass);

	pc->set_config = vdds_pool_set_config;
	pc->alloc_buffer = vdds_pool_alloc_buffer;
	pc->release_buffer = vdds_pool_release_buffer;
	pc->flush_start = vdds_pool_flush_start;
	pc->flush_stop = vdds_pool_flush_stop;
	G_OBJECT_CLASS(klass)->finalize = gst_vdds_pool_finalize;
}

static void gst_vdds_pool_init(GstVddsPool *self)
{
	(void)self;
}

GstBufferPool *gst_vdds_pool_new(GstAllocator *alloc)
{
	GstVddsPool *self = g_object_new(gst_vdds_pool_get_type(), NULL);

	gst_object_ref_sink(self);
	self->alloc = gst_object_ref(alloc);
	return GST_BUFFER_POOL(self);
}
