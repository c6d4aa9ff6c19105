# test_close_awaited.py — Subscriber.close() while a task awaits it: every pending
# take_async()/wait_async() raises ValueError (closed), an `async for` ends, the fd
# leaves the event loop before it is closed, and a later subscriber that gets the
# same fd number is woken as any other (issue #27 point 3). Every await is bounded:
# a hang fails the test.
import asyncio
import subprocess
import sys
import threading

import pytest

import vdds

pytestmark = pytest.mark.isolated

BOUND_S = 20


def run(coro):
    async def bounded():
        return await asyncio.wait_for(coro, BOUND_S * 2)

    return asyncio.run(bounded())


async def until_waiting(sub):
    """Let the task run until it sleeps on the subscriber's fd."""
    for _ in range(1000):
        if sub._wait is not None:
            return
        await asyncio.sleep(0.001)
    pytest.fail("the task never waited on the subscriber")


def waiter_kinds():
    return {
        "take_async": lambda sub: sub.take_async(),
        "wait_async": lambda sub: sub.wait_async(),
        "wait_async(timeout)": lambda sub: sub.wait_async(timeout=BOUND_S * 4),
    }


@pytest.mark.parametrize("how", ["close", "with"])
@pytest.mark.parametrize("kind", list(waiter_kinds()))
def test_close_fails_a_pending_wait_with_the_closed_error(kind, how):
    async def main():
        with vdds.Publisher("aw", slot_size=64, slots=4):
            sub = vdds.Subscriber("aw")
            task = asyncio.create_task(waiter_kinds()[kind](sub))
            await until_waiting(sub)
            fd = sub.fileno()
            if how == "close":
                sub.close()
            else:
                with sub:
                    pass
            assert sub.closed and sub._wait is None
            assert not asyncio.get_running_loop().remove_reader(fd)  # out of the loop already
            with pytest.raises(ValueError, match="closed Subscriber"):
                await asyncio.wait_for(task, BOUND_S)

    run(main())


def test_close_ends_an_async_for_after_what_it_took():
    async def main():
        with vdds.Publisher("af", slot_size=64, slots=8) as pub:
            sub = vdds.Subscriber("af")
            got = []

            async def consume():
                async for s in sub:
                    with s:
                        got.append(bytes(s))
                return "ended"

            task = asyncio.create_task(consume())
            for i in range(3):
                pub.write(b"%d" % i)
            await until_waiting(sub)
            while len(got) < 3:
                await asyncio.sleep(0.001)
            await until_waiting(sub)
            sub.close()
            assert await asyncio.wait_for(task, BOUND_S) == "ended"
            assert got == [b"0", b"1", b"2"]

    run(main())


PUBLISHER = """
import sys, vdds
with vdds.Publisher(sys.argv[1], slot_size=64, slots=4) as pub:
    print("ready", flush=True)
    for line in sys.stdin:  # one sample per line
        pub.write(line.strip().encode())
"""


def test_a_subscriber_that_reuses_the_closed_fd_number_is_woken():
    # the publisher in another process: here, only subscribers take fd numbers
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, "reuse"], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == "ready\n"

    async def main():
        for round in range(20):
            old = vdds.Subscriber("reuse")
            old_fd = old.fileno()
            task = asyncio.create_task(old.take_async())
            await until_waiting(old)
            old.close()
            with pytest.raises(ValueError):
                await asyncio.wait_for(task, BOUND_S)
            new = vdds.Subscriber("reuse")
            assert new.fileno() == old_fd  # the kernel hands out the lowest free number
            waiting = asyncio.create_task(new.take_async())
            await until_waiting(new)
            proc.stdin.write(f"r{round}\n")
            proc.stdin.flush()
            with await asyncio.wait_for(waiting, BOUND_S) as s:
                assert bytes(s) == b"r%d" % round
            new.close()

    try:
        run(main())
    finally:
        proc.stdin.close()
        assert proc.wait(BOUND_S) == 0


def test_a_refused_close_leaves_the_wait_in_place():
    async def main():
        with vdds.Publisher("refused", slot_size=64, slots=4) as pub:
            sub = vdds.Subscriber("refused")
            pub.write(b"held")
            view = memoryview(sub.take())  # close() refuses while this lives
            task = asyncio.create_task(sub.take_async())
            await until_waiting(sub)
            with pytest.raises(BufferError):
                sub.close()
            assert not sub.closed and sub._wait is not None
            pub.write(b"next")
            with await asyncio.wait_for(task, BOUND_S) as s:
                assert bytes(s) == b"next"
            view.release()
            sub.close()

    run(main())


def test_close_from_another_thread_than_the_waiting_loop_raises_and_the_wait_goes_on():
    with vdds.Publisher("thr", slot_size=64, slots=4) as pub:
        sub = vdds.Subscriber("thr")
        waiting = threading.Event()
        result = []

        async def in_loop():
            task = asyncio.create_task(sub.take_async())
            await until_waiting(sub)
            waiting.set()
            with await asyncio.wait_for(task, BOUND_S) as s:
                result.append(bytes(s))

        t = threading.Thread(target=lambda: asyncio.run(in_loop()))
        t.start()
        assert waiting.wait(BOUND_S)
        with pytest.raises(RuntimeError, match="another thread"):
            sub.close()
        assert not sub.closed
        pub.write(b"still served")
        t.join(BOUND_S * 2)
        assert not t.is_alive() and result == [b"still served"]
        sub.close()
