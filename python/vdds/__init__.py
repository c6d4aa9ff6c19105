# vdds/__init__.py — the Python face of vdds: the C extension's classes and
# exceptions, and asyncio on top of Subscriber.fileno() (loop.add_reader).
"""Zero-copy publish/subscribe between processes on one Linux host.

A Publisher loans a slot of shared memory, the program writes into it in
place and publishes it; every Subscriber of the topic gets a read-only view
of the same bytes (a Sample, which supports the buffer protocol) and releases
it when done. Nothing is copied, whatever the size::

    import vdds, numpy as np

    with vdds.Publisher("frames", slot_size=1 << 20, slots=8) as pub:
        with pub.loan() as buf:                        # writable memoryview
            np.frombuffer(buf, np.float32)[:] = 1.5    # writes shared memory
            pub.publish(buf, 1 << 20)

    # another process
    with vdds.Subscriber("frames") as sub:
        for sample in sub:                             # until the publisher ends
            with sample:                               # released at the end
                frame = np.frombuffer(sample, np.float32)  # no copy
                print(sample.seq, frame.sum())
                del frame                              # before the release

asyncio: ``async for sample in sub`` and ``await sub.wait_async()`` sleep on
the subscriber's fd with ``loop.add_reader``; many subscribers, timers and
sockets share one loop.

Errors are exceptions carrying the vdds code as ``errno``, the library's
words as ``strerror`` and what was at fault as ``detail`` (the library's
vdds_last_error_detail(), or the argument Python found wrong; "" if none;
also in ``strerror``, after a colon); all derive from vdds.Error (an
OSError), and most also
from the built-in class Python code already catches: NoPublisher is a
FileNotFoundError, AccessDenied a PermissionError, Timeout a TimeoutError,
PublisherGone a BrokenPipeError, WouldBlock a BlockingIOError,
InvalidArgument and MessageTooLarge ValueErrors, TopicExists a
FileExistsError.

Lifetimes: a Sample keeps its Subscriber alive and a Loan its Publisher.
close() releases what is still held, but refuses (BufferError, like
mmap.close()) while a memoryview or numpy array still points into the shared
memory; so do Sample.release() and Publisher.publish(). When an exception
leaves a ``with`` block, that BufferError is not raised over it: what is still
viewed goes back when its last view goes. Subscriber.close() makes a pending
``await take_async()``/``wait_async()`` raise ValueError and ends an ``async for``.
publish() takes the loan or its whole view, never a slice (ValueError).
Topics and their publishers: ``vdds.topics()``, ``vdds.topic_info(topic)``
(what ``vdds ls`` and ``vdds info`` show), ``vdds.rundir()``.

Handles are used by one thread at a time; a child created by fork() opens its own. The runtime directory is $VDDS_DIR, else
$XDG_RUNTIME_DIR/vdds, else /tmp/vdds-<uid>.
"""

import asyncio as _asyncio
import contextlib as _contextlib
import errno as _errno

from . import _vdds
from ._vdds import (
    MAX_SUBSCRIBERS,
    OVERFLOW_BLOCK,
    OVERFLOW_DROP_OLDEST,
    OVERFLOW_FAIL,
    TOPIC_MAX,
    TYPE_NAME_MAX,
    AccessDenied,
    BadMessage,
    Error,
    InvalidArgument,
    Loan,
    MessageTooLarge,
    NoPublisher,
    OutOfMemory,
    ProtocolMismatch,
    Publisher,
    PublisherGone,
    Sample,
    Timeout,
    TooManySubscribers,
    NoBuffers,
    TopicExists,
    WouldBlock,
    error,
    error_class,
    rundir,
    strerror,
    topic_info,
    topics,
    version,
)

__version__ = _vdds.__version__

__all__ = [
    "Publisher",
    "Subscriber",
    "Loan",
    "Sample",
    "Error",
    "NoPublisher",
    "TopicExists",
    "AccessDenied",
    "ProtocolMismatch",
    "InvalidArgument",
    "MessageTooLarge",
    "Timeout",
    "WouldBlock",
    "PublisherGone",
    "TooManySubscribers",
    "NoBuffers",
    "OutOfMemory",
    "BadMessage",
    "error",
    "error_class",
    "strerror",
    "version",
    "rundir",
    "topics",
    "topic_info",
    "TOPIC_MAX",
    "TYPE_NAME_MAX",
    "MAX_SUBSCRIBERS",
    "OVERFLOW_BLOCK",
    "OVERFLOW_DROP_OLDEST",
    "OVERFLOW_FAIL",
]

# Samples an ``async for`` hands out in a row without letting other tasks
# run, when they keep arriving faster than they are taken.
_YIELD_EVERY = 64


