/* subscriber.c — vdds.Subscriber and vdds.Sample: a subscriber handle, and a
 * taken sample that exposes its shared memory read-only (the buffer protocol). */
#include <errno.h>
#include <string.h>

#include "pyvdds.h"

typedef struct pyvdds__sample SampleObject;

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	vdds_sub *sub;    /* NULL once closed */
	PyObject *topic;
	unsigned long fork_gen;
	int state;                    /* enum pyvdds__state */
	int busy;                     /* a thread waits in wait() without the GIL */
	int reconnect;                /* opened with reconnect=True */
	int has_peek;                 /* ready() took `peek`; the next take() hands it out */
	struct vdds_sample peek;      /* held, though no Sample object exists for it yet */
	SampleObject *held;           /* Sample objects not yet released */
	struct vdds_sample *deferred; /* released while busy: returned when it ends */
	size_t n_deferred, cap_deferred;
} SubscriberObject;

struct pyvdds__sample {
	PyObject ob_base;        /* PyObject_HEAD */
	SubscriberObject *owner; /* strong: the subscriber outlives its samples */
	struct vdds_sample s;
	int held;           /* not released yet (s.data readable) */
	Py_ssize_t exports; /* buffers exported: memoryviews, numpy arrays */
	SampleObject *prev, *next;
};

/* ---------------------------------------------------------------- samples */

static void sample_forget(SampleObject *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (x->owner->held == x)
		x->owner->held = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	x->held = 0;
}

static void release_deferred(void *arg)
{
	SubscriberObject *sb = arg;

	for (size_t i = 0; i < sb->n_deferred; i++)
		vdds_sub_release(sb->sub, &sb->deferred[i]);
	sb->n_deferred = 0;
}

/* Keep a sample to release once the busy thread's call returns. */
static void defer_release(SubscriberObject *sb, const struct vdds_sample *s)
{
	if (sb->n_deferred == sb->cap_deferred) {
		size_t cap = sb->cap_deferred ? 2 * sb->cap_deferred : 8;
		struct vdds_sample *d = PyMem_RawRealloc(sb->deferred, cap * sizeof(*d));

		if (!d)
			return; /* out of memory: the slot comes back at close */
		sb->deferred = d;
		sb->cap_deferred = cap;
	}
	sb->deferred[sb->n_deferred++] = *s;
}

/* Return the slot; when another thread is inside wait(), that call does it
 * when it returns (a handle serves one thread at a time). */
static int sample_release_now_or_later(SampleObject *x)
{
	SubscriberObject *sb = x->owner;
	int err = 0;

	if (sb->sub && pyvdds__fork_gen == sb->fork_gen) {
		if (sb->busy)
			defer_release(sb, &x->s);
		else
			err = vdds_sub_release(sb->sub, &x->s);
	}
	sample_forget(x);
	return err;
}

static PyObject *sample_release(SampleObject *x, PyObject *unused)
{
	(void)unused;
	if (!x->held)
		Py_RETURN_NONE;
	if (x->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "cannot release a sample whose memory is exported (%zd memoryview or "
			     "array still alive)",
			     x->exports);
		return NULL;
	}
	int err = sample_release_now_or_later(x);

	return err < 0 ? pyvdds__raise(err, NULL) : Py_NewRef(Py_None);
}

static void sample_dealloc(SampleObject *x)
{
	PyObject_GC_UnTrack(x);
	/* no export can be left: each holds a reference to x */
	if (x->held)
		sample_release_now_or_later(x);
	Py_CLEAR(x->owner);
	PyObject_GC_Del(x);
}

static int sample_traverse(SampleObject *x, visitproc visit, void *arg)
{
	Py_VISIT(x->owner);
	return 0;
}

/* In an unreachable cycle: the slot goes back now if nothing views it; the
 * owner stays (see pyvdds.h: the cycle breaks at the other references). */
static int sample_clear(SampleObject *x)
{
	if (x->held && x->exports == 0)
		sample_release_now_or_later(x);
	return 0;
}

