/* publisher.c — vdds.Publisher and vdds.Loan: a publisher handle, and a slot
 * loaned from it that Python writes through a writable memoryview (zero copy). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pyvdds.h"

typedef struct pyvdds__loan LoanObject;

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	vdds_pub *pub;    /* NULL once closed */
	PyObject *topic;
	size_t slot_size;
	unsigned long fork_gen;
	int state;        /* enum pyvdds__state */
	int busy;         /* a thread waits in loan() or write() without the GIL */
	LoanObject *held; /* loans not yet published or discarded */
	void **deferred;  /* loans dropped while busy: discarded when it returns */
	size_t n_deferred, cap_deferred;
} PublisherObject;

struct pyvdds__loan {
	PyObject ob_base;       /* PyObject_HEAD */
	PublisherObject *owner; /* strong: the publisher outlives its loans */
	void *buf;              /* NULL once published, discarded or invalidated */
	Py_ssize_t exports;     /* buffers exported: memoryviews, numpy arrays */
	PyObject *view_ref;     /* weakref to the memoryview __enter__ handed out */
	LoanObject *prev, *next;
};

/* ------------------------------------------------------------------ loans */

static void loan_unlink(LoanObject *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else if (l->owner->held == l)
		l->owner->held = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

/* The slot is no longer the loan's: published, discarded, or the publisher
 * closed. */
static void loan_forget(LoanObject *l)
{
	loan_unlink(l);
	l->buf = NULL;
}

static void discard_deferred(void *arg)
{
	PublisherObject *p = arg;

	for (size_t i = 0; i < p->n_deferred; i++)
		vdds_pub_discard(p->pub, p->deferred[i]);
	p->n_deferred = 0;
}

/* Give the slot back unpublished; when another thread is inside loan() or
 * write(), it does so when that call returns (a handle serves one thread). */
static void loan_discard_now_or_later(LoanObject *l)
{
	PublisherObject *p = l->owner;

	if (!p->pub || pyvdds__fork_gen != p->fork_gen) {
		loan_forget(l);
		return;
	}
	if (p->busy) {
		if (p->n_deferred == p->cap_deferred) {
			size_t cap = p->cap_deferred ? 2 * p->cap_deferred : 8;
			void **d = PyMem_RawRealloc(p->deferred, cap * sizeof(*d));

			if (!d) {
				/* kept loaned; the publisher's close frees it */
				loan_forget(l);
				return;
			}
			p->deferred = d;
			p->cap_deferred = cap;
		}
		p->deferred[p->n_deferred++] = l->buf;
	} else {
		vdds_pub_discard(p->pub, l->buf);
	}
	loan_forget(l);
}

/* The memoryview __enter__ handed out, if still alive: a new reference. */
static PyObject *loan_view(LoanObject *l)
{
	if (!l->view_ref)
		return NULL;
#if PY_VERSION_HEX >= 0x030D0000
	PyObject *view = NULL;

	if (PyWeakref_GetRef(l->view_ref, &view) < 0)
		PyErr_Clear();
	return view;
#else
	PyObject *view = PyWeakref_GetObject(l->view_ref); /* borrowed */

	return view == Py_None ? NULL : Py_NewRef(view);
#endif
}

/* Release the memoryview __enter__ handed out, if it is still alive. */
static int loan_release_view(LoanObject *l)
{
	PyObject *view = loan_view(l);

	if (view) {
		PyObject *r = PyObject_CallMethod(view, "release", NULL);

		Py_DECREF(view);
		if (!r)
			return -1;
		Py_DECREF(r);
	}
	Py_CLEAR(l->view_ref);
	return 0;
}

/* Ready to give the slot away: no buffer of it left in Python's hands. */
static int loan_unexport(LoanObject *l)
{
	if (loan_release_view(l) < 0)
		return -1;
	if (l->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "the loan's memory is still exported (%zd memoryview or array); "
			     "delete or release it first",
			     l->exports);
		return -1;
	}
	return 0;
}

static void loan_dealloc(LoanObject *l)
{
	PyObject_GC_UnTrack(l);
	/* no exports can be left: each holds a reference to l */
	if (l->buf)
		loan_discard_now_or_later(l);
	Py_CLEAR(l->view_ref);
	Py_CLEAR(l->owner);
	Py_TYPE(l)->tp_free((PyObject *)l);
}

