# test_leaks.py — 10,000 open/close cycles leave no file descriptor, no slot
# and no handle object behind (counted in /proc/self/fd, the publisher's
# stats and the garbage collector's objects).
import gc
import os

import vdds
from vddstest import wait_until

CYCLES = 10_000


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def live(cls):
    gc.collect()
    return sum(isinstance(o, cls) for o in gc.get_objects())


def test_subscriber_cycles_leak_no_fd_no_slot_and_no_subscriber():
    with vdds.Publisher("cycles", slot_size=64, slots=8) as pub:
        fds = open_fds()
        for i in range(CYCLES):
            with vdds.Subscriber("cycles") as sub:
                pub.write(i.to_bytes(8, "little"), timeout=10)
                sample = sub.receive(timeout=10)
                assert int.from_bytes(sample, "little") == i
                if i % 2:
                    sample.release()  # the others are released by close
                loan = pub.loan(timeout=10)  # and dropped: discarded
            assert sample.released
            del sample, loan, sub
        wait_until(lambda: pub.stats()["subscribers"] == 0, "the last subscriber to leave")
        stats = pub.stats()
        assert stats["free_slots"] == stats["slot_count"] == 8
        assert stats["loaned_slots"] == 0
        assert stats["published"] == stats["disconnects"] == CYCLES
        assert open_fds() == fds
        assert live(vdds.Subscriber) == 0


def test_publisher_cycles_leak_no_fd_and_leave_the_topic_free():
    fds = open_fds()
    for i in range(CYCLES):
        with vdds.Publisher("again", slot_size=64, slots=2) as pub:
            loan = pub.loan()  # left pending: close invalidates it
            if i % 100 == 0:
                with vdds.Subscriber("again") as sub:
                    pub.write(b"x")
                    assert bytes(sub.receive(timeout=10)) == b"x"
        assert not loan.pending
        del loan, pub
    assert open_fds() == fds
    assert live(vdds.Publisher) == 0