class Subscriber(_vdds.Subscriber):
    """Subscribe to ``topic``; receives what is published after it joins.

    Raises NoPublisher if the topic has none, ProtocolMismatch if type_name or
    type_size (when given) differ from the publisher's (its ``detail`` says
    what the publisher has), AccessDenied, TooManySubscribers.

    type_name, type_size: what the publisher must have declared (None, 0: any).
    reconnect=True: when the publisher goes away, wait for the next one
    instead of ending (samples then carry the next epoch).
    busy_poll=True: for spin loops; take() enters the kernel only once per
    4096 empty takes (fileno() then reports only the publisher's end).
    publisher_uid: also trust a runtime directory owned by this uid (a
    publisher's with group access); by default only your own or root's.
    max_held: hold at most this many samples at once; past it take() raises
    NoBuffers until one is released (0: no limit), so that this subscriber
    cannot pin every slot.
    history=False: decline the publisher's history (its last ``history``
    samples, delivered first to a late joiner); receive only what is
    published after joining.
    spin_ns: wait(), receive() and ``for`` look at the ring for up to this
    many nanoseconds before sleeping: busy-poll latency under dense traffic,
    no CPU when idle (0: sleep at once; asyncio sleeps on the fd at once).

    Blocking:  ``take()`` (None when empty), ``wait(timeout)``,
    ``receive(timeout)``, ``for sample in sub``.
    asyncio:   ``await take_async()``, ``await wait_async(timeout)``,
    ``async for sample in sub``.
    A context manager: ``with vdds.Subscriber(...) as sub:`` closes on exit.

    close() while a task awaits take_async() or wait_async() makes that await
    raise ValueError (the closed-handle error) and ends an ``async for``; the
    fd leaves the event loop before it is closed. close() from another thread
    than the one running that loop raises RuntimeError (the subscriber stays
    open and the task waits on), as for a thread blocked in wait().
    """

    __slots__ = ("_wait", "_in_a_row")

    def __init__(
        self,
        topic,
        *,
        type_name=None,
        type_size=0,
        reconnect=False,
        busy_poll=False,
        publisher_uid=None,
        max_held=0,
        history=True,
        spin_ns=0,
    ):
        # first: it refuses a second __init__; the same signature as
        # _vdds.Subscriber's (tests/test_parity.py holds them together)
        super().__init__(
            topic,
            type_name=type_name,
            type_size=type_size,
            reconnect=reconnect,
            busy_poll=busy_poll,
            publisher_uid=publisher_uid,
            max_held=max_held,
            history=history,
            spin_ns=spin_ns,
        )
        self._wait = None  # (loop, fd, future, callback) while a task waits on the fd
        self._in_a_row = 0

    async def _readable(self):
        # Only called after take() returned None: from then on the fd wakes
        # us for a sample or the publisher's end, whichever contract the C
        # library keeps (armed by -EAGAIN, or level-triggered from open).
        if getattr(self, "_wait", None) is not None:
            raise RuntimeError("another task is already waiting on this Subscriber")
        loop = _asyncio.get_running_loop()
        woken = loop.create_future()

        def on_readable():
            if not woken.done():
                woken.set_result(None)

        fd = self.fileno()
        wait = self._wait = (loop, fd, woken, on_readable)
        try:
            try:
                loop.add_reader(fd, on_readable)
            except OSError:
                if not self.closed:
                    raise
            if self.closed:
                # closed by another thread since fileno() (a handle serves one
                # thread at a time; this only keeps the misuse from hanging)
                raise ValueError("I/O operation on closed Subscriber")
            await woken
        finally:
            # close() took the fd out of the loop already: its number may
            # belong to another subscriber by now
            if self._wait is wait:
                self._wait = None
                loop.remove_reader(fd)

    @_contextlib.contextmanager
    def _closing(self):
        """Around a close: the fd leaves the waiting task's loop first; once
        closed, the task's await raises ValueError; if the close was refused
        (BufferError), the task waits on as before."""
        wait = getattr(self, "_wait", None)  # unset if __init__ failed
        if wait is None:
            yield
            return
        loop, fd, woken, on_readable = wait
        try:
            running = _asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not running and loop.is_running():
            raise RuntimeError(
                "Subscriber is awaited in an event loop of another thread: close it there "
                "(a handle is used by one thread at a time)"
            )
        loop.remove_reader(fd)
        try:
            yield
        finally:
            if not self.closed:
                loop.add_reader(fd, on_readable)
            else:
                self._wait = None
                if not woken.done() and not loop.is_closed():
                    woken.set_exception(ValueError("I/O operation on closed Subscriber"))

    def close(self):
        """close()

        Disconnect. Every sample still held is released and becomes
        unreadable; a task awaiting take_async()/wait_async() gets ValueError
        and an ``async for`` ends. Raises BufferError (and stays open) while
        a sample's memory is exported to a memoryview or array. Idempotent."""
        with self._closing():
            super().close()

    def __exit__(self, *exc_info):
        with self._closing():
            return super().__exit__(*exc_info)

    async def take_async(self):
        """The next sample, waiting for it without blocking the event loop.

        Raises PublisherGone once the publisher is gone and everything it
        delivered was taken; BadMessage if it cut this subscriber off."""
        while True:
            sample = self.take()  # always first: never wait on the fd before
            if sample is not None:
                return sample
            await self._readable()

    async def wait_async(self, timeout=None):
        """Wait until take() has a sample, without blocking the event loop.

        The asyncio form of wait(): timeout in seconds (None: forever);
        raises Timeout, PublisherGone, BadMessage. The sample it found is
        kept for the next take()."""

        async def until_ready():
            while not self.ready():  # takes first, into take()'s hands
                await self._readable()

        if self.ready():  # at once, even for timeout 0
            return
        if timeout is None:
            await until_ready()
            return
        try:
            await _asyncio.wait_for(until_ready(), timeout)
        except _asyncio.TimeoutError:
            raise error(_errno.ETIMEDOUT) from None

    def __aiter__(self):
        return self

    async def __anext__(self):
        """Samples until the publisher is gone (PublisherGone ends the loop)
        or the subscriber is closed."""
        if self._in_a_row >= _YIELD_EVERY:
            # a stream that never runs dry must not starve the loop; before
            # the take, so that a cancellation here loses no sample
            self._in_a_row = 0
            await _asyncio.sleep(0)
        try:
            sample = self.take()
            if sample is None:
                self._in_a_row = 0
                sample = await self.take_async()
            else:
                self._in_a_row += 1
        except PublisherGone:
            raise StopAsyncIteration from None
        except ValueError:
            if self.closed:  # close() ends the loop, as the publisher's end does
                raise StopAsyncIteration from None
            raise
        return sample