static int loan_traverse(LoanObject *l, visitproc visit, void *arg)
{
	Py_VISIT(l->owner);
	return 0;
}

/* In an unreachable cycle: the slot goes back now if nothing views it; the
 * owner stays (see pyvdds.h: the cycle breaks at the other references). */
static int loan_clear(LoanObject *l)
{
	if (l->buf && l->exports == 0)
		loan_discard_now_or_later(l);
	return 0;
}

static int loan_getbuffer(LoanObject *l, Py_buffer *view, int flags)
{
	if (!l->buf) {
		PyErr_SetString(PyExc_ValueError, "the loan was published or discarded");
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)l, l->buf, (Py_ssize_t)l->owner->slot_size, 0,
			      flags) < 0)
		return -1;
	l->exports++;
	return 0;
}

static void loan_releasebuffer(LoanObject *l, Py_buffer *view)
{
	(void)view;
	l->exports--;
}

static PyBufferProcs loan_as_buffer = {
	.bf_getbuffer = (getbufferproc)loan_getbuffer,
	.bf_releasebuffer = (releasebufferproc)loan_releasebuffer,
};

static PyObject *loan_enter(LoanObject *l, PyObject *unused)
{
	(void)unused;
	if (!l->buf)
		return pyvdds__closed("loan (published or discarded)");
	PyObject *old = loan_view(l);

	if (old) {
		/* the same view again, unless it was released (.obj raises) */
		PyObject *base = PyObject_GetAttrString(old, "obj");

		if (base) {
			Py_DECREF(base);
			return old;
		}
		PyErr_Clear();
		Py_DECREF(old);
	}
	Py_CLEAR(l->view_ref);
	PyObject *view = PyMemoryView_FromObject((PyObject *)l);

	if (!view)
		return NULL;
	/* weak: a strong one would make a cycle (the view holds the loan) */
	l->view_ref = PyWeakref_NewRef(view, NULL);
	if (!l->view_ref) {
		Py_DECREF(view);
		return NULL;
	}
	return view;
}

static PyObject *loan_discard(LoanObject *l, PyObject *unused)
{
	(void)unused;
	if (!l->buf)
		Py_RETURN_NONE;
	if (loan_unexport(l) < 0)
		return NULL;
	loan_discard_now_or_later(l);
	Py_RETURN_NONE;
}

static PyObject *loan_exit(LoanObject *l, PyObject *args)
{
	return pyvdds__exit_result(loan_discard(l, NULL), args);
}

static PyObject *loan_get_pending(LoanObject *l, void *closure)
{
	(void)closure;
	return PyBool_FromLong(l->buf != NULL);
}

static PyObject *loan_get_address(LoanObject *l, void *closure)
{
	(void)closure;
	if (!l->buf)
		return pyvdds__closed("loan (published or discarded)");
	return PyLong_FromVoidPtr(l->buf);
}

static Py_ssize_t loan_length(LoanObject *l)
{
	return (Py_ssize_t)l->owner->slot_size;
}

static PyObject *loan_repr(LoanObject *l)
{
	return PyUnicode_FromFormat("<vdds.Loan of %zu bytes, %s>", l->owner->slot_size,
				    l->buf ? "pending" : "done");
}

