# test_asyncio.py — subscribers in an asyncio loop (loop.add_reader on their fd):
# several with a timer in one loop, woken from the first sample on, one sample
# per await, timeouts, cancellation, the publisher's end.
import asyncio
import contextlib
import random
import subprocess

import pytest

import vdds
from vddstest import check_message, start_peer

BOUND_S = 60  # a stall fails the test instead of hanging it


def run(coro):
    async def bounded():
        return await asyncio.wait_for(coro, BOUND_S)

    return asyncio.run(bounded())


async def subscribe_async(topic):
    while True:
        try:
            return vdds.Subscriber(topic)
        except vdds.NoPublisher:
            await asyncio.sleep(0.001)


def no_reader_left(sub):
    return asyncio.get_running_loop().remove_reader(sub.fileno()) is False


def test_two_subscribers_and_a_timer_share_one_loop(peer):
    # Each C publisher sends one burst of 1-64 messages per byte it reads; the
    # loop's timer sends the bytes. Nothing arrives unless the timer runs while
    # both subscribers wait in the same loop.
    count = 20_000
    pubs = {
        t: start_peer(peer, "pub", t, count, 1, "gated", stdin=subprocess.PIPE)
        for t in ("left", "right")
    }

    async def main():
        loop = asyncio.get_running_loop()
        ticks = 0
        open_gates = dict(pubs)
        timer = None

        def tick():
            nonlocal ticks, timer
            ticks += 1
            for topic, proc in list(open_gates.items()):
                try:
                    proc.stdin.write("g")
                    proc.stdin.flush()
                except BrokenPipeError:  # it published everything and left
                    del open_gates[topic]
            timer = loop.call_later(0.001, tick)

        async def consume(topic):
            got = 0
            with await subscribe_async(topic) as sub:
                async for sample in sub:
                    with sample:
                        check_message(sample, got)
                    got += 1
                assert no_reader_left(sub)
            open_gates.pop(topic, None)
            return got

        tick()
        got = await asyncio.gather(consume("left"), consume("right"))
        timer.cancel()
        return got, ticks

    try:
        got, ticks = run(main())
    finally:
        for proc in pubs.values():
            proc.kill()
            proc.wait()
            with contextlib.suppress(BrokenPipeError):  # bytes it never read
                proc.stdin.close()
    assert got == [count, count]
    assert ticks >= count // 64  # every burst needed a tick of the timer


def test_a_subscriber_waiting_before_the_first_sample_is_woken_by_it():
    async def main():
        with vdds.Publisher("first") as pub, vdds.Subscriber("first") as sub:
            waiting = asyncio.ensure_future(sub.take_async())
            await asyncio.sleep(0)  # it took nothing and waits on the fd
            assert not waiting.done()
            asyncio.get_running_loop().call_soon(pub.write, b"first")
            with await waiting as sample:
                assert bytes(sample) == b"first"

    run(main())


def test_one_sample_per_await_gets_every_burst_in_order():
    # bursts of 1-64 with pauses; the consumer takes exactly one sample per
    # await and may find one every time, so it must never stall
    total = 5_000
    rng = random.Random(7)

    async def main():
        loop = asyncio.get_running_loop()
        with vdds.Publisher("bursts", slot_size=8, slots=128) as pub:
            with vdds.Subscriber("bursts") as sub:
                sent = 0

                def burst():
                    nonlocal sent
                    for _ in range(min(rng.randint(1, 64), total - sent)):
                        sent += 1
                        pub.write(sent.to_bytes(8, "little"), timeout=0)
                    if sent < total:
                        loop.call_later(rng.choice((0, 0.0005, 0.002)), burst)

                loop.call_soon(burst)
                for expect in range(1, total + 1):
                    with await sub.take_async() as sample:
                        assert int.from_bytes(sample, "little") == expect

    run(main())


def test_wait_async_times_out_with_Timeout_and_leaves_no_reader():
    async def main():
        with vdds.Publisher("quiet"), vdds.Subscriber("quiet") as sub:
            with pytest.raises(vdds.Timeout):
                await sub.wait_async(0.01)
            assert no_reader_left(sub)

    run(main())


def test_wait_async_returns_for_a_sample_and_keeps_it_for_take():
    async def main():
        with vdds.Publisher("kept") as pub, vdds.Subscriber("kept") as sub:
            asyncio.get_running_loop().call_later(0.001, pub.write, b"k")
            await sub.wait_async()
            await sub.wait_async(timeout=0)  # still there: returns at once
            assert bytes(sub.take()) == b"k"
            assert sub.take() is None

    run(main())


def test_async_for_ends_when_the_publisher_is_gone():
    async def main():
        pub = vdds.Publisher("end")
        with vdds.Subscriber("end") as sub:
            loop = asyncio.get_running_loop()
            loop.call_later(0.001, pub.write, b"a")
            loop.call_later(0.002, pub.write, b"b")
            loop.call_later(0.003, pub.close)
            got = [bytes(s) async for s in sub]
            with pytest.raises(vdds.PublisherGone):
                await sub.take_async()
            return got

    assert run(main()) == [b"a", b"b"]


def test_a_second_task_waiting_on_the_same_subscriber_gets_RuntimeError():
    async def main():
        with vdds.Publisher("shared") as pub, vdds.Subscriber("shared") as sub:
            first = asyncio.ensure_future(sub.take_async())
            await asyncio.sleep(0)
            with pytest.raises(RuntimeError):
                await sub.take_async()
            pub.write(b"one")
            with await first as sample:
                assert bytes(sample) == b"one"

    run(main())


def test_a_cancelled_wait_leaves_no_reader_and_the_subscriber_usable():
    async def main():
        with vdds.Publisher("cancel") as pub, vdds.Subscriber("cancel") as sub:
            waiting = asyncio.ensure_future(sub.take_async())
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert no_reader_left(sub)
            pub.write(b"after")
            with await sub.take_async() as sample:
                assert bytes(sample) == b"after"

    run(main())


def test_a_stream_that_never_runs_dry_still_lets_other_tasks_run():
    async def main():
        with vdds.Publisher("flood", slot_size=8, slots=512) as pub:
            with vdds.Subscriber("flood") as sub:
                for i in range(300):
                    pub.write(b"x")
                others_ran = 0

                async def other():
                    nonlocal others_ran
                    while True:
                        others_ran += 1
                        await asyncio.sleep(0)

                task = asyncio.ensure_future(other())
                await asyncio.sleep(0)
                ran_before = others_ran
                n = 0
                async for sample in sub:  # 300 samples, all there already
                    sample.release()
                    n += 1
                    if n == 300:
                        break
                task.cancel()
                return others_ran - ran_before

    assert run(main()) >= 300 // 64
