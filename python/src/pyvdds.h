/* pyvdds.h — what the parts of the vdds._vdds extension module share: the
 * object types, the exceptions, the fork guard and blocking calls without the GIL. */
#ifndef PYVDDS_H
#define PYVDDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include <vdds.h>

extern PyTypeObject pyvdds__publisher_type;
extern PyTypeObject pyvdds__loan_type;
extern PyTypeObject pyvdds__subscriber_type;
extern PyTypeObject pyvdds__sample_type;

/* Set the vdds.Error subclass for err (a negative errno) as the current
 * exception, with vdds_strerror()'s text; `topic` (may be NULL) becomes its
 * filename. Returns NULL, so that `return pyvdds__raise(err, NULL);` reads. */
PyObject *pyvdds__raise(int err, PyObject *topic);

/* The topic's name in UTF-8 for the C library, or NULL with InvalidArgument
 * set for one with a NUL inside (C would see a shorter name). */
const char *pyvdds__topic_name(PyObject *topic);

/* Create the exception classes and add them to the module. */
int pyvdds__errors_init(PyObject *module);

/* The exception class for err (a negative or positive errno); borrowed. */
PyObject *pyvdds__error_class(int err);

/* +1 in every child that fork() creates. A handle opened under another
 * generation belongs to the parent: the child must neither use nor close it
 * (closing a publisher unlinks its socket, which the parent still serves). */
extern volatile unsigned long pyvdds__fork_gen;

/* Raise RuntimeError and return -1 if a handle of generation gen is used in a
 * child of the process that opened it. */
int pyvdds__check_fork(unsigned long gen);

/* A Python timeout in seconds (None: forever) as milliseconds: -1 for
 * forever, else >= 0, rounded up. Returns -1 with ValueError/TypeError set. */
int pyvdds__timeout_ms(PyObject *timeout, int64_t *ms);

/* A call that may block: fn(arg, ms) is called without the GIL in slices of
 * at most PYVDDS_SLICE_MS (or once with 0 when timeout_ms is 0), so that
 * Python signal handlers (Ctrl-C) run in between; between slices, with the
 * GIL held, between(arg) runs too (may be NULL). fn returns what a vdds call
 * returns; -ETIMEDOUT means its slice ran out. Returns fn's result,
 * -ETIMEDOUT when timeout_ms passed, or PYVDDS_RAISED when a signal handler
 * raised (the exception is set). */
#define PYVDDS_SLICE_MS 200
#define PYVDDS_RAISED 1
int pyvdds__blocking(int (*fn)(void *arg, int ms), void (*between)(void *arg), void *arg,
		     int64_t timeout_ms);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t pyvdds__now_ns(void);

/* "Publisher is closed" and the like: ValueError, as for files. */
PyObject *pyvdds__closed(const char *what);

/* What __exit__ returns after its release or close gave r: while an
 * exception leaves the `with` block (args[0] is not None), a BufferError from
 * a view still alive is dropped rather than hiding that exception; what is
 * viewed goes back when its last view does. */
PyObject *pyvdds__exit_result(PyObject *r, PyObject *args);

/* RuntimeError: another thread is inside a blocking call on this handle. */
PyObject *pyvdds__busy(const char *what);

/* May a handle be used now? 0, or -1 with the exception set: closed
 * (handle NULL), opened before a fork (fork_gen), or busy in another thread.
 * what: "Publisher", "Subscriber". */
int pyvdds__usable(const void *handle, unsigned long fork_gen, int busy, const char *what);

#endif /* PYVDDS_H */