static int sample_getbuffer(SampleObject *x, Py_buffer *view, int flags)
{
	if (!x->held) {
		PyErr_SetString(PyExc_ValueError, "operation on a released sample");
		view->obj = NULL;
		return -1;
	}
	/* read-only: the subscriber's mapping is, and writing would fault */
	if (PyBuffer_FillInfo(view, (PyObject *)x, (void *)x->s.data, (Py_ssize_t)x->s.len, 1,
			      flags) < 0)
		return -1;
	x->exports++;
	return 0;
}

static void sample_releasebuffer(SampleObject *x, Py_buffer *view)
{
	(void)view;
	x->exports--;
}

static PyBufferProcs sample_as_buffer = {
	.bf_getbuffer = (getbufferproc)sample_getbuffer,
	.bf_releasebuffer = (releasebufferproc)sample_releasebuffer,
};

static PyObject *sample_enter(SampleObject *x, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(x);
}

static PyObject *sample_exit(SampleObject *x, PyObject *args)
{
	return pyvdds__exit_result(sample_release(x, NULL), args);
}

static Py_ssize_t sample_length(SampleObject *x)
{
	return (Py_ssize_t)x->s.len;
}

static PyObject *sample_get_seq(SampleObject *x, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(x->s.seq);
}

static PyObject *sample_get_timestamp(SampleObject *x, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(x->s.timestamp_ns);
}

static PyObject *sample_get_len(SampleObject *x, void *closure)
{
	(void)closure;
	return PyLong_FromSize_t(x->s.len);
}

static PyObject *sample_get_epoch(SampleObject *x, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLong(x->s.epoch);
}

static PyObject *sample_get_released(SampleObject *x, void *closure)
{
	(void)closure;
	return PyBool_FromLong(!x->held);
}

static PyObject *sample_get_address(SampleObject *x, void *closure)
{
	(void)closure;
	if (!x->held) {
		PyErr_SetString(PyExc_ValueError, "operation on a released sample");
		return NULL;
	}
	return PyLong_FromVoidPtr((void *)x->s.data);
}

static PyObject *sample_repr(SampleObject *x)
{
	return PyUnicode_FromFormat("<vdds.Sample seq=%llu len=%zu%s>",
				    (unsigned long long)x->s.seq, x->s.len,
				    x->held ? "" : " released");
}

static PyMethodDef sample_methods[] = {
	{ "release", (PyCFunction)sample_release, METH_NOARGS,
	  "release()\n\n"
	  "Give the slot back to the publisher; the memory is not readable after. Raises\n"
	  "BufferError while a memoryview or array of it is alive (like mmap). Does\n"
	  "nothing if already released. Dropping the last reference releases too." },
	{ "__enter__", (PyCFunction)sample_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)sample_exit, METH_VARARGS, "release()" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef sample_getset[] = {
	{ "seq", (getter)sample_get_seq, NULL,
	  "The publisher's count: 1, 2, ...; from its join a subscriber sees every one.", NULL },
	{ "timestamp_ns", (getter)sample_get_timestamp, NULL,
	  "CLOCK_MONOTONIC at publish, in nanoseconds (time.monotonic_ns()'s clock).", NULL },
	{ "len", (getter)sample_get_len, NULL, "Payload bytes (also len(sample)).", NULL },
	{ "epoch", (getter)sample_get_epoch, NULL,
	  "Which publisher: 0, then +1 per reconnect (reconnect=True).", NULL },
	{ "address", (getter)sample_get_address, NULL,
	  "The payload's address in this process (what numpy's __array_interface__ shows).", NULL },
	{ "released", (getter)sample_get_released, NULL, "True once released.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PySequenceMethods sample_as_sequence = {
	.sq_length = (lenfunc)sample_length,
};

PyTypeObject pyvdds__sample_type = {
	/* the macro ends in a comma of its own, which clang-format cannot see */
	/* clang-format off */
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vdds.Sample",
	/* clang-format on */
	.tp_basicsize = sizeof(SampleObject),
	.tp_dealloc = (destructor)sample_dealloc,
	.tp_repr = (reprfunc)sample_repr,
	.tp_as_sequence = &sample_as_sequence,
	.tp_as_buffer = &sample_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)sample_traverse,
	.tp_clear = (inquiry)sample_clear,
	.tp_doc = "One received sample: a read-only view of shared memory (zero copy).\n\n"
		  "Made by Subscriber.take(). Supports the buffer protocol, read-only:\n"
		  "memoryview(sample), bytes(sample), numpy.frombuffer(sample, dtype) all\n"
		  "read the publisher's slot in place. The slot is the subscriber's until\n"
		  "release(), the end of `with sub.take() as s:`, or the last reference\n"
		  "going away; the sample keeps its Subscriber alive meanwhile. Releasing\n"
		  "while a view or array is alive raises BufferError.",
	.tp_methods = sample_methods,
	.tp_getset = sample_getset,
};

/* Wrap a taken sample; on failure it is released and NULL returned. */
static PyObject *sample_new(SubscriberObject *sb, const struct vdds_sample *s)
{
	SampleObject *x = PyObject_GC_New(SampleObject, &pyvdds__sample_type);

	if (!x) {
		vdds_sub_release(sb->sub, s);
		return NULL;
	}
	x->owner = (SubscriberObject *)Py_NewRef(sb);
	x->s = *s;
	x->held = 1;
	x->exports = 0;
	x->prev = NULL;
	x->next = sb->held;
	if (sb->held)
		sb->held->prev = x;
	sb->held = x;
	PyObject_GC_Track(x);
	return (PyObject *)x;
}

/* ------------------------------------------------------------- subscriber */

static int sub_usable(SubscriberObject *sb)
{
	return pyvdds__usable(sb->sub, sb->fork_gen, sb->busy, "Subscriber");
}

static PyObject *sub_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	(void)args;
	(void)kwds;
	SubscriberObject *sb = (SubscriberObject *)type->tp_alloc(type, 0);

	if (sb)
		sb->fork_gen = pyvdds__fork_gen;
	return (PyObject *)sb;
}

