# vddstest.py — helpers the Python test files share: the checksummed message
# format of tests/py_peer.c, bounded polling, subscribing to another process.
import random
import struct
import subprocess
import time
import zlib

import pytest

# u64 index, u32 body length, u32 CRC-32 (zlib's) of the body; then the body
HDR = struct.Struct("=QII")
MAX_BODY = 1000
SLOT_SIZE = 16 + MAX_BODY
_POOL = random.Random(11).randbytes(2 * MAX_BODY)


def start_peer(path, *args, **kwargs):
    return subprocess.Popen([path, *[str(a) for a in args]], text=True, **kwargs)


def wait_until(cond, what, limit_s=30.0):
    """Poll cond() until true; fail after limit_s (a bound, not a measurement)."""
    end = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.001)


def subscribe(vdds, topic, **options):
    """Subscribe, retrying while the publisher (another process) is not up yet."""
    end = time.monotonic() + 30
    while True:
        try:
            return vdds.Subscriber(topic, **options)
        except vdds.NoPublisher:
            if time.monotonic() > end:
                raise
            time.sleep(0.001)


def check_message(sample, expect_index):
    """Assert that a sample is checksummed message number expect_index."""
    with memoryview(sample) as mv:
        index, length, crc = HDR.unpack_from(mv)
        assert index == expect_index
        assert length == len(mv) - HDR.size
        assert zlib.crc32(mv[HDR.size :]) == crc


def write_message(buf, index):
    """Write checksummed message number index into a writable view; its length."""
    n = (index * 7919) % (MAX_BODY + 1)
    off = (index * 31) % MAX_BODY
    body = _POOL[off : off + n]
    HDR.pack_into(buf, 0, index, n, zlib.crc32(body))
    buf[HDR.size : HDR.size + n] = body
    return HDR.size + n
