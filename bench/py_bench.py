#!/usr/bin/python3
# py_bench.py — the Python package against plain Python mechanisms, in one run:
# 64 B round trips (vdds vs an os.eventfd pair) and 1 MiB numpy frames per second
# (vdds vs multiprocessing.Queue vs multiprocessing.shared_memory + a pipe).
"""Usage: PYTHONPATH=<build>/python /usr/bin/python3 bench/py_bench.py [options]

Prints a markdown section (a table of results with ratios, then how they
were measured) on stdout; bench/run.sh appends it to bench/RESULTS.md.
"""
import argparse
import multiprocessing
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from array import array
from multiprocessing import shared_memory

import numpy as np

import vdds

MIB = 1 << 20
PAYLOAD = 64
RING = 8  # frames in flight, for every frame transport


# ------------------------------------------------------------ round trips


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def subscribe(topic):
    end = time.monotonic() + 30
    while True:
        try:
            return vdds.Subscriber(topic)
        except vdds.NoPublisher:
            if time.monotonic() > end:
                raise
            time.sleep(0.001)


def await_subscriber(pub):
    end = time.monotonic() + 30
    while pub.stats()["subscribers"] < 1:
        if time.monotonic() > end:
            raise TimeoutError("no subscriber came")
        time.sleep(0.001)


def vdds_side(mine, theirs, n, times):
    """Publish on `mine`, receive on `theirs`; A (times given) starts and
    times each round trip, B answers each message with its own bytes."""
    with vdds.Publisher(mine, slot_size=PAYLOAD, slots=16) as pub:
        with subscribe(theirs) as sub:
            await_subscriber(pub)
            receive, write = sub.receive, pub.write
            if times is None:  # B: echo
                for _ in range(n):
                    s = receive()
                    write(s)
                    s.release()
                return  # what was published stays takeable after close
            clock = time.perf_counter_ns
            payload = bytes(PAYLOAD)
            for i in range(n):
                t0 = clock()
                write(payload)
                receive().release()
                times[i] = clock() - t0


def eventfd_side(send, recv, n, times):
    """The same loop on a raw eventfd pair: write one, block reading the other."""
    write, read = os.eventfd_write, os.eventfd_read
    if times is None:
        for _ in range(n):
            read(recv)
            write(send, 1)
        return
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        write(send, 1)
        read(recv)
        times[i] = clock() - t0


