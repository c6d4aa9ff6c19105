/* module.c — the vdds._vdds extension module: its functions and constants,
 * vdds errors as Python exceptions, and blocking calls that release the GIL. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pyvdds.h"

volatile unsigned long pyvdds__fork_gen;

static void after_fork_in_child(void)
{
	pyvdds__fork_gen++;
}

int pyvdds__check_fork(unsigned long gen)
{
	if (gen == pyvdds__fork_gen)
		return 0;
	PyErr_SetString(PyExc_RuntimeError,
			"vdds handle opened by the parent process: a child created by fork() "
			"must open its own");
	return -1;
}

PyObject *pyvdds__closed(const char *what)
{
	PyErr_Format(PyExc_ValueError, "I/O operation on closed %s", what);
	return NULL;
}

PyObject *pyvdds__busy(const char *what)
{
	PyErr_Format(PyExc_RuntimeError,
		     "%s is in use by another thread (a handle is used by one thread at a time)",
		     what);
	return NULL;
}

int pyvdds__init_begin(int *state, const char *what)
{
	if (*state == PYVDDS_NEW) {
		*state = PYVDDS_OPENING;
		return 0;
	}
	/* a second open would overwrite, and leak, the first one's handle */
	PyErr_Format(PyExc_RuntimeError, "%s is already %s: __init__ opens a handle once", what,
		     *state == PYVDDS_OPENING ? "being opened (by another thread)" : "opened");
	return -1;
}

int pyvdds__usable(const void *handle, unsigned long fork_gen, int busy, const char *what)
{
	if (!handle) {
		pyvdds__closed(what);
		return -1;
	}
	if (pyvdds__check_fork(fork_gen) < 0)
		return -1;
	if (busy) {
		pyvdds__busy(what);
		return -1;
	}
	return 0;
}

PyObject *pyvdds__exit_result(PyObject *r, PyObject *args)
{
	if (!r && PyTuple_GET_SIZE(args) > 0 && PyTuple_GET_ITEM(args, 0) != Py_None &&
	    PyErr_ExceptionMatches(PyExc_BufferError)) {
		PyErr_Clear();
		Py_RETURN_NONE;
	}
	return r;
}

const char *pyvdds__topic_name(PyObject *topic)
{
	Py_ssize_t len;
	const char *name = PyUnicode_AsUTF8AndSize(topic, &len);

	if (name && strlen(name) != (size_t)len) {
		pyvdds__raise_arg(topic, "topic: a NUL at byte %zu", strlen(name));
		return NULL;
	}
	return name;
}

/* ------------------------------------------------------------ exceptions */

/* One class per vdds error code, each also a subclass of the built-in
 * exception Python code already catches for that errno. */
static struct error_kind {
	int err;
	const char *name;
	const char *builtin; /* the second base, from builtins; NULL: vdds.Error only */
	const char *doc;
	PyObject *cls;
} kinds[] = {
	{ ENOENT, "NoPublisher", "FileNotFoundError", "No publisher for the topic (ENOENT).",
	  NULL },
	{ EEXIST, "TopicExists", "FileExistsError",
	  "The topic already has a live publisher, in this or another process (EEXIST).", NULL },
	{ EACCES, "AccessDenied", "PermissionError",
	  "The publisher refuses this user, or the runtime directory is owned by someone else "
	  "or writable by others (EACCES).",
	  NULL },
	{ EPROTO, "ProtocolMismatch", NULL,
	  "Protocol version, type name or type size differ between publisher and subscriber "
	  "(EPROTO).",
	  NULL },
	{ EINVAL, "InvalidArgument", "ValueError", "A bad topic name, option or argument (EINVAL).",
	  NULL },
	{ EMSGSIZE, "MessageTooLarge", "ValueError",
	  "A sample larger than the slot size (EMSGSIZE).", NULL },
	{ ETIMEDOUT, "Timeout", "TimeoutError",
	  "A wait or a loan timed out (ETIMEDOUT); a subclass of TimeoutError.", NULL },
	{ EAGAIN, "WouldBlock", "BlockingIOError",
	  "Nothing available now: no free slot for a loan with timeout 0 (EAGAIN).", NULL },
	{ EPIPE, "PublisherGone", "BrokenPipeError",
	  "The publisher is gone and everything it delivered was taken (EPIPE).", NULL },
	{ ENOSPC, "TooManySubscribers", NULL,
	  "The publisher has its maximum number of subscribers (ENOSPC).", NULL },
	{ ENOBUFS, "NoBuffers", NULL,
	  "No slot can be had: every one holds a sample already taken (a DROP_OLDEST\n"
	  "publisher's loan), or max_held samples are held (take) (ENOBUFS).",
	  NULL },
	{ ENOMEM, "OutOfMemory", "MemoryError",
	  "The memory asked for cannot be had or mapped: slots x slot_size too large for the\n"
	  "address space or the system's limits (ENOMEM).",
	  NULL },
	{ EBADMSG, "BadMessage", NULL,
	  "The peer broke the protocol; a publisher cuts such a subscriber off (EBADMSG).", NULL },
};

