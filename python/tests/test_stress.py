# test_stress.py — random sequences of operations on shared publishers, subscribers,
# loans, samples, views, arrays and reference cycles, from several threads and
# asyncio tasks at once: every misuse must raise one of the documented errors and
# nothing may crash (CI runs it under ASan too). Bounded by an operation count and
# seeded: the seed is printed; VDDS_STRESS_SEED repeats a run, VDDS_STRESS_OPS sizes it.
import asyncio
import gc
import os
import random
import sys
import threading

import pytest

import vdds
from vddstest import wait_until

try:
    import numpy
except ImportError:  # the arrays are left out
    numpy = None

TOPICS = ("s0", "s1", "s2")
THREADS = 4
TASKS = 4
# what wrong use may raise; anything else fails the test
EXPECTED = (vdds.Error, ValueError, BufferError, RuntimeError, TypeError)


class Pub(vdds.Publisher):  # has a __dict__: cycles through it
    pass


class Sub(vdds.Subscriber):
    pass


class World:
    """Everything the workers share, in plain lists (each list operation is atomic)."""

    def __init__(self):
        self.pubs, self.subs, self.loans, self.views = [], [], [], []
        self.samples, self.arrays = [], []
        self.unexpected = []
        self.counts = {}

    def pick(self, rng, name):
        things = getattr(self, name)
        try:
            return things[rng.randrange(len(things))] if things else None
        except IndexError:  # another thread shrank the list meanwhile
            return None

    def drop(self, rng, name):
        things = getattr(self, name)
        try:
            if things:
                things.pop(rng.randrange(len(things)))
        except IndexError:
            pass


def op_open_pub(w, rng):
    cls = rng.choice((vdds.Publisher, Pub))
    w.pubs.append(
        cls(rng.choice(TOPICS), slot_size=rng.choice((16, 64, 4096)), slots=rng.choice((2, 4, 8)),
            overflow=rng.choice((vdds.OVERFLOW_BLOCK, vdds.OVERFLOW_DROP_OLDEST, vdds.OVERFLOW_FAIL)))
    )


def op_close_pub(w, rng):
    p = w.pick(rng, "pubs")
    if p is not None:
        p.close()


def op_loan(w, rng):
    p = w.pick(rng, "pubs")
    if p is not None:
        w.loans.append(p.loan(timeout=rng.choice((0, 0.002))))


def op_enter(w, rng):
    loan = w.pick(rng, "loans")
    if loan is not None:
        w.views.append(loan.__enter__())
        if rng.random() < 0.5:
            w.drop(rng, "loans")  # the view may now be the loan's only owner


def op_write_view(w, rng):
    v = w.pick(rng, "views")
    if v is not None:
        n = rng.randrange(1, 17)
        v[:n] = bytes([rng.randrange(256)]) * n


def op_publish(w, rng):
    p = w.pick(rng, "pubs")
    what = w.pick(rng, rng.choice(("loans", "views")))
    if p is None or what is None:
        return
    if isinstance(what, memoryview) and rng.random() < 0.2:
        what = what[rng.randrange(0, 4):]  # a slice: refused
    n = rng.choice((None, 0, 1, 8, 16, 64, 5000))
    if rng.random() < 0.5:
        p.publish(what, n)
    else:
        p.discard(what)


def op_pub_write(w, rng):
    p = w.pick(rng, "pubs")
    if p is not None:
        p.write(b"w" * rng.randrange(0, 20), timeout=rng.choice((0, 0.002)))


def op_open_sub(w, rng):
    cls = rng.choice((vdds.Subscriber, Sub))
    w.subs.append(cls(rng.choice(TOPICS), reconnect=rng.random() < 0.3))


def op_close_sub(w, rng):
    s = w.pick(rng, "subs")
    if s is not None:
        s.close()


def op_take(w, rng):
    s = w.pick(rng, "subs")
    if s is None:
        return
    how = rng.randrange(4)
    if how == 0:
        x = s.take()
    elif how == 1:
        x = s.receive(timeout=0.002)
    elif how == 2:
        s.wait(timeout=0.002)
        x = None
    else:
        s.ready()
        x = None
    if x is not None:
        w.samples.append(x)


def op_read_sample(w, rng):
    x = w.pick(rng, "samples")
    if x is None:
        return
    how = rng.randrange(4)
    if how == 0:
        bytes(x)
    elif how == 1:
        w.views.append(memoryview(x))
    elif how == 2 and numpy is not None:
        w.arrays.append(numpy.frombuffer(x, numpy.uint8))
    else:
        x.release()


def op_array_of_view(w, rng):
    v = w.pick(rng, "views")
    if v is not None and numpy is not None:
        w.arrays.append(numpy.frombuffer(v, numpy.uint8))


def op_release_view(w, rng):
    v = w.pick(rng, "views")
    if v is not None:
        v.release()