static PyMethodDef loan_methods[] = {
	{ "discard", (PyCFunction)loan_discard, METH_NOARGS,
	  "discard()\n\nGive the slot back unpublished. Raises BufferError while a memoryview\n"
	  "or array of it other than the one `with` handed out is alive. Does nothing\n"
	  "once published or discarded." },
	{ "__enter__", (PyCFunction)loan_enter, METH_NOARGS,
	  "A writable memoryview over the slot (slot_size bytes)." },
	{ "__exit__", (PyCFunction)loan_exit, METH_VARARGS,
	  "Discard the slot unless it was published." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef loan_getset[] = {
	{ "pending", (getter)loan_get_pending, NULL,
	  "True until the slot is published or discarded.", NULL },
	{ "address", (getter)loan_get_address, NULL, "The slot's address in this process.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PySequenceMethods loan_as_sequence = {
	.sq_length = (lenfunc)loan_length,
};

PyTypeObject pyvdds__loan_type = {
	/* the macro ends in a comma of its own, which clang-format cannot see */
	/* clang-format off */
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vdds.Loan",
	/* clang-format on */
	.tp_basicsize = sizeof(LoanObject),
	.tp_dealloc = (destructor)loan_dealloc,
	.tp_repr = (reprfunc)loan_repr,
	.tp_as_sequence = &loan_as_sequence,
	.tp_as_buffer = &loan_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)loan_traverse,
	.tp_clear = (inquiry)loan_clear,
	.tp_doc = "A slot loaned from a Publisher, writable in place (zero copy).\n\n"
		  "Made by Publisher.loan(). As a context manager it hands out a writable\n"
		  "memoryview over the whole slot (len(loan) == slot_size bytes); pass that\n"
		  "view (or the loan) to Publisher.publish() with the number of bytes to\n"
		  "send. Leaving the `with` block unpublished discards the slot; so does\n"
		  "dropping the last reference. The loan supports the buffer protocol,\n"
		  "writable: numpy.frombuffer(view, dtype) writes straight into shared memory.\n"
		  "Publishing needs every such view gone first (BufferError otherwise), since\n"
		  "after publish the memory belongs to the subscribers.",
	.tp_methods = loan_methods,
	.tp_getset = loan_getset,
};

/* -------------------------------------------------------------- publisher */

static int pub_usable(PublisherObject *p)
{
	return pyvdds__usable(p->pub, p->fork_gen, p->busy, "Publisher");
}

static PyObject *pub_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	(void)args;
	(void)kwds;
	PublisherObject *p = (PublisherObject *)type->tp_alloc(type, 0);

	if (p)
		p->fork_gen = pyvdds__fork_gen;
	return (PyObject *)p;
}

/* The open's error, with the library's detail; for ENOMEM without one, the
 * size that could not be had. */
static int raise_open_error(int err, PyObject *topic, const struct vdds_pub_opts *o)
{
	char why[160];

	if (err != -ENOMEM || vdds_last_error_detail()[0]) {
		pyvdds__raise_detail(err, topic);
		return -1;
	}
	snprintf(why, sizeof(why),
		 "the topic's shared memory, %u slots of %zu bytes (%.3g GiB), cannot be mapped",
		 o->slot_count, o->slot_size,
		 (double)o->slot_count * (double)o->slot_size / (double)(1u << 30));
	pyvdds__raise_why(err, topic, why);
	return -1;
}

/* What Python can tell is wrong before asking the library, naming the
 * argument: 0, or -1 with InvalidArgument set. */
static int check_pub_args(PyObject *topic, Py_ssize_t slot_size, Py_ssize_t slots,
			  Py_ssize_t max_subs, Py_ssize_t type_size, Py_ssize_t overflow,
			  Py_ssize_t history)
{
	if (slot_size <= 0)
		pyvdds__raise_arg(topic, "slot_size %zd: must be at least 1", slot_size);
	else if (slots < 2 || (uint64_t)slots > UINT32_MAX)
		pyvdds__raise_arg(topic, "slots %zd: must be 2 to %u", slots, UINT32_MAX);
	else if (max_subs <= 0 || max_subs > VDDS_MAX_SUBSCRIBERS)
		pyvdds__raise_arg(topic, "max_subscribers %zd: must be 1 to %d", max_subs,
				  VDDS_MAX_SUBSCRIBERS);
	else if (type_size < 0 || (uint64_t)type_size > UINT32_MAX)
		pyvdds__raise_arg(topic, "type_size %zd: must be 0 to %u", type_size, UINT32_MAX);
	else if (overflow < 0 || overflow > VDDS_OVERFLOW_FAIL)
		pyvdds__raise_arg(topic, "overflow %zd: must be an OVERFLOW_* constant", overflow);
	else if (history < 0 || history > slots / 2)
		pyvdds__raise_arg(topic, "history %zd: must be 0 to slots // 2 (%zd)", history,
				  slots / 2);
	else
		return 0;
	return -1;
}

/* An optional uid or gid (None: not given) into *id: 0, or -1 with the
 * exception set. */
int pyvdds__id_arg(PyObject *topic, PyObject *arg, const char *what, uint32_t *id)
{
	unsigned long v;

	if (arg == Py_None)
		return 0;
	v = PyLong_AsUnsignedLong(arg);
	if (v == (unsigned long)-1 && PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		v = ULONG_MAX;
	}
	if (v > UINT32_MAX) {
		pyvdds__raise_arg(topic, "%s: must be None or 0 to %u", what, UINT32_MAX);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

static int pub_init(PublisherObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "topic",     "slot_size", "slots",          "max_subscribers",
				  "type_name", "type_size", "service_thread", "group",
				  "overflow",  "history",   "huge_pages",     NULL };
	struct vdds_pub_opts o = { 0 };
	PyObject *topic, *group = Py_None;
	Py_ssize_t slot_size = 4096, slots = 64, max_subs = 32, type_size = 0;
	Py_ssize_t overflow = VDDS_OVERFLOW_BLOCK, history = 0;
	const char *type_name = NULL;
	int service_thread = 1, huge_pages = 0, err;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|nn$nznpOnnp:Publisher", kwlist, &topic,
					 &slot_size, &slots, &max_subs, &type_name, &type_size,
					 &service_thread, &group, &overflow, &history, &huge_pages))
		return -1;
	if (check_pub_args(topic, slot_size, slots, max_subs, type_size, overflow, history) < 0)
		return -1;
	o.slot_size = (size_t)slot_size;
	o.slot_count = (uint32_t)slots;
	o.max_subscribers = (uint32_t)max_subs;
	o.type_name = type_name;
	o.type_size = (uint32_t)type_size;
	o.no_service_thread = !service_thread;
	o.overflow = (uint32_t)overflow;
	o.history = (uint32_t)history;
	o.huge_pages = huge_pages;
	if (pyvdds__id_arg(topic, group, "group", &o.group) < 0)
		return -1;
	o.group_access = group != Py_None;
	const char *name = pyvdds__topic_name(topic);

	if (!name)
		return -1;
	if ((err = pyvdds__detail_reset(name)) < 0) {
		pyvdds__raise_detail(err, topic);
		return -1;
	}
	if (pyvdds__init_begin(&p->state, "Publisher") < 0)
		return -1;
	vdds_pub *pub;

	Py_BEGIN_ALLOW_THREADS err = vdds_pub_open(&pub, name, &o);
	Py_END_ALLOW_THREADS if (err < 0)
	{
		p->state = PYVDDS_NEW;
		return raise_open_error(err, topic, &o);
	}
	p->state = PYVDDS_OPENED;
	p->pub = pub;
	p->slot_size = o.slot_size;
	p->fork_gen = pyvdds__fork_gen;
	Py_XSETREF(p->topic, Py_NewRef(topic));
	return 0;
}

