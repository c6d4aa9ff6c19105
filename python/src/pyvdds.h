/* pyvdds.h — what the parts of the vdds._vdds extension module share: the
 * object types, the exceptions, the fork guard and blocking calls without the GIL.
 *
 * Ownership: no Python code, however wrong, may leave a pointer into memory
 * that is freed or unmapped. The rules that make it so:
 *
 * - A Loan owns one slot of its Publisher from loan() until publish, discard,
 *   its dealloc or the publisher's close; it holds a strong reference to its
 *   Publisher (`owner`) from creation to dealloc, never cleared earlier, so
 *   every method may use it. The Publisher's `held` list is borrowed: a Loan
 *   unlinks itself when it lets its slot go. A Sample and its Subscriber are
 *   the same (`owner`, the `held` list).
 * - A buffer exported by a Loan or a Sample (memoryview, numpy array) holds a
 *   strong reference to it, and is counted in `exports`: the slot is not given
 *   back while one is alive (BufferError), except for the one memoryview a
 *   Loan's `with` handed out, which the extension itself releases first.
 * - Releasing a memoryview may drop the last reference to what it views and
 *   dealloc it there and then. Every path that releases a view (loan_of, the
 *   walk of close, discard) first takes a strong reference to each object it
 *   still reads after the release, and drops it only when done.
 * - The shared memory of a handle is unmapped only by close/dealloc of the
 *   handle, and only once no export is left: close refuses with BufferError
 *   otherwise (after releasing what it could; nothing is unmapped), and a
 *   handle cannot be deallocated while a Loan or Sample refers to it.
 * - Garbage collection: Publisher, Subscriber, Loan and Sample are tracked;
 *   traverse reports `owner` and `topic`. A handle's tp_clear drops its topic;
 *   a Loan's or Sample's gives its slot back if nothing views it, but keeps
 *   `owner` (the cycle is broken at the other objects' references: a Loan's
 *   or Sample's only strong one is its owner).
 * - A handle is opened once: __init__ on one being opened (another thread,
 *   the GIL let go during open) or already opened, even if since closed,
 *   raises RuntimeError.
 * - asyncio (vdds/__init__.py): a task waiting on a Subscriber's fd is
 *   recorded in `_wait`; close() removes the fd from that loop before the fd
 *   is closed and fails the task's future with the closed-handle ValueError. */
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

/* pyvdds__raise() with `why` (the limit or argument at fault; NULL or "":
 * none) after the text and as the exception's attribute `detail`. Every vdds
 * exception has that attribute ("" when nothing more is known). */
PyObject *pyvdds__raise_why(int err, PyObject *topic, const char *why);

/* pyvdds__raise_why() with vdds_last_error_detail(): only after a call that
 * cleared the detail first (an open after pyvdds__detail_reset(), a
 * handshake), or the words would be an older call's. */
PyObject *pyvdds__raise_detail(int err, PyObject *topic);

/* InvalidArgument naming the argument at fault: a printf format, e.g.
 * ("slot_size %zd: must be at least 1", n). */
PyObject *pyvdds__raise_arg(PyObject *topic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An optional uid or gid argument (None: not given, *id unchanged) into
 * *id: 0, or -1 with InvalidArgument naming `what` set. */
int pyvdds__id_arg(PyObject *topic, PyObject *arg, const char *what, uint32_t *id);

/* Clear this thread's vdds_last_error_detail() before an open, by checking
 * the topic name: 0, or -EINVAL with the name's fault as the detail. */
int pyvdds__detail_reset(const char *topic);

/* The topic's name in UTF-8 for the C library, or NULL with InvalidArgument
 * set for one with a NUL inside (C would see a shorter name). */
const char *pyvdds__topic_name(PyObject *topic);

/* vdds.rundir(), vdds.topics(), vdds.topic_info() (topics.c). */
PyObject *pyvdds__mod_rundir(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *pyvdds__mod_topics(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *pyvdds__mod_topic_info(PyObject *self, PyObject *args, PyObject *kwds);

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

/* A handle's life: __init__ moves it NEW -> OPENING (GIL let go during the
 * open) -> OPENED, or back to NEW when the open fails; OPENED stays after close. */
enum pyvdds__state { PYVDDS_NEW, PYVDDS_OPENING, PYVDDS_OPENED };

/* Start an __init__: 0 and the state OPENING, or -1 with RuntimeError set if
 * the handle is being opened or was opened. what: "Publisher", "Subscriber". */
int pyvdds__init_begin(int *state, const char *what);

/* RuntimeError: another thread is inside a blocking call on this handle. */
PyObject *pyvdds__busy(const char *what);

/* May a handle be used now? 0, or -1 with the exception set: closed
 * (handle NULL), opened before a fork (fork_gen), or busy in another thread.
 * what: "Publisher", "Subscriber". */
int pyvdds__usable(const void *handle, unsigned long fork_gen, int busy, const char *what);

#endif /* PYVDDS_H */