static PyObject *error_base;

PyObject *pyvdds__error_class(int err)
{
	err = err < 0 ? -err : err;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].err == err)
			return kinds[i].cls;
	return error_base;
}

/* The exception instance for err (negative errno): vdds_strerror()'s text,
 * with the system's words added where vdds has none, and `why` (may be NULL:
 * nothing known) after a colon. `why` also becomes the attribute `detail`
 * ("" without one), so code can tell the words of a refusal apart from the
 * fixed text of its code. */
static PyObject *make_error_why(int err, PyObject *topic, const char *why)
{
	PyObject *cls = pyvdds__error_class(err), *exc;
	const char *text = vdds_strerror(err);
	char buf[320];

	why = why && why[0] ? why : NULL;
	if (strcmp(text, vdds_strerror(INT_MAX)) == 0) {
		snprintf(buf, sizeof(buf), "%s (%s)%s%s", text, strerror(-err), why ? ": " : "",
			 why ? why : "");
		text = buf;
	} else if (why) {
		snprintf(buf, sizeof(buf), "%s: %s", text, why);
		text = buf;
	}
	/* BlockingIOError reads a third argument as characters_written */
	if (topic && cls != pyvdds__error_class(EAGAIN))
		exc = PyObject_CallFunction(cls, "isO", -err, text, topic);
	else
		exc = PyObject_CallFunction(cls, "is", -err, text);
	if (!exc)
		return NULL;
	PyObject *detail = PyUnicode_DecodeUTF8(why ? why : "", why ? (Py_ssize_t)strlen(why) : 0,
						"replace");

	if (!detail || PyObject_SetAttrString(exc, "detail", detail) < 0) {
		Py_XDECREF(detail);
		Py_DECREF(exc);
		return NULL;
	}
	Py_DECREF(detail);
	return exc;
}

static PyObject *make_error(int err, PyObject *topic)
{
	return make_error_why(err, topic, NULL);
}

PyObject *pyvdds__raise(int err, PyObject *topic)
{
	return pyvdds__raise_why(err, topic, NULL);
}