/* The loans p holds, as a list of strong references. */
static PyObject *held_loans(PublisherObject *p)
{
	PyObject *loans = PyList_New(0);

	for (LoanObject *l = p->held; loans && l; l = l->next)
		if (PyList_Append(loans, (PyObject *)l) < 0)
			Py_CLEAR(loans);
	return loans;
}

/* close(): refuse while a loan's memory is exported (it would dangle). */
static PyObject *pub_close(PublisherObject *p, PyObject *unused)
{
	(void)unused;
	if (!p->pub)
		Py_RETURN_NONE;
	if (p->busy)
		return pyvdds__busy("Publisher");
	/* first the refusals that need no view released: more than the one
	 * buffer a `with` view and its slices share */
	for (LoanObject *l = p->held; l; l = l->next)
		if (l->exports > 1) {
			PyErr_Format(
				PyExc_BufferError,
				"cannot close: a loan's memory is exported (%zd memoryviews or "
				"arrays alive)",
				l->exports);
			return NULL;
		}
	/* releasing a view may free its loan, and with it the list's links:
	 * walk a list of strong references instead */
	PyObject *loans = held_loans(p);

	if (!loans)
		return NULL;
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(loans); i++)
		if (loan_unexport((LoanObject *)PyList_GET_ITEM(loans, i)) < 0) {
			Py_DECREF(loans);
			return NULL;
		}
	while (p->held)
		loan_forget(p->held);
	Py_DECREF(loans);
	vdds_pub *pub = p->pub;

	p->pub = NULL; /* closed before the GIL is let go */
	p->n_deferred = 0;
	if (pyvdds__fork_gen == p->fork_gen) {
		Py_BEGIN_ALLOW_THREADS vdds_pub_close(pub);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static void pub_dealloc(PublisherObject *p)
{
	PyObject_GC_UnTrack(p);
	/* no loan is left: each holds a reference to p */
	if (p->pub && pyvdds__fork_gen == p->fork_gen)
		vdds_pub_close(p->pub);
	PyMem_RawFree(p->deferred);
	Py_CLEAR(p->topic);
	Py_TYPE(p)->tp_free((PyObject *)p);
}

static int pub_traverse(PublisherObject *p, visitproc visit, void *arg)
{
	Py_VISIT(p->topic);
	return 0;
}

static int pub_clear(PublisherObject *p)
{
	Py_CLEAR(p->topic);
	return 0;
}

struct loan_wait {
	PublisherObject *p;
	void *buf;
};

static int loan_fn(void *arg, int ms)
{
	struct loan_wait *w = arg;

	return vdds_pub_loan(w->p->pub, &w->buf, ms);
}

/* between slices: loans dropped meanwhile go back, and may be the slot */
static void loan_between(void *arg)
{
	discard_deferred(((struct loan_wait *)arg)->p);
}

/* Loan a slot, waiting up to timeout_ms; 0 or -1 with an exception set. */
static int loan_slot(PublisherObject *p, int64_t timeout_ms, void **buf)
{
	struct loan_wait w = { p, NULL };
	int r = vdds_pub_loan(p->pub, &w.buf, 0);

	if (r == -EAGAIN && timeout_ms != 0) {
		p->busy = 1;
		r = pyvdds__blocking(loan_fn, loan_between, &w, timeout_ms);
		p->busy = 0;
		discard_deferred(p);
	}
	if (r == PYVDDS_RAISED)
		return -1;
	if (r < 0) {
		pyvdds__raise(r, NULL);
		return -1;
	}
	*buf = w.buf;
	return 0;
}

static PyObject *pub_loan(PublisherObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = Py_None;
	int64_t ms;
	void *buf;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:loan", kwlist, &timeout) ||
	    pyvdds__timeout_ms(timeout, &ms) < 0 || pub_usable(p) < 0)
		return NULL;
	if (loan_slot(p, ms, &buf) < 0)
		return NULL;
	LoanObject *l = PyObject_GC_New(LoanObject, &pyvdds__loan_type);

	if (!l) {
		vdds_pub_discard(p->pub, buf);
		return NULL;
	}
	l->owner = (PublisherObject *)Py_NewRef(p);
	l->buf = buf;
	l->exports = 0;
	l->view_ref = NULL;
	l->prev = NULL;
	l->next = p->held;
	if (p->held)
		p->held->prev = l;
	p->held = l;
	PyObject_GC_Track(l);
	return (PyObject *)l;
}