static int sub_init(SubscriberObject *sb, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "topic",     "type_name", "type_size",
				  "reconnect", "busy_poll", "publisher_uid",
				  "max_held",  "history",   "spin_ns",
				  NULL };
	struct vdds_sub_opts o = { 0 };
	PyObject *topic, *uid = Py_None;
	const char *type_name = NULL;
	Py_ssize_t type_size = 0, max_held = 0, spin_ns = 0;
	int reconnect = 0, busy_poll = 0, history = 1, err;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$znppOnpn:Subscriber", kwlist, &topic,
					 &type_name, &type_size, &reconnect, &busy_poll, &uid,
					 &max_held, &history, &spin_ns))
		return -1;
	if (type_size < 0 || (uint64_t)type_size > UINT32_MAX) {
		pyvdds__raise_arg(topic, "type_size %zd: must be 0 to %u", type_size, UINT32_MAX);
		return -1;
	}
	if (max_held < 0 || (uint64_t)max_held > UINT32_MAX) {
		pyvdds__raise_arg(topic, "max_held %zd: must be 0 to %u", max_held, UINT32_MAX);
		return -1;
	}
	if (spin_ns < 0 || (uint64_t)spin_ns > UINT32_MAX) {
		pyvdds__raise_arg(topic, "spin_ns %zd: must be 0 to %u", spin_ns, UINT32_MAX);
		return -1;
	}
	if (type_name && strlen(type_name) > VDDS_TYPE_NAME_MAX) {
		pyvdds__raise_arg(topic, "type_name: %zu bytes, at most %d", strlen(type_name),
				  VDDS_TYPE_NAME_MAX);
		return -1;
	}
	o.type_name = type_name;
	o.type_size = (uint32_t)type_size;
	o.reconnect = reconnect;
	o.busy_poll = busy_poll;
	o.max_held = (uint32_t)max_held;
	o.no_history = !history;
	o.spin_ns = (uint32_t)spin_ns;
	if (pyvdds__id_arg(topic, uid, "publisher_uid", &o.publisher_uid) < 0)
		return -1;
	const char *name = pyvdds__topic_name(topic);

	if (!name)
		return -1;
	if ((err = pyvdds__detail_reset(name)) < 0) {
		pyvdds__raise_detail(err, topic);
		return -1;
	}
	if (pyvdds__init_begin(&sb->state, "Subscriber") < 0)
		return -1;
	vdds_sub *sub;

	Py_BEGIN_ALLOW_THREADS err = vdds_sub_open(&sub, name, &o);
	Py_END_ALLOW_THREADS if (err < 0)
	{
		sb->state = PYVDDS_NEW;
		pyvdds__raise_detail(err, topic);
		return -1;
	}
	sb->state = PYVDDS_OPENED;
	sb->sub = sub;
	sb->reconnect = reconnect;
	sb->fork_gen = pyvdds__fork_gen;
	Py_XSETREF(sb->topic, Py_NewRef(topic));
	return 0;
}

