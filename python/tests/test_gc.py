# test_gc.py — reference cycles through a Sample, a Loan, a view of either, and the
# handles themselves are freed by the garbage collector, and what they held comes
# back: the subscriber's fds and slot, the publisher's topic (issue #27 point 4).
import gc
import os

import pytest

import vdds
from vddstest import wait_until

pytestmark = pytest.mark.isolated


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def reclaimed(pub):
    """Publish nothing: departed subscribers' lanes are reclaimed on the data path
    (never blocking: a subscriber left connected may hold every slot)."""
    try:
        pub.write(b"", timeout=0)
    except vdds.WouldBlock:
        pass
    return True


def all_slots_free(pub):
    st = pub.stats()
    return st["subscribers"] == 0 and st["free_slots"] == st["slot_count"]


class Sub(vdds.Subscriber):
    pass


class BareSub(vdds._vdds.Subscriber):  # the C type itself, without vdds.Subscriber's slots
    pass


class Pub(vdds.Publisher):
    pass


@pytest.mark.parametrize("cls", [Sub, BareSub])
@pytest.mark.parametrize("through", ["sample", "memoryview", "list"])
def test_a_cycle_through_a_sample_frees_the_subscriber_and_its_slot(cls, through):
    with vdds.Publisher("cyc", slot_size=64, slots=4) as pub:
        fds = open_fds()
        for i in range(20):
            s = cls("cyc")
            pub.write(b"x%d" % i)
            sample = s.receive(timeout=10)
            if through == "sample":
                s.last = sample
            elif through == "memoryview":
                s.last = memoryview(sample)
            else:
                s.last = [sample, s]
            del s, sample
            gc.collect()
            # the publisher's end of the connection closes when it has seen the
            # hang-up, and the lane's eventfd when its data path (a write) reclaims it
            wait_until(lambda: reclaimed(pub) and open_fds() == fds, "the subscriber's fds to close")
        wait_until(lambda: all_slots_free(pub), "the collected subscribers' slots to come back")


@pytest.mark.parametrize("through", ["loan", "with-view", "loan-and-view"])
def test_a_cycle_through_a_loan_frees_the_publisher_and_its_topic(through):
    fds = open_fds()
    for i in range(20):
        p = Pub("cyc", slot_size=64, slots=4)
        loan = p.loan()
        if through == "loan":
            p.mine = loan
        elif through == "with-view":
            p.mine = loan.__enter__()
        else:
            p.mine = (loan, loan.__enter__())
        del p, loan
        gc.collect()
        with vdds.Publisher("cyc"):  # TopicExists if the cycle kept it
            pass
        assert open_fds() == fds


def test_a_cycle_between_both_handles_their_loan_and_sample_is_freed():
    fds = open_fds()
    for i in range(20):
        p = Pub("both", slot_size=64, slots=4)
        s = Sub("both")
        p.write(b"abc")
        p.sub, s.pub = s, p
        s.sample, p.loan_ = s.receive(timeout=10), p.loan()
        del p, s
        gc.collect()
        with vdds.Publisher("both"):
            pass
        wait_until(lambda: open_fds() == fds, "every fd to close")


def test_samples_and_loans_are_tracked_by_the_collector():
    with vdds.Publisher("tracked", slot_size=64, slots=4) as pub, vdds.Subscriber("tracked") as sub:
        loan = pub.loan()
        pub.write(b"a")
        sample = sub.receive(timeout=10)
        assert gc.is_tracked(loan) and gc.is_tracked(sample)
        assert gc.is_tracked(pub) and gc.is_tracked(sub)
        assert pub in gc.get_referents(loan) and sub in gc.get_referents(sample)
        sample.release()
        loan.discard()