/* The loan behind what publish() or discard() was given, a new reference: a
 * Loan, or a memoryview of one over the whole slot, which is released
 * (BufferError if something views it). A slice or an offset view is refused:
 * publish() sends a slot from its start, never part of one. */
static LoanObject *loan_of(PublisherObject *p, PyObject *obj)
{
	PyObject *base;

	if (!PyMemoryView_Check(obj)) {
		base = Py_NewRef(obj);
	} else {
		/* ValueError if already released; a strong reference, since the
		 * view may be the loan's only owner and is released below */
		base = PyObject_GetAttrString(obj, "obj");
		if (!base)
			return NULL;
	}
	if (Py_TYPE(base) != &pyvdds__loan_type || ((LoanObject *)base)->owner != p) {
		PyErr_SetString(PyExc_TypeError,
				"expected a loan of this publisher, or the memoryview its `with` "
				"block handed out");
		goto err_base;
	}
	LoanObject *l = (LoanObject *)base;

	if (base != obj) {
		const Py_buffer *v = PyMemoryView_GET_BUFFER(obj);

		if (l->buf && (v->buf != l->buf || v->len != (Py_ssize_t)p->slot_size)) {
			PyErr_SetString(
				PyExc_ValueError,
				"a slice or offset view of a loan cannot be published or "
				"discarded: pass the whole view (or the loan) and the number "
				"of bytes, publish(buf, n)");
			goto err_base;
		}
		PyObject *r = PyObject_CallMethod(obj, "release", NULL);

		if (!r)
			goto err_base;
		Py_DECREF(r);
	}
	return l;

err_base:
	Py_DECREF(base);
	return NULL;
}