PyObject *pyvdds__raise_why(int err, PyObject *topic, const char *why)
{
	PyObject *exc = make_error_why(err, topic, why);

	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *pyvdds__raise_detail(int err, PyObject *topic)
{
	return pyvdds__raise_why(err, topic, vdds_last_error_detail());
}

PyObject *pyvdds__raise_arg(PyObject *topic, const char *fmt, ...)
{
	char why[VDDS_ERROR_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return pyvdds__raise_why(-EINVAL, topic, why);
}

int pyvdds__detail_reset(const char *topic)
{
	/* vdds_topic_check() clears this thread's detail first, and names a bad
	 * topic's fault in it: what the next call leaves there is its own */
	return vdds_topic_check(topic);
}

static PyObject *builtin(const char *name)
{
	PyObject *b = PyEval_GetBuiltins(); /* borrowed */
	PyObject *cls = b ? PyDict_GetItemString(b, name) : NULL;

	if (!cls)
		PyErr_Format(PyExc_SystemError, "no builtin %s", name);
	return cls;
}

int pyvdds__errors_init(PyObject *module)
{
	error_base = PyErr_NewExceptionWithDoc(
		"vdds.Error",
		"Base class of every vdds error: an OSError whose errno is the vdds code\n"
		"and whose strerror is vdds_strerror()'s text.",
		PyExc_OSError, NULL);
	if (!error_base || PyModule_AddObjectRef(module, "Error", error_base) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct error_kind *k = &kinds[i];
		char qualified[64];
		PyObject *bases, *second = k->builtin ? builtin(k->builtin) : NULL;

		if (k->builtin && !second)
			return -1;
		bases = second ? PyTuple_Pack(2, error_base, second) : PyTuple_Pack(1, error_base);
		if (!bases)
			return -1;
		snprintf(qualified, sizeof(qualified), "vdds.%s", k->name);
		k->cls = PyErr_NewExceptionWithDoc(qualified, k->doc, bases, NULL);
		Py_DECREF(bases);
		if (!k->cls || PyModule_AddObjectRef(module, k->name, k->cls) < 0)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------- blocking calls */

int pyvdds__timeout_ms(PyObject *timeout, int64_t *ms)
{
	if (timeout == NULL || timeout == Py_None) {
		*ms = -1;
		return 0;
	}
	double s = PyFloat_AsDouble(timeout);

	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(s) || s < 0) {
		PyErr_SetString(PyExc_ValueError, "timeout must be None or a number >= 0");
		return -1;
	}
	/* ~292 million years: forever */
	*ms = s * 1000.0 >= (double)(INT64_MAX / 1000000) ? -1 : (int64_t)ceil(s * 1000.0);
	return 0;
}

int64_t pyvdds__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int pyvdds__blocking(int (*fn)(void *arg, int ms), void (*between)(void *arg), void *arg,
		     int64_t timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? pyvdds__now_ns() + timeout_ms * 1000000 : 0;
	int r;

	if (timeout_ms == 0) {
		Py_BEGIN_ALLOW_THREADS r = fn(arg, 0);
		Py_END_ALLOW_THREADS return r;
	}
	for (;;) {
		int64_t left_ms = PYVDDS_SLICE_MS;

		if (timeout_ms > 0) {
			int64_t left_ns = deadline - pyvdds__now_ns();

			if (left_ns <= 0)
				return -ETIMEDOUT;
			/* rounded up: a slice never ends before the deadline */
			left_ms = (left_ns + 999999) / 1000000;
		}
		int ms = (int)(left_ms < PYVDDS_SLICE_MS ? left_ms : PYVDDS_SLICE_MS);

		Py_BEGIN_ALLOW_THREADS r = fn(arg, ms);
		Py_END_ALLOW_THREADS if (r != -ETIMEDOUT) return r;
		if (PyErr_CheckSignals() < 0)
			return PYVDDS_RAISED;
		if (between)
			between(arg);
	}
}

/* -------------------------------------------------------------- functions */

static int code_arg(PyObject *arg, int *err)
{
	long v = PyLong_AsLong(arg);

	if (v == -1 && PyErr_Occurred())
		return -1;
	/* out of range: no such code, which vdds calls a system error */
	*err = v < -INT_MAX || v > INT_MAX ? INT_MAX : (int)v;
	return 0;
}

static PyObject *mod_strerror(PyObject *self, PyObject *arg)
{
	(void)self;
	int err;

	return code_arg(arg, &err) < 0 ? NULL : PyUnicode_FromString(vdds_strerror(err));
}

static PyObject *mod_version(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyUnicode_FromString(vdds_version());
}

static PyObject *mod_error_class(PyObject *self, PyObject *arg)
{
	(void)self;
	int err;

	return code_arg(arg, &err) < 0 ? NULL : Py_NewRef(pyvdds__error_class(err));
}

static PyObject *mod_error(PyObject *self, PyObject *arg)
{
	(void)self;
	int err;

	if (code_arg(arg, &err) < 0)
		return NULL;
	if (err == 0) {
		PyErr_SetString(PyExc_ValueError, "0 is not an error code");
		return NULL;
	}
	return make_error(err < 0 ? err : -err, NULL);
}

static PyMethodDef module_methods[] = {
	{ "strerror", mod_strerror, METH_O,
	  "strerror(code) -> str\n\nvdds_strerror(): the text for a vdds error code (a negative or "
	  "positive errno)." },
	{ "version", mod_version, METH_NOARGS,
	  "version() -> str\n\nThe C library's version, \"MAJOR.MINOR.PATCH\"." },
	{ "error_class", mod_error_class, METH_O,
	  "error_class(code) -> type\n\nThe vdds.Error subclass raised for a vdds error code." },
	{ "error", mod_error, METH_O,
	  "error(code) -> vdds.Error\n\nA new exception for a vdds error code, as vdds raises "
	  "it." },
	{ "rundir", (PyCFunction)(void (*)(void))pyvdds__mod_rundir, METH_VARARGS | METH_KEYWORDS,
	  "rundir(create=False) -> str\n\n"
	  "vdds_rundir(): the runtime directory, $VDDS_DIR, else $XDG_RUNTIME_DIR/vdds,\n"
	  "else /tmp/vdds-<uid>; create=True makes it (0700) when missing. Raises\n"
	  "NoPublisher (FileNotFoundError) if it is missing, AccessDenied if it is not a\n"
	  "directory, belongs to another user or others may write to it." },
	{ "topics", (PyCFunction)(void (*)(void))pyvdds__mod_topics, METH_VARARGS | METH_KEYWORDS,
	  "topics(dir=None) -> list[str]\n\n"
	  "vdds_topic_list(): the topics with a socket in the runtime directory (or dir),\n"
	  "sorted: those with a publisher, and those a dead one left behind (topic_info()\n"
	  "tells which). [] when the runtime directory does not exist yet." },
	{ "topic_info", (PyCFunction)(void (*)(void))pyvdds__mod_topic_info,
	  METH_VARARGS | METH_KEYWORDS,
	  "topic_info(topic, *, dir=None, timeout=1.0) -> dict\n\n"
	  "vdds_topic_info(): ask the topic's publisher about itself (nothing is\n"
	  "subscribed), waiting up to timeout seconds (None: forever). The keys are the\n"
	  "fields of struct vdds_topic_info: pid, uid, start_ns (CLOCK_REALTIME at open),\n"
	  "slot_size, slot_count, max_subscribers, type_size, overflow, history, n_subs,\n"
	  "type_name, free_slots, loaned_slots, subscribers, published, wakeups,\n"
	  "disconnects, kicked, note, and subs: one dict per subscriber (pid, uid,\n"
	  "lane, held, queued, lost). type_name and note are the publisher's words.\n"
	  "Raises NoPublisher, Timeout, AccessDenied, ProtocolMismatch, BadMessage,\n"
	  "or vdds.Error (ECONNREFUSED: its publisher died)." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "vdds._vdds",
	.m_doc = "The C extension behind the vdds package; import vdds instead.",
	.m_size = -1,
	.m_methods = module_methods,
};

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
	if (PyType_Ready(t) < 0)
		return -1;
	return PyModule_AddObjectRef(m, name, (PyObject *)t);
}

PyMODINIT_FUNC PyInit__vdds(void);
PyMODINIT_FUNC PyInit__vdds(void)
{
	static int atfork_done;
	PyObject *m = PyModule_Create(&module_def);

	if (!m)
		return NULL;
	if (!atfork_done) {
		if (pthread_atfork(NULL, NULL, after_fork_in_child) != 0) {
			PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
			goto err_module;
		}
		atfork_done = 1;
	}
	if (pyvdds__errors_init(m) < 0 || add_type(m, &pyvdds__publisher_type, "Publisher") < 0 ||
	    add_type(m, &pyvdds__loan_type, "Loan") < 0 ||
	    add_type(m, &pyvdds__subscriber_type, "Subscriber") < 0 ||
	    add_type(m, &pyvdds__sample_type, "Sample") < 0 ||
	    PyModule_AddIntConstant(m, "TOPIC_MAX", VDDS_TOPIC_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "TYPE_NAME_MAX", VDDS_TYPE_NAME_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "MAX_SUBSCRIBERS", VDDS_MAX_SUBSCRIBERS) < 0 ||
	    PyModule_AddIntConstant(m, "OVERFLOW_BLOCK", VDDS_OVERFLOW_BLOCK) < 0 ||
	    PyModule_AddIntConstant(m, "OVERFLOW_DROP_OLDEST", VDDS_OVERFLOW_DROP_OLDEST) < 0 ||
	    PyModule_AddIntConstant(m, "OVERFLOW_FAIL", VDDS_OVERFLOW_FAIL) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", vdds_version()) < 0)
		goto err_module;
	return m;

err_module:
	Py_DECREF(m);
	return NULL;
}