def op_drop(w, rng):
    w.drop(rng, rng.choice(("pubs", "subs", "loans", "views", "samples", "arrays", "arrays")))


def op_cycle(w, rng):
    """A handle that refers to what refers to it, then left to the collector."""
    h = w.pick(rng, rng.choice(("pubs", "subs")))
    if isinstance(h, (Pub, Sub)):
        h.mine = [w.pick(rng, "loans"), w.pick(rng, "samples"), w.pick(rng, "views"), h]


def op_reinit(w, rng):
    h = w.pick(rng, rng.choice(("pubs", "subs")))
    if h is not None:
        h.__init__(rng.choice(TOPICS))


def op_collect(w, rng):
    if rng.random() < 0.2:
        gc.collect()


def op_stats(w, rng):
    h = w.pick(rng, rng.choice(("pubs", "subs")))
    if h is not None:
        h.stats()


OPS = [op_open_pub, op_close_pub, op_loan, op_loan, op_enter, op_write_view, op_publish,
       op_publish, op_pub_write, op_pub_write, op_open_sub, op_close_sub, op_take, op_take,
       op_take, op_read_sample, op_read_sample, op_array_of_view, op_release_view, op_drop,
       op_drop, op_drop, op_cycle, op_reinit, op_collect, op_stats]


def run_op(w, rng, op):
    try:
        op(w, rng)
        outcome = "ok"
    except EXPECTED as e:
        outcome = type(e).__name__
    except Exception as e:  # noqa: BLE001 (reported with the seed below)
        w.unexpected.append(f"{op.__name__}: {type(e).__name__}: {e}")
        outcome = "UNEXPECTED"
    key = (op.__name__, outcome)
    w.counts[key] = w.counts.get(key, 0) + 1


def thread_worker(w, seed, ops):
    rng = random.Random(seed)
    for _ in range(ops):
        run_op(w, rng, rng.choice(OPS))


async def task_worker(w, rng, ops):
    """asyncio waits, cancelled by timeouts, and closes from the loop's own thread."""
    for _ in range(ops):
        s = w.pick(rng, "subs")
        how = rng.randrange(6)
        try:
            if s is None or how == 0:
                run_op(w, rng, rng.choice(OPS))
            elif how == 1:
                w.samples.append(await asyncio.wait_for(s.take_async(), rng.choice((0.001, 0.01))))
            elif how == 2:
                await s.wait_async(timeout=rng.choice((0, 0.001, 0.01)))
            elif how == 3:
                await with_timeout(s, w, rng)
            elif how == 4:
                s.close()  # may meet another task's wait: it must end, not hang
            else:
                await asyncio.sleep(0)
        except (EXPECTED + (asyncio.TimeoutError,)):
            pass
        except Exception as e:  # noqa: BLE001
            w.unexpected.append(f"task: {type(e).__name__}: {e}")


async def with_timeout(s, w, rng):
    async def consume():
        async for x in s:
            w.samples.append(x)
            if rng.random() < 0.5:
                break

    await asyncio.wait_for(consume(), 0.01)


def loop_worker(w, seed, ops):
    async def main():
        rngs = [random.Random(seed * 1000 + k) for k in range(TASKS)]
        await asyncio.gather(*(task_worker(w, r, ops) for r in rngs))

    asyncio.run(main())


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.isolated(show=True)
def test_random_operations_from_threads_and_tasks_raise_and_never_crash():
    seed = int(os.environ.get("VDDS_STRESS_SEED", random.randrange(1 << 32)))
    ops = int(os.environ.get("VDDS_STRESS_OPS", "10000"))
    print(f"stress: seed {seed} (VDDS_STRESS_SEED={seed} repeats it), {ops} operations "
          f"per thread ({THREADS}) and per asyncio task ({TASKS})", file=sys.stderr, flush=True)
    fds = open_fds()
    w = World()
    workers = [threading.Thread(target=thread_worker, args=(w, seed + k, ops)) for k in range(THREADS)]
    workers.append(threading.Thread(target=loop_worker, args=(w, seed, ops // 2)))
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not w.unexpected, f"seed {seed}: {w.unexpected[:20]}"
    done = sum(n for (name, outcome), n in w.counts.items())
    ok = sum(n for (name, outcome), n in w.counts.items() if outcome == "ok")
    print(f"stress: {done} operations, {ok} succeeded, the rest raised as documented",
          file=sys.stderr)
    # everything goes back: closed explicitly, or by the collector
    handles = w.pubs + w.subs
    for h in handles:
        vars(h).pop("mine", None) if hasattr(h, "__dict__") else None
    w.arrays.clear()
    w.views.clear()
    w.samples.clear()
    w.loans.clear()
    gc.collect()
    for h in handles:
        h.close()
    del handles, w
    gc.collect()
    wait_until(lambda: open_fds() <= fds, "every fd to close")