static PyObject *pub_publish(PublisherObject *p, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t n = -1;

	if (nargs < 1 || nargs > 2) {
		PyErr_SetString(PyExc_TypeError, "publish(buf, n=None): one or two arguments");
		return NULL;
	}
	if (nargs == 2 && args[1] != Py_None) {
		n = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
		if (n == -1 && PyErr_Occurred())
			return NULL;
		if (n < 0)
			return pyvdds__raise(-EINVAL, NULL);
	}
	if (pub_usable(p) < 0)
		return NULL;
	/* checked before the view is released: on failure the loan is intact */
	if (n > (Py_ssize_t)p->slot_size)
		return pyvdds__raise(-EMSGSIZE, NULL);
	LoanObject *l = loan_of(p, args[0]);
	PyObject *ret = NULL;

	if (!l)
		return NULL;
	if (!l->buf) {
		pyvdds__closed("loan (published or discarded)");
		goto out;
	}
	if (loan_unexport(l) < 0)
		goto out;
	int err = vdds_pub_publish(p->pub, l->buf, n < 0 ? p->slot_size : (size_t)n);

	if (err < 0) {
		pyvdds__raise(err, NULL);
		goto out;
	}
	loan_forget(l);
	ret = Py_NewRef(Py_None);
out:
	Py_DECREF(l);
	return ret;
}

static PyObject *pub_discard(PublisherObject *p, PyObject *obj)
{
	if (pub_usable(p) < 0)
		return NULL;
	LoanObject *l = loan_of(p, obj);

	if (!l)
		return NULL;
	PyObject *ret = loan_discard(l, NULL);

	Py_DECREF(l);
	return ret;
}

static PyObject *pub_write(PublisherObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "data", "timeout", NULL };
	PyObject *timeout = Py_None;
	Py_buffer data;
	int64_t ms;
	void *buf;
	PyObject *ret = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|O:write", kwlist, &data, &timeout))
		return NULL;
	if (pyvdds__timeout_ms(timeout, &ms) < 0 || pub_usable(p) < 0)
		goto out;
	if ((size_t)data.len > p->slot_size) {
		pyvdds__raise(-EMSGSIZE, NULL);
		goto out;
	}
	if (loan_slot(p, ms, &buf) < 0)
		goto out;
	memcpy(buf, data.buf, (size_t)data.len);
	int err = vdds_pub_publish(p->pub, buf, (size_t)data.len);

	if (err < 0) {
		vdds_pub_discard(p->pub, buf);
		pyvdds__raise(err, NULL);
		goto out;
	}
	ret = Py_NewRef(Py_None);
out:
	PyBuffer_Release(&data);
	return ret;
}

static PyObject *pub_stats(PublisherObject *p, PyObject *unused)
{
	(void)unused;
	struct vdds_pub_stats st;

	if (pub_usable(p) < 0)
		return NULL;
	int err = vdds_pub_stats(p->pub, &st);

	if (err < 0)
		return pyvdds__raise(err, NULL);
	/* every field of struct vdds_pub_stats, under its C name
	 * (tests/test_parity.py holds the two together) */
	return Py_BuildValue(
		"{sIsIsIsIsKsKsKsKsKsKsKsKsIsIsNsisN}", "slot_count", st.slot_count, "free_slots",
		st.free_slots, "loaned_slots", st.loaned_slots, "subscribers", st.subscribers,
		"published", (unsigned long long)st.published, "wakeups",
		(unsigned long long)st.wakeups, "disconnects", (unsigned long long)st.disconnects,
		"kicked", (unsigned long long)st.kicked, "delivered",
		(unsigned long long)st.delivered, "dropped", (unsigned long long)st.dropped,
		"blocked", (unsigned long long)st.blocked, "blocked_ns",
		(unsigned long long)st.blocked_ns, "largest_held", st.largest_held, "largest_lane",
		st.largest_lane, "huge_pages", PyBool_FromLong(st.huge_pages), "huge_pages_err",
		(int)st.huge_pages_err, "huge_pages_note",
		PyUnicode_DecodeUTF8(
			st.huge_pages_note,
			(Py_ssize_t)strnlen(st.huge_pages_note, sizeof(st.huge_pages_note)),
			"replace"));
}

static PyObject *pub_fileno(PublisherObject *p, PyObject *unused)
{
	(void)unused;
	if (pub_usable(p) < 0)
		return NULL;
	int fd = vdds_pub_fd(p->pub);

	/* a publisher with the service thread has no control fd of its own */
	return fd < 0 ? pyvdds__raise(fd, NULL) : PyLong_FromLong(fd);
}