/* close(): refuse while a sample's memory is exported (it would dangle). */
static PyObject *sub_close(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	if (!sb->sub)
		Py_RETURN_NONE;
	if (sb->busy)
		return pyvdds__busy("Subscriber");
	for (SampleObject *x = sb->held; x; x = x->next)
		if (x->exports > 0) {
			PyErr_Format(PyExc_BufferError,
				     "cannot close: a sample's memory is exported (seq %llu has "
				     "%zd memoryview or array alive)",
				     (unsigned long long)x->s.seq, x->exports);
			return NULL;
		}
	/* vdds_sub_close releases them all; their objects only learn it (no
	 * view is released and no Python code runs in this walk, so no sample
	 * can go away under it) */
	while (sb->held)
		sample_forget(sb->held);
	vdds_sub *sub = sb->sub;

	sb->sub = NULL; /* closed before the GIL is let go */
	sb->has_peek = 0;
	sb->n_deferred = 0;
	if (pyvdds__fork_gen == sb->fork_gen) {
		Py_BEGIN_ALLOW_THREADS vdds_sub_close(sub);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static void sub_dealloc(SubscriberObject *sb)
{
	PyObject_GC_UnTrack(sb);
	/* no sample is left: each holds a reference to sb */
	if (sb->sub && pyvdds__fork_gen == sb->fork_gen)
		vdds_sub_close(sb->sub);
	PyMem_RawFree(sb->deferred);
	Py_CLEAR(sb->topic);
	Py_TYPE(sb)->tp_free((PyObject *)sb);
}

static int sub_traverse(SubscriberObject *sb, visitproc visit, void *arg)
{
	Py_VISIT(sb->topic);
	return 0;
}

static int sub_clear(SubscriberObject *sb)
{
	Py_CLEAR(sb->topic);
	return 0;
}

/* The error of a take or a wait. A reconnecting subscriber makes handshakes
 * in them, and a refusal's words are then that handshake's (it cleared the
 * detail first); any other error leaves an older call's words behind. */
static PyObject *raise_data_error(SubscriberObject *sb, int err)
{
	switch (sb->reconnect ? -err : 0) {
	case EPROTO:
	case EACCES:
	case ENOSPC:
	case EBUSY:
	case EMFILE:
	case ENFILE: return pyvdds__raise_detail(err, NULL);
	default: return pyvdds__raise(err, NULL);
	}
}

/* take, or hand out what ready() took: 0, -EAGAIN or an error */
static int take_raw(SubscriberObject *sb, struct vdds_sample *s)
{
	if (sb->has_peek) {
		*s = sb->peek;
		sb->has_peek = 0;
		return 0;
	}
	return vdds_sub_take(sb->sub, s);
}

static PyObject *sub_take(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	struct vdds_sample s;

	if (sub_usable(sb) < 0)
		return NULL;
	int err = take_raw(sb, &s);

	if (err == -EAGAIN)
		Py_RETURN_NONE;
	if (err < 0)
		return raise_data_error(sb, err);
	return sample_new(sb, &s);
}

static PyObject *sub_ready(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	if (sub_usable(sb) < 0)
		return NULL;
	if (sb->has_peek)
		Py_RETURN_TRUE;
	int err = vdds_sub_take(sb->sub, &sb->peek);

	if (err == -EAGAIN)
		Py_RETURN_FALSE;
	if (err < 0)
		return raise_data_error(sb, err);
	sb->has_peek = 1;
	Py_RETURN_TRUE;
}

static int wait_fn(void *arg, int ms)
{
	return vdds_sub_wait(((SubscriberObject *)arg)->sub, ms);
}

/* Wait until take() has something, up to timeout_ms; 0 or -1 with an
 * exception set (Timeout, PublisherGone, BadMessage, a signal's). */
static int wait_ready(SubscriberObject *sb, int64_t timeout_ms)
{
	if (sb->has_peek)
		return 0;
	sb->busy = 1;
	int r = pyvdds__blocking(wait_fn, release_deferred, sb, timeout_ms);

	sb->busy = 0;
	release_deferred(sb);
	if (r == PYVDDS_RAISED)
		return -1;
	if (r < 0) {
		raise_data_error(sb, r);
		return -1;
	}
	return 0;
}

static PyObject *sub_wait(SubscriberObject *sb, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = Py_None;
	int64_t ms;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait", kwlist, &timeout) ||
	    pyvdds__timeout_ms(timeout, &ms) < 0 || sub_usable(sb) < 0)
		return NULL;
	return wait_ready(sb, ms) < 0 ? NULL : Py_NewRef(Py_None);
}

/* take, waiting up to timeout_ms (-1: forever) for something to take */
static PyObject *receive(SubscriberObject *sb, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? pyvdds__now_ns() + timeout_ms * 1000000 : 0;
	struct vdds_sample s;

	for (;;) {
		int err = take_raw(sb, &s);

		if (err == 0)
			return sample_new(sb, &s);
		if (err != -EAGAIN)
			return raise_data_error(sb, err);
		int64_t ms = timeout_ms;

		if (timeout_ms > 0) {
			int64_t left = deadline - pyvdds__now_ns();

			ms = left > 0 ? (left + 999999) / 1000000 : 0;
		}
		if (wait_ready(sb, ms) < 0)
			return NULL;
	}
}

static PyObject *sub_receive(SubscriberObject *sb, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = Py_None;
	int64_t ms;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:receive", kwlist, &timeout) ||
	    pyvdds__timeout_ms(timeout, &ms) < 0 || sub_usable(sb) < 0)
		return NULL;
	return receive(sb, ms);
}

