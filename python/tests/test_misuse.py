# test_misuse.py — Python code that uses vdds wrongly raises and never crashes the
# interpreter (issue #27): views kept past close, a memoryview that is its loan's
# only owner, slices given to publish(), sizes that cannot be mapped, __init__
# twice or from two threads at once. Each test runs in its own interpreter.
import gc
import os
import resource
import threading

import pytest

import vdds
from vddstest import wait_until

pytestmark = pytest.mark.isolated


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def under_asan():
    return "asan" in os.environ.get("LD_PRELOAD", "")


def released(view):
    """True if the memoryview was released (any use raises ValueError)."""
    try:
        view[0]
    except ValueError:
        return True
    return False


# ---------------------------------------------------------- publisher close


def test_publisher_close_releases_the_views_of_loans_only_their_views_own():
    pub = vdds.Publisher("t1", slot_size=4096, slots=4)
    v1 = pub.loan().__enter__()
    v2 = pub.loan().__enter__()  # each loan now owned only by its view
    pub.close()
    assert pub.closed
    assert released(v1) and released(v2)  # not a pointer into the unmapped slot
    with vdds.Publisher("t1", slot_size=4096, slots=4):  # the topic is free again
        pass


def test_publisher_close_with_loans_held_every_way_invalidates_them_all():
    pub = vdds.Publisher("many", slot_size=256, slots=16)
    kept_loans, views = [], []
    for i in range(12):
        loan = pub.loan(timeout=0)
        if i % 3 == 0:
            kept_loans.append(loan)  # a loan without a view
        elif i % 3 == 1:
            views.append(loan.__enter__())  # a view that owns its loan
        else:
            kept_loans.append(loan)
            views.append(loan.__enter__())  # both held
        del loan
    pub.close()
    assert all(released(v) for v in views)
    assert not any(loan.pending for loan in kept_loans)
    with pytest.raises(ValueError):
        kept_loans[0].__enter__()
    with pytest.raises(ValueError):
        pub.publish(kept_loans[1], 1)
    del views, kept_loans
    gc.collect()


def test_publisher_close_refuses_while_an_array_views_a_loan():
    np = pytest.importorskip("numpy")
    pub = vdds.Publisher("arr", slot_size=64, slots=4)
    arr = np.frombuffer(pub.loan().__enter__(), np.uint8)  # the loan owned by the array's view
    v2 = pub.loan().__enter__()
    with pytest.raises(BufferError):
        pub.close()
    assert not pub.closed
    arr[:] = 7  # still the publisher's mapped slot
    assert arr.sum() == 7 * 64
    del arr
    pub.close()
    assert released(v2)


def test_subscriber_close_with_held_samples_and_arrays_refuses_then_releases_all():
    np = pytest.importorskip("numpy")
    with vdds.Publisher("held", slot_size=64, slots=8) as pub:
        sub = vdds.Subscriber("held")
        for i in range(3):
            pub.write(bytes([i + 1]) * 64)
        samples = [sub.receive(timeout=10) for _ in range(3)]
        arr = np.frombuffer(samples[0], np.uint8)
        view = memoryview(samples[1])
        with pytest.raises(BufferError):
            sub.close()
        assert not sub.closed and sub.held == 3
        assert arr.sum() == 64 and view[0] == 2  # still mapped, still the sample's
        del arr
        with pytest.raises(BufferError):
            sub.close()
        view.release()
        sub.close()
        assert all(s.released for s in samples)
        for s in samples:
            with pytest.raises(ValueError):
                memoryview(s)
        del samples
        gc.collect()


# --------------------------------------------------- publish / discard a view


def test_publish_of_a_memoryview_that_is_its_loans_only_owner():
    with vdds.Publisher("only", slot_size=64, slots=4) as pub, vdds.Subscriber("only") as sub:
        buf = memoryview(pub.loan())
        buf[:5] = b"hello"
        pub.publish(buf, 5)
        assert released(buf)
        with sub.receive(timeout=10) as s:
            assert bytes(s) == b"hello"
        assert pub.stats()["loaned_slots"] == 0