static PyObject *pub_dispatch(PublisherObject *p, PyObject *unused)
{
	(void)unused;
	if (pub_usable(p) < 0)
		return NULL;
	int err = vdds_pub_dispatch(p->pub);

	return err < 0 ? pyvdds__raise(err, NULL) : Py_NewRef(Py_None);
}

static PyObject *pub_set_note(PublisherObject *p, PyObject *arg)
{
	const char *note = NULL;
	Py_ssize_t len = 0;

	if (arg != Py_None) {
		if (!PyUnicode_Check(arg))
			return PyErr_Format(PyExc_TypeError,
					    "set_note() takes a str or None, not %.80s",
					    Py_TYPE(arg)->tp_name);
		if (!(note = PyUnicode_AsUTF8AndSize(arg, &len)))
			return NULL;
		if (strlen(note) != (size_t)len)
			return pyvdds__raise_arg(NULL, "note: a NUL at byte %zu", strlen(note));
	}
	if (pub_usable(p) < 0)
		return NULL;
	int err = vdds_pub_set_note(p->pub, note);

	return err < 0 ? pyvdds__raise(err, NULL) : Py_NewRef(Py_None);
}

static PyObject *pub_enter(PublisherObject *p, PyObject *unused)
{
	(void)unused;
	if (pub_usable(p) < 0)
		return NULL;
	return Py_NewRef(p);
}

static PyObject *pub_exit(PublisherObject *p, PyObject *args)
{
	return pyvdds__exit_result(pub_close(p, NULL), args);
}

static PyObject *pub_get_closed(PublisherObject *p, void *closure)
{
	(void)closure;
	return PyBool_FromLong(p->pub == NULL);
}

static PyObject *pub_get_topic(PublisherObject *p, void *closure)
{
	(void)closure;
	return Py_NewRef(p->topic ? p->topic : Py_None);
}

static PyObject *pub_get_slot_size(PublisherObject *p, void *closure)
{
	(void)closure;
	return PyLong_FromSize_t(p->slot_size);
}

static PyObject *pub_repr(PublisherObject *p)
{
	return PyUnicode_FromFormat("<vdds.Publisher %R%s>", p->topic ? p->topic : Py_None,
				    p->pub ? "" : " (closed)");
}

