/* topics.c — vdds.rundir(), vdds.topics() and vdds.topic_info(): the runtime
 * directory, its topics and a publisher's own account, through the public
 * introspection calls (what `vdds ls` and `vdds info` show). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pyvdds.h"

/* The runtime directory and topic paths fit in this. */
#define PATH_CAP 4096

/* A publisher's bytes (type name, note) as str: NUL-terminated within cap,
 * anything not UTF-8 replaced, never an exception for the publisher's sake. */
static PyObject *peer_str(const char *s, size_t cap)
{
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strnlen(s, cap), "replace");
}

/* The directory argument: NULL for None (the library's choice). */
static int dir_arg(PyObject *dir, PyObject **bytes, const char **path)
{
	*bytes = NULL;
	*path = NULL;
	if (dir == Py_None)
		return 0;
	if (!PyUnicode_FSConverter(dir, bytes))
		return -1;
	*path = PyBytes_AS_STRING(*bytes);
	return 0;
}

PyObject *pyvdds__mod_rundir(PyObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "create", NULL };
	char buf[PATH_CAP];
	int create = 0, err;

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:rundir", kwlist, &create))
		return NULL;
	buf[0] = '\0';
	Py_BEGIN_ALLOW_THREADS err = vdds_rundir(buf, sizeof(buf), create);
	Py_END_ALLOW_THREADS if (err < 0)
	{
		PyObject *path = buf[0] ? PyUnicode_DecodeFSDefault(buf) : NULL;

		pyvdds__raise_detail(err, path);
		Py_XDECREF(path);
		return NULL;
	}
	return PyUnicode_DecodeFSDefault(buf);
}

static int add_topic(const char *topic, void *arg)
{
	PyObject *name = PyUnicode_FromString(topic);
	int r = name ? PyList_Append((PyObject *)arg, name) : -1;

	Py_XDECREF(name);
	return r < 0 ? 1 : 0; /* 1: stop, the exception is set */
}

PyObject *pyvdds__mod_topics(PyObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "dir", NULL };
	PyObject *dir = Py_None, *bytes, *list;
	const char *path;
	int err;

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:topics", kwlist, &dir) ||
	    dir_arg(dir, &bytes, &path) < 0)
		return NULL;
	list = PyList_New(0);
	if (!list)
		goto out;
	/* with the GIL: the callback appends to a list; listing a directory
	 * is a few getdents calls */
	err = vdds_topic_list(path, NULL, add_topic, list);
	if (err == 1) {
		Py_CLEAR(list);
	} else if (err == -ENOENT && dir == Py_None) {
		/* no runtime directory yet: nobody has published */
	} else if (err < 0) {
		Py_CLEAR(list);
		pyvdds__raise_detail(err, dir == Py_None ? NULL : dir);
	} else if (PyList_Sort(list) < 0) {
		Py_CLEAR(list);
	}
out:
	Py_XDECREF(bytes);
	return list;
}

/* One subscriber row: every field of struct vdds_topic_sub. */
static PyObject *sub_row(const struct vdds_topic_sub *s)
{
	return Py_BuildValue("{sisIsIsIsIsK}", "pid", (int)s->pid, "uid", s->uid, "lane", s->lane,
			     "held", s->held, "queued", s->queued, "lost",
			     (unsigned long long)s->lost);
}

/* Every field of struct vdds_topic_info (tests/test_parity.py compares). */
static PyObject *info_dict(const struct vdds_topic_info *in)
{
	uint32_t n = in->n_subs < VDDS_MAX_SUBSCRIBERS ? in->n_subs : VDDS_MAX_SUBSCRIBERS;
	PyObject *subs = PyList_New(n);

	if (!subs)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		PyObject *row = sub_row(&in->subs[i]);

		if (!row) {
			Py_DECREF(subs);
			return NULL;
		}
		PyList_SET_ITEM(subs, i, row);
	}
	return Py_BuildValue(
		"{sisIsKsKsIsIsIsIsIsIsNsIsIsIsKsKsKsKsNsN}", "pid", (int)in->pid, "uid", in->uid,
		"start_ns", (unsigned long long)in->start_ns, "slot_size",
		(unsigned long long)in->slot_size, "slot_count", in->slot_count, "max_subscribers",
		in->max_subscribers, "type_size", in->type_size, "overflow", in->overflow,
		"history", in->history, "n_subs", n, "type_name",
		peer_str(in->type_name, sizeof(in->type_name)), "free_slots", in->free_slots,
		"loaned_slots", in->loaned_slots, "subscribers", in->subscribers, "published",
		(unsigned long long)in->published, "wakeups", (unsigned long long)in->wakeups,
		"disconnects", (unsigned long long)in->disconnects, "kicked",
		(unsigned long long)in->kicked, "note", peer_str(in->note, sizeof(in->note)),
		"subs", subs);
}

struct ask {
	const char *dir, *topic;
	struct vdds_topic_info *info;
};

static int ask_fn(void *arg, int ms)
{
	struct ask *a = arg;

	return vdds_topic_info(a->dir, a->topic, a->info, ms);
}

PyObject *pyvdds__mod_topic_info(PyObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "topic", "dir", "timeout", NULL };
	PyObject *topic, *dir = Py_None, *timeout = NULL, *bytes = NULL, *ret = NULL;
	struct ask a = { 0 };
	int64_t ms;
	int err;

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$OO:topic_info", kwlist, &topic, &dir,
					 &timeout))
		return NULL;
	if (!timeout) {
		ms = 1000;
	} else if (pyvdds__timeout_ms(timeout, &ms) < 0) {
		return NULL;
	}
	if (!(a.topic = pyvdds__topic_name(topic)) || dir_arg(dir, &bytes, &a.dir) < 0)
		goto out;
	/* ~17 KiB with every subscriber row: not on the stack */
	a.info = PyMem_RawCalloc(1, sizeof(*a.info));
	if (!a.info) {
		PyErr_NoMemory();
		goto out;
	}
	/* in slices, so that Ctrl-C ends a long wait; each slice asks anew */
	err = pyvdds__blocking(ask_fn, NULL, &a, ms);
	if (err == PYVDDS_RAISED)
		goto out;
	if (err < 0) {
		pyvdds__raise_detail(err, topic);
		goto out;
	}
	ret = info_dict(a.info);
out:
	PyMem_RawFree(a.info);
	Py_XDECREF(bytes);
	return ret;
}