def test_discard_of_a_memoryview_that_is_its_loans_only_owner():
    with vdds.Publisher("only", slot_size=64, slots=4) as pub:
        for via in ("publisher", "with-view"):
            buf = memoryview(pub.loan()) if via == "publisher" else pub.loan().__enter__()
            assert pub.stats()["loaned_slots"] == 1
            pub.discard(buf)
            assert released(buf)
            assert pub.stats()["loaned_slots"] == 0
            with pytest.raises(ValueError):
                pub.publish(buf, 1)  # a released view: refused, nothing read


def test_publish_of_a_slice_or_offset_view_is_refused_and_the_loan_kept():
    with vdds.Publisher("slice", slot_size=64, slots=4) as pub, vdds.Subscriber("slice") as sub:
        with pub.loan() as buf:
            buf[8:12] = b"abcd"
            for part in (buf[8:12], buf[1:], buf[:-1], buf[::2]):
                with pytest.raises(ValueError, match="slice"):
                    pub.publish(part, 4)
                with pytest.raises(ValueError, match="slice"):
                    pub.discard(part)
            assert not released(buf)  # refused before anything was released
            assert sub.take() is None
            del part  # a live slice keeps the slot exported
            pub.publish(buf.cast("I"), 12)  # a cast of the whole slot is the slot
        with sub.receive(timeout=10) as s:
            assert bytes(s)[8:12] == b"abcd" and len(s) == 12


# ------------------------------------------------------------------- sizes


@pytest.mark.parametrize("slots", [2**14, 2**16])
def test_a_size_the_system_cannot_map_raises_memory_error_with_the_reason(slots):
    if slots == 2**14:
        # 64 TiB of sparse memfd maps where the address space is free: cut
        # it to 4 GiB (not under ASan, whose shadow fills most of it already)
        if under_asan():
            pytest.skip("RLIMIT_AS cannot be cut under ASan")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, hard))
    # 2**16 slots: 256 TiB, more than a 47-bit user address space holds
    with pytest.raises(MemoryError) as e:
        vdds.Publisher("huge", slot_size=2**32, slots=slots)
    assert isinstance(e.value, vdds.Error)
    assert f"{slots} slots of 4294967296 bytes" in str(e.value), str(e.value)
    with vdds.Publisher("huge", slot_size=64, slots=4):  # nothing left behind
        pass


# -------------------------------------------------------------------- init


@pytest.mark.parametrize("kind", ["Publisher", "Subscriber"])
def test_init_of_an_open_or_closed_handle_raises(kind):
    with vdds.Publisher("init") as pub:
        h = vdds.Publisher("init2") if kind == "Publisher" else vdds.Subscriber("init")
        fds = open_fds()
        with pytest.raises(RuntimeError, match="already"):
            h.__init__("init3" if kind == "Publisher" else "init")
        h.close()
        with pytest.raises(RuntimeError, match="already"):
            h.__init__("init3" if kind == "Publisher" else "init")
        assert h.closed
        assert open_fds() < fds


@pytest.mark.parametrize("kind", ["Publisher", "Subscriber"])
def test_init_from_two_threads_at_once_opens_exactly_once(kind):
    tries = 50
    with vdds.Publisher("race", slot_size=64, slots=4) as pub:
        fds = open_fds()
        for i in range(tries):
            cls = vdds.Publisher if kind == "Publisher" else vdds.Subscriber
            h = cls.__new__(cls)
            start = threading.Barrier(2)
            results = [None, None]

            def init(k):
                start.wait()
                topic = f"race{i}-{k}" if kind == "Publisher" else "race"
                try:
                    h.__init__(topic)
                    results[k] = "opened"
                except Exception as e:  # noqa: BLE001 (kept, and checked below)
                    results[k] = repr(e)

            threads = [threading.Thread(target=init, args=(k,)) for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results.count("opened") == 1, results
            assert "already" in [r for r in results if r != "opened"][0], results
            h.close()
            del h
            wait_until(lambda: pub.stats()["subscribers"] == 0, "the subscriber to leave")
        assert open_fds() == fds
        wait_until(lambda: pub.stats()["subscribers"] == 0, "every subscriber to leave")