static PyObject *sub_iter(SubscriberObject *sb)
{
	if (sub_usable(sb) < 0)
		return NULL;
	return Py_NewRef(sb);
}

/* for sample in sub: blocks for each; the publisher's end ends the loop */
static PyObject *sub_iternext(SubscriberObject *sb)
{
	if (sub_usable(sb) < 0)
		return NULL;
	PyObject *x = receive(sb, -1);

	if (!x && PyErr_ExceptionMatches(pyvdds__error_class(EPIPE)))
		PyErr_Clear(); /* NULL without an exception: StopIteration */
	return x;
}

static PyObject *sub_stats(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	struct vdds_sub_stats st;

	if (sub_usable(sb) < 0)
		return NULL;
	int err = vdds_sub_stats(sb->sub, &st);

	if (err < 0)
		return pyvdds__raise(err, NULL);
	return Py_BuildValue("{sKsKsIsI}", "taken", (unsigned long long)st.taken, "lost",
			     (unsigned long long)st.lost, "held", st.held, "queued", st.queued);
}

static PyObject *sub_fileno(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	if (sub_usable(sb) < 0)
		return NULL;
	return PyLong_FromLong(vdds_sub_fd(sb->sub));
}

static PyObject *sub_enter(SubscriberObject *sb, PyObject *unused)
{
	(void)unused;
	if (sub_usable(sb) < 0)
		return NULL;
	return Py_NewRef(sb);
}

static PyObject *sub_exit(SubscriberObject *sb, PyObject *args)
{
	return pyvdds__exit_result(sub_close(sb, NULL), args);
}

static PyObject *sub_get_closed(SubscriberObject *sb, void *closure)
{
	(void)closure;
	return PyBool_FromLong(sb->sub == NULL);
}

static PyObject *sub_get_topic(SubscriberObject *sb, void *closure)
{
	(void)closure;
	return Py_NewRef(sb->topic ? sb->topic : Py_None);
}

static PyObject *sub_get_held(SubscriberObject *sb, void *closure)
{
	(void)closure;
	Py_ssize_t n = sb->has_peek;

	for (SampleObject *x = sb->held; x; x = x->next)
		n++;
	return PyLong_FromSsize_t(n);
}