def round_trip(mode, cpus, iters, warmup):
    """Median round trip in ns, A in this process, B in a forked child."""
    n = iters + warmup
    times = array("q", bytes(8 * n))
    e1, e2 = os.eventfd(0), os.eventfd(0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            pin(cpus[1])
            if mode == "vdds":
                vdds_side("pong", "ping", n, None)
            else:
                eventfd_side(e2, e1, n, None)
            code = 0
        finally:
            os._exit(code)
    try:
        pin(cpus[0])
        if mode == "vdds":
            vdds_side("ping", "pong", n, times)
        else:
            eventfd_side(e1, e2, n, times)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(e1)
        os.close(e2)
        pin_all()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the {mode} echo process failed")
    return statistics.median(times[warmup:])


def pin_all():
    os.sched_setaffinity(0, ALL_CPUS)


# ------------------------------------------------------------------ frames


def make_frame():
    return np.random.default_rng(1).integers(0, 256, MIB, dtype=np.uint8)


def check_frame(arr, i, last):
    if arr[0] != i & 255 or arr[-1] != last:
        raise RuntimeError(f"frame {i} is not what was sent")


def frames_vdds(n, report):
    src = make_frame()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with vdds.Publisher("frames", slot_size=MIB, slots=RING) as pub:
                await_subscriber(pub)
                for i in range(n):
                    with pub.loan() as buf:
                        out = np.frombuffer(buf, np.uint8)
                        np.copyto(out, src)  # the producer fills the frame in place
                        out[0] = i & 255
                        del out
                        pub.publish(buf, MIB)
            code = 0
        finally:
            os._exit(code)
    last = src[-1]
    with subscribe("frames") as sub:
        for i, sample in enumerate(sub):
            if i == 0:
                t0 = time.perf_counter()
            arr = np.frombuffer(sample, np.uint8)  # no copy
            check_frame(arr, i, last)
            del arr
            sample.release()
        t1 = time.perf_counter()
    os.waitpid(pid, 0)
    report(n, i + 1, t1 - t0)


def frames_queue(n, report):
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue(maxsize=RING)
    src = make_frame()

    def produce():
        for i in range(n):
            frame = src.copy()  # the producer fills a frame
            frame[0] = i & 255
            q.put(frame)

    p = ctx.Process(target=produce)
    p.start()
    last = src[-1]
    for i in range(n):
        arr = q.get()
        if i == 0:
            t0 = time.perf_counter()
        check_frame(arr, i, last)
    t1 = time.perf_counter()
    p.join()
    report(n, n, t1 - t0)


def frames_shm_pipe(n, report):
    ctx = multiprocessing.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=RING * MIB)
    frames_r, frames_w = os.pipe()
    acks_r, acks_w = os.pipe()
    src = make_frame()
    msg = struct.Struct("Q")

    def produce():
        acked = 0
        for i in range(n):
            while i - acked >= RING:  # the consumer still reads that slot
                acked = msg.unpack(os.read(acks_r, msg.size))[0] + 1
            out = np.frombuffer(shm.buf, np.uint8, MIB, (i % RING) * MIB)
            np.copyto(out, src)
            out[0] = i & 255
            del out
            os.write(frames_w, msg.pack(i))

    p = ctx.Process(target=produce)
    p.start()
    last = src[-1]
    try:
        for i in range(n):
            j = msg.unpack(os.read(frames_r, msg.size))[0]
            if i == 0:
                t0 = time.perf_counter()
            arr = np.frombuffer(shm.buf, np.uint8, MIB, (j % RING) * MIB)  # no copy
            check_frame(arr, i, last)
            del arr
            os.write(acks_w, msg.pack(j))
        t1 = time.perf_counter()
        p.join()
    finally:
        for fd in (frames_r, frames_w, acks_r, acks_w):
            os.close(fd)
        shm.close()
        shm.unlink()
    report(n, n, t1 - t0)


def frames_per_second(fn, n):
    result = []

    def report(sent, got, seconds):
        if got != sent:
            raise RuntimeError(f"{fn.__name__}: {got} of {sent} frames")
        result.append((got - 1) / seconds)

    fn(n, report)
    return result[0]


# ------------------------------------------------------------------ report