static PyMethodDef pub_methods[] = {
	{ "loan", (PyCFunction)(void (*)(void))pub_loan, METH_VARARGS | METH_KEYWORDS,
	  "loan(timeout=None) -> Loan\n\n"
	  "Loan a free slot to write a sample into, in place. When none is free, wait\n"
	  "for a subscriber to release one: timeout None waits forever (Ctrl-C still\n"
	  "interrupts), 0 raises WouldBlock at once, t > 0 raises Timeout after t seconds.\n"
	  "The GIL is released while waiting. Use as `with pub.loan() as buf:`." },
	{ "publish", (PyCFunction)(void (*)(void))pub_publish, METH_FASTCALL,
	  "publish(buf, n=None)\n\n"
	  "Publish the first n bytes (default: the whole slot) of a loaned slot to every\n"
	  "connected subscriber. buf is the memoryview `with pub.loan()` handed out (it\n"
	  "is released here) or the Loan itself. Raises MessageTooLarge if n > slot_size\n"
	  "(the loan stays), BufferError while another view or array of the slot is\n"
	  "alive (delete it first: after publish the memory is the subscribers'),\n"
	  "ValueError for a slice or offset view (a sample starts at the slot's start)." },
	{ "discard", (PyCFunction)pub_discard, METH_O,
	  "discard(buf)\n\nGive a loaned slot back unpublished (buf as for publish)." },
	{ "write", (PyCFunction)(void (*)(void))pub_write, METH_VARARGS | METH_KEYWORDS,
	  "write(data, timeout=None)\n\n"
	  "Copy convenience: loan (timeout as for loan()), copy the bytes-like data in,\n"
	  "publish. Raises MessageTooLarge if len(data) > slot_size." },
	{ "stats", (PyCFunction)pub_stats, METH_NOARGS,
	  "stats() -> dict\n\n"
	  "The publisher's counters: slot_count, free_slots, loaned_slots, subscribers,\n"
	  "published, wakeups, disconnects, kicked, delivered, dropped, blocked,\n"
	  "blocked_ns, largest_held, largest_lane, and what came of huge_pages=True:\n"
	  "huge_pages (bool: the memory is on huge pages), huge_pages_err (0, or the\n"
	  "negative errno why not), huge_pages_note (words: \"2048 KiB pages\", the\n"
	  "reason, or \"not asked\"). See vdds_pub_stats(3)." },
	{ "fileno", (PyCFunction)pub_fileno, METH_NOARGS,
	  "fileno() -> int\n\n"
	  "vdds_pub_fd(): readable when there is control work for dispatch(). Only\n"
	  "with service_thread=False: InvalidArgument otherwise (the service thread\n"
	  "serves every publisher from one epoll set; they have no fd of their own)." },
	{ "dispatch", (PyCFunction)pub_dispatch, METH_NOARGS,
	  "dispatch()\n\n"
	  "Accept new subscribers and reclaim the slots of gone ones, without blocking.\n"
	  "Only for a publisher opened with service_thread=False." },
	{ "set_note", (PyCFunction)pub_set_note, METH_O,
	  "set_note(note)\n\n"
	  "vdds_pub_set_note(): a line of text that topic_info() and `vdds info` show\n"
	  "for this topic (a bridge's counters, say); cut at 127 bytes, control\n"
	  "characters become '?'. None or \"\" clears it. Any thread, any rate." },
	{ "close", (PyCFunction)pub_close, METH_NOARGS,
	  "close()\n\n"
	  "Stop publishing; subscribers see PublisherGone once they have taken what was\n"
	  "delivered. Pending loans become invalid. Raises BufferError (and stays open)\n"
	  "while a loan's memory is exported to a memoryview or array. Idempotent." },
	{ "__enter__", (PyCFunction)pub_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)pub_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef pub_getset[] = {
	{ "closed", (getter)pub_get_closed, NULL, "True once closed.", NULL },
	{ "topic", (getter)pub_get_topic, NULL, "The topic name.", NULL },
	{ "slot_size", (getter)pub_get_slot_size, NULL, "Payload bytes per slot.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject pyvdds__publisher_type = {
	/* the macro ends in a comma of its own, which clang-format cannot see */
	/* clang-format off */
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vdds.Publisher",
	/* clang-format on */
	.tp_basicsize = sizeof(PublisherObject),
	.tp_dealloc = (destructor)pub_dealloc,
	.tp_repr = (reprfunc)pub_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)pub_traverse,
	.tp_clear = (inquiry)pub_clear,
	/* the first lines are __text_signature__ (inspect.signature, help()) */
	.tp_doc = "Publisher(topic, slot_size=4096, slots=64, *, max_subscribers=32,\n"
		  "          type_name=None, type_size=0, service_thread=True, group=None,\n"
		  "          overflow=0, history=0, huge_pages=False)\n--\n\n"
		  "Open `topic` for publishing: `slots` slots of `slot_size` bytes in shared\n"
		  "memory, at most `max_subscribers` subscribers. type_name / type_size, when\n"
		  "given, must match what subscribers name (ProtocolMismatch otherwise).\n"
		  "group=gid also admits other users of that group. service_thread=False:\n"
		  "serve fileno() yourself with dispatch().\n\n"
		  "overflow: what loan() does when no slot is free: OVERFLOW_BLOCK (0) waits,\n"
		  "OVERFLOW_DROP_OLDEST takes back the oldest sample queued for the slowest\n"
		  "subscriber, OVERFLOW_FAIL raises WouldBlock. history: the last `history`\n"
		  "samples go first to subscribers that join later (at most slots // 2).\n"
		  "huge_pages=True: the topic's memory on huge pages (fewer TLB misses for\n"
		  "big slots) if any are reserved (vm.nr_hugepages), else normal pages:\n"
		  "stats()['huge_pages'] and ['huge_pages_note'] say which and why.\n\n"
		  "Raises TopicExists, AccessDenied, InvalidArgument (its `detail` names the\n"
		  "argument). A context manager: `with vdds.Publisher(...) as pub:` closes on\n"
		  "exit. Used by one thread at a time (RuntimeError otherwise); a child made\n"
		  "by fork() must open its own.",
	.tp_methods = pub_methods,
	.tp_getset = pub_getset,
	.tp_init = (initproc)pub_init,
	.tp_new = pub_new,
};