static PyObject *sub_repr(SubscriberObject *sb)
{
	return PyUnicode_FromFormat("<vdds.Subscriber %R%s>", sb->topic ? sb->topic : Py_None,
				    sb->sub ? "" : " (closed)");
}

static PyMethodDef sub_methods[] = {
	{ "take", (PyCFunction)sub_take, METH_NOARGS,
	  "take() -> Sample | None\n\n"
	  "The next sample, without blocking; None when there is none now. Raises\n"
	  "PublisherGone once the publisher is gone and everything it delivered was\n"
	  "taken, BadMessage if it cut this subscriber off." },
	{ "wait", (PyCFunction)(void (*)(void))sub_wait, METH_VARARGS | METH_KEYWORDS,
	  "wait(timeout=None)\n\n"
	  "Block (releasing the GIL) until take() has a sample or the publisher is gone.\n"
	  "timeout in seconds, None: forever (Ctrl-C still interrupts). Returns None;\n"
	  "raises Timeout, PublisherGone, BadMessage. For asyncio: await wait_async()." },
	{ "receive", (PyCFunction)(void (*)(void))sub_receive, METH_VARARGS | METH_KEYWORDS,
	  "receive(timeout=None) -> Sample\n\n"
	  "take(), waiting for a sample as wait() does. Raises Timeout, PublisherGone,\n"
	  "BadMessage. `for sample in sub:` calls it until the publisher is gone." },
	{ "ready", (PyCFunction)sub_ready, METH_NOARGS,
	  "ready() -> bool\n\n"
	  "True if take() will return a sample now. Does not block; to answer it takes\n"
	  "the next sample and keeps it for take(). Raises as take() does." },
	{ "stats", (PyCFunction)sub_stats, METH_NOARGS,
	  "stats() -> dict\n\n"
	  "taken, lost (taken back by an OVERFLOW_DROP_OLDEST publisher before we took\n"
	  "them: seq jumps by exactly as many), held, queued (see vdds_sub_stats(3))." },
	{ "fileno", (PyCFunction)sub_fileno, METH_NOARGS,
	  "fileno() -> int\n\n"
	  "vdds_sub_fd(): a pollable, level-triggered fd for select/selectors/asyncio:\n"
	  "readable exactly while take() would return a sample or raise (the\n"
	  "publisher's end), from the moment of open. A sample kept by ready() is not\n"
	  "reflected in it." },
	{ "close", (PyCFunction)sub_close, METH_NOARGS,
	  "close()\n\n"
	  "Disconnect. Every sample still held is released and becomes unreadable.\n"
	  "Raises BufferError (and stays open) while a sample's memory is exported to a\n"
	  "memoryview or array. Idempotent." },
	{ "__enter__", (PyCFunction)sub_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)sub_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef sub_getset[] = {
	{ "closed", (getter)sub_get_closed, NULL, "True once closed.", NULL },
	{ "topic", (getter)sub_get_topic, NULL, "The topic name.", NULL },
	{ "held", (getter)sub_get_held, NULL, "Samples taken and not yet released.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject pyvdds__subscriber_type = {
	/* the macro ends in a comma of its own, which clang-format cannot see */
	/* clang-format off */
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vdds._vdds.Subscriber",
	/* clang-format on */
	.tp_basicsize = sizeof(SubscriberObject),
	.tp_dealloc = (destructor)sub_dealloc,
	.tp_repr = (reprfunc)sub_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)sub_traverse,
	.tp_clear = (inquiry)sub_clear,
	/* the first lines are __text_signature__; vdds.Subscriber's __init__
	 * repeats it (tests/test_parity.py compares the two) */
	.tp_doc = "Subscriber(topic, *, type_name=None, type_size=0, reconnect=False,\n"
		  "           busy_poll=False, publisher_uid=None, max_held=0, history=True,\n"
		  "           spin_ns=0)\n--\n\n"
		  "The C part of vdds.Subscriber; use that class (it adds asyncio).",
	.tp_iter = (getiterfunc)sub_iter,
	.tp_iternext = (iternextfunc)sub_iternext,
	.tp_methods = sub_methods,
	.tp_getset = sub_getset,
	.tp_init = (initproc)sub_init,
	.tp_new = sub_new,
};