def med_range(values, fmt):
    lo, hi = min(values), max(values)
    return fmt(statistics.median(values)), f"{fmt(lo)}–{fmt(hi)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20000, help="round trips per run")
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=1000, help="1 MiB frames per run")
    ap.add_argument(
        "--queue-frames", type=int, default=200, help="frames per multiprocessing.Queue run (slow)"
    )
    args = ap.parse_args()

    placements = {"same CPU": (CPU0, CPU0)}
    if CPU1 is not None:
        placements["cross CPU"] = (CPU0, CPU1)
    rtt = {p: {"vdds": [], "eventfd": [], "ratio": []} for p in placements}
    fps = {"vdds": [], "queue": [], "shm": []}
    start = time.monotonic()
    for r in range(args.rounds):
        for place, cpus in placements.items():
            print(f"py_bench: round {r + 1}/{args.rounds}: round trips, {place}", file=sys.stderr)
            # each vdds run right after the raw one it is compared with
            raw = round_trip("eventfd", cpus, args.iters, args.warmup)
            v = round_trip("vdds", cpus, args.iters, args.warmup)
            rtt[place]["eventfd"].append(raw)
            rtt[place]["vdds"].append(v)
            rtt[place]["ratio"].append(v / raw)
        print(f"py_bench: round {r + 1}/{args.rounds}: 1 MiB frames", file=sys.stderr)
        fps["vdds"].append(frames_per_second(frames_vdds, args.frames))
        fps["queue"].append(frames_per_second(frames_queue, args.queue_frames))
        fps["shm"].append(frames_per_second(frames_shm_pipe, args.frames))
    elapsed = time.monotonic() - start

    us = lambda ns: f"{ns / 1000:.1f} µs"  # noqa: E731
    x2 = lambda v: f"{v:.2f}"  # noqa: E731
    n0 = lambda v: f"{v:,.0f}"  # noqa: E731
    print("## Python package (bench/py_bench.py)")
    print()
    print(
        f"Python {sys.version.split()[0]} ({sys.executable}), numpy {np.__version__}, "
        f"vdds {vdds.version()}; {args.rounds} rounds in {elapsed:.0f} s; "
        f"each figure is the median over the rounds, range beside it."
    )
    print()
    print("| measurement | vdds | baseline | ratio | target | result |")
    print("|---|---:|---:|---:|---:|---|")
    for place, d in rtt.items():
        ratio, spread = med_range(d["ratio"], x2)
        ok = statistics.median(d["ratio"]) <= 1.5
        print(
            f"| 64 B round trip, p50, {place} | {med_range(d['vdds'], us)[0]} | "
            f"os.eventfd pair: {med_range(d['eventfd'], us)[0]} | {ratio} ({spread}) | "
            f"≤ 1.50 | {'PASS' if ok else '**MISS**'} |"
        )
    for key, name in (("queue", "multiprocessing.Queue"), ("shm", "shared_memory + pipe")):
        ratios = [a / b for a, b in zip(fps["vdds"], fps[key])]
        ratio, spread = med_range(ratios, x2)
        print(
            f"| 1 MiB numpy frames/s | {med_range(fps['vdds'], n0)[0]} | "
            f"{name}: {med_range(fps[key], n0)[0]} | {ratio}× ({spread}) | — | measured |"
        )
    print()
    print("How this was measured:")
    print()
    print(
        f"- Round trip: process A times `pub.write(64 B)` + `sub.receive().release()` with "
        f"`time.perf_counter_ns`; process B (forked) answers each message with its own bytes "
        f"(`s = sub.receive(); pub.write(s); s.release()`), on topics ping and pong. Baseline: "
        f"the same loop on two `os.eventfd`s (`eventfd_write` one, blocking `eventfd_read` the "
        f"other). {args.iters} round trips after {args.warmup} warm-up; *same*: both processes "
        f"on CPU {CPU0}, *cross*: A on CPU {CPU0}, B on CPU {CPU1}. Ratio: vdds / eventfd within "
        f"a round, the median of those (not the quotient of the two medians shown); lower is "
        f"better."
    )
    print(
        f"- Frames: {args.frames} frames of 1 MiB ({args.queue_frames} through the Queue) from a "
        f"forked producer, {RING} in flight. The "
        f"producer copies a prepared numpy frame into the transport and stamps its number; the "
        f"consumer views it as a numpy array and checks the stamp and last byte. vdds: loan + "
        f"`np.copyto` into the slot + publish; `np.frombuffer(sample)`, no copy. Queue: "
        f"`put(frame.copy())`, `get()` (pickled through a pipe). shared_memory + pipe: a ring of "
        f"{RING} frames in one `SharedMemory`, the frame number over one pipe and the "
        f"consumer's acknowledgement back over another. Frames/s from the consumer's first "
        f"frame to its last; ratio: vdds / baseline (higher is better)."
    )


ALL_CPUS = os.sched_getaffinity(0)
CPU0 = min(ALL_CPUS)
CPU1 = min(ALL_CPUS - {CPU0}) if len(ALL_CPUS) > 1 else None

if __name__ == "__main__":
    # a private runtime directory: nothing of another run is met
    rundir = tempfile.mkdtemp(prefix="vdds-pybench-")
    os.environ["VDDS_DIR"] = rundir
    try:
        main()
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
