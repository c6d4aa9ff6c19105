# test_api.py — the Python API's behaviour in one process: loans and samples,
# zero-copy views and their lifetimes, close(), context managers, threads, fork.
import gc
import os
import signal
import threading
import time

import pytest

import vdds
from vddstest import wait_until


@pytest.fixture
def pair():
    pub = vdds.Publisher("api", slot_size=256, slots=4)
    sub = vdds.Subscriber("api")
    yield pub, sub
    sub.close()
    pub.close()


def free_slots(pub):
    return pub.stats()["free_slots"]


def test_take_returns_none_when_nothing_was_published(pair):
    _, sub = pair
    assert sub.take() is None


def test_a_written_message_arrives_with_its_seq_len_and_timestamp(pair):
    pub, sub = pair
    before = time.monotonic_ns()
    pub.write(b"hello")
    after = time.monotonic_ns()
    s = sub.take()
    assert isinstance(s, vdds.Sample)
    assert (s.seq, s.len, len(s), s.epoch) == (1, 5, 5, 0)
    assert before <= s.timestamp_ns <= after
    assert bytes(s) == b"hello"
    s.release()
    pub.write(b"again")
    assert sub.take().seq == 2


def test_a_loan_is_a_writable_memoryview_of_the_whole_slot(pair):
    pub, sub = pair
    with pub.loan() as buf:
        assert isinstance(buf, memoryview)
        assert not buf.readonly and len(buf) == pub.slot_size == 256
        buf[:3] = b"abc"
        pub.publish(buf, 3)
        with pytest.raises(ValueError):
            buf[0]  # released by publish: the slot is the subscribers' now
    assert bytes(sub.take()) == b"abc"


def test_publish_without_n_sends_the_whole_slot(pair):
    pub, sub = pair
    with pub.loan() as buf:
        pub.publish(buf)
    assert sub.take().len == 256


def test_publish_takes_the_loan_itself(pair):
    pub, sub = pair
    loan = pub.loan()
    assert loan.pending and len(loan) == 256
    with memoryview(loan) as mv:
        mv[:2] = b"hi"
    pub.publish(loan, 2)
    assert not loan.pending
    assert bytes(sub.take()) == b"hi"


def test_entering_a_loan_again_gives_its_view_or_a_fresh_one_once_released(pair):
    pub, sub = pair
    loan = pub.loan()
    first = loan.__enter__()
    assert loan.__enter__() is first
    first.release()
    second = loan.__enter__()
    assert second is not first and len(second) == 256
    second[:2] = b"ok"
    pub.publish(second, 2)
    assert bytes(sub.take()) == b"ok"


def test_a_loan_left_unpublished_by_its_with_block_is_discarded(pair):
    pub, _ = pair
    with pub.loan() as buf:
        buf[0] = 1
    assert free_slots(pub) == 4
    assert pub.stats()["published"] == 0


def test_a_loan_whose_last_reference_goes_is_discarded(pair):
    pub, _ = pair
    loans = [pub.loan() for _ in range(4)]
    assert free_slots(pub) == 0
    with pytest.raises(vdds.WouldBlock):
        pub.loan(timeout=0)
    del loans
    assert free_slots(pub) == 4


def test_a_discarded_loan_cannot_be_published(pair):
    pub, _ = pair
    loan = pub.loan()
    loan.discard()
    loan.discard()  # idempotent
    with pytest.raises(ValueError):
        pub.publish(loan, 1)
    with pytest.raises(ValueError):
        memoryview(loan)


def test_publish_refuses_while_a_slice_of_the_loan_is_alive_and_keeps_the_loan(pair):
    pub, sub = pair
    with pub.loan() as buf:
        part = buf[:8]
        with pytest.raises(BufferError):
            pub.publish(buf, 8)
        assert sub.take() is None
        del part
    assert free_slots(pub) == 4  # discarded by the with block


def test_publish_too_much_raises_MessageTooLarge_and_keeps_the_loan(pair):
    pub, sub = pair
    with pub.loan() as buf:
        with pytest.raises(vdds.MessageTooLarge):
            pub.publish(buf, 257)
        buf[:1] = b"x"  # still ours
        pub.publish(buf, 1)
    assert bytes(sub.take()) == b"x"


def test_publish_rejects_a_view_that_is_not_a_loan_of_this_publisher(pair):
    pub, _ = pair
    with pytest.raises(TypeError):
        pub.publish(memoryview(bytearray(8)), 1)
    with vdds.Publisher("other") as other:
        with other.loan() as buf:
            with pytest.raises(TypeError):
                pub.publish(buf, 1)


def test_a_sample_is_read_only(pair):
    pub, sub = pair
    pub.write(b"data")
    s = sub.take()
    with memoryview(s) as mv:
        assert mv.readonly
        with pytest.raises(TypeError):
            mv[0] = 1


def test_a_sample_with_block_releases_it_on_exit(pair):
    pub, sub = pair
    pub.write(b"x")
    with sub.take() as s:
        assert not s.released and sub.held == 1
    assert s.released and sub.held == 0
    assert free_slots(pub) == 4
    with pytest.raises(ValueError):
        memoryview(s)
    with pytest.raises(ValueError):
        s.address
    s.release()  # idempotent
    assert s.seq == 1  # what was learned stays readable


def test_releasing_a_sample_with_a_live_view_raises_BufferError(pair):
    pub, sub = pair
    pub.write(b"view")
    s = sub.take()
    mv = memoryview(s)
    with pytest.raises(BufferError):
        s.release()
    assert not s.released and bytes(mv) == b"view"
    mv.release()
    s.release()
    assert s.released


def test_a_dropped_sample_goes_back_to_the_publisher(pair):
    pub, sub = pair
    for _ in range(10):  # more than the 4 slots
        pub.write(b"x", timeout=5)
        sub.take()
    assert free_slots(pub) == 4


def test_a_sample_keeps_its_subscriber_alive(pair):
    pub, _ = pair
    sub = vdds.Subscriber("api")
    pub.write(b"kept")
    s = sub.take()
    del sub
    gc.collect()
    assert bytes(s) == b"kept"
    del s
    wait_until(lambda: pub.stats()["subscribers"] == 1, "the dropped subscriber to leave")


def test_closing_a_subscriber_releases_the_samples_it_holds(pair):
    pub, sub = pair
    pub.write(b"a")
    pub.write(b"b")
    a, b = sub.take(), sub.take()
    sub.close()
    assert a.released and b.released
    with pytest.raises(ValueError):
        bytes(a)
    wait_until(lambda: pub.stats()["subscribers"] == 0, "the subscriber to leave")
    assert free_slots(pub) == 4


def test_closing_a_subscriber_refuses_while_a_sample_is_viewed(pair):
    pub, sub = pair
    pub.write(b"a")
    s = sub.take()
    mv = memoryview(s)
    with pytest.raises(BufferError):
        sub.close()
    assert not sub.closed and bytes(mv) == b"a"
    del mv
    sub.close()
    assert sub.closed and s.released


def test_closing_a_publisher_refuses_while_a_loan_is_viewed_beyond_its_with_view(pair):
    pub, _ = pair
    loan = pub.loan()
    buf = loan.__enter__()
    part = buf[2:]
    with pytest.raises(BufferError):
        pub.close()
    assert not pub.closed
    del part
    pub.close()  # the with view alone is released by close
    assert pub.closed and not loan.pending
    with pytest.raises(ValueError):
        buf[0]


def test_a_refused_close_leaves_the_loans_with_view_usable(pair):
    pub, _ = pair
    loan = pub.loan()
    buf = loan.__enter__()
    extra = memoryview(loan)  # a second buffer of the same slot
    with pytest.raises(BufferError):
        pub.close()
    buf[0] = 1  # still writable: the refusal released nothing
    del extra
    pub.close()
    assert pub.closed and not loan.pending


def test_an_exception_leaving_a_with_block_is_not_hidden_by_a_live_view(pair):
    pub, sub = pair
    pub.write(b"x")
    with pytest.raises(KeyError):
        with sub.take() as s:
            mv = memoryview(s)
            raise KeyError
    assert not s.released  # still viewed: released with its last view
    mv.release()
    del s
    assert sub.held == 0
    with pytest.raises(KeyError):
        with pub.loan() as buf:
            part = buf[1:]
            raise KeyError
    assert free_slots(pub) == 3
    del part, buf
    assert free_slots(pub) == 4


def test_close_is_idempotent_and_a_closed_handle_raises_ValueError():
    pub = vdds.Publisher("closing")
    sub = vdds.Subscriber("closing")
    loan = pub.loan()
    sub.close()
    sub.close()
    pub.close()
    pub.close()
    assert pub.closed and sub.closed
    for call in (
        sub.take,
        sub.wait,
        sub.receive,
        sub.ready,
        sub.fileno,
        pub.loan,
        pub.stats,
        pub.fileno,
        lambda: pub.write(b"x"),
        lambda: pub.publish(loan, 1),
        lambda: iter(sub),
    ):
        with pytest.raises(ValueError):
            call()


def test_context_managers_close_on_exit():
    with vdds.Publisher("ctx") as pub:
        with vdds.Subscriber("ctx") as sub:
            pub.write(b"x")
            assert bytes(sub.receive(timeout=5)) == b"x"
        assert sub.closed
    assert pub.closed


def test_context_managers_close_when_an_exception_leaves_the_block():
    with pytest.raises(KeyError):
        with vdds.Publisher("ctx") as pub:
            raise KeyError
    assert pub.closed
    with vdds.Publisher("ctx"):  # the topic is free again
        pass


def test_ready_takes_the_sample_and_keeps_it_for_take(pair):
    pub, sub = pair
    assert sub.ready() is False
    pub.write(b"1")
    pub.write(b"2")
    assert sub.ready() is True and sub.ready() is True
    assert sub.held == 1
    sub.wait(timeout=0)  # returns at once: one is kept
    assert bytes(sub.take()) == b"1"
    assert bytes(sub.take()) == b"2"
    assert sub.take() is None


def test_receive_waits_and_times_out_with_Timeout(pair):
    _, sub = pair
    with pytest.raises(vdds.Timeout):
        sub.receive(timeout=0.01)
    with pytest.raises(vdds.Timeout):
        sub.wait(timeout=0)


def test_for_loop_ends_when_the_publisher_is_gone(pair):
    pub, sub = pair
    for i in range(3):
        pub.write(bytes([i]))
    pub.close()
    assert [bytes(s) for s in sub] == [b"\0", b"\1", b"\2"]


def test_wait_lets_another_thread_publish(pair):
    pub, sub = pair
    t = threading.Thread(target=lambda: (time.sleep(0.01), pub.write(b"late")))
    t.start()
    assert bytes(sub.receive(timeout=30)) == b"late"
    t.join()


def test_a_subscriber_waiting_in_one_thread_refuses_another(pair):
    pub, sub = pair
    entered = threading.Event()
    t = threading.Thread(target=lambda: (entered.set(), sub.wait(timeout=30)))
    t.start()
    entered.wait()
    wait_until(lambda: busy(sub), "the thread to wait")
    with pytest.raises(RuntimeError):
        sub.take()
    with pytest.raises(RuntimeError):
        sub.close()
    pub.write(b"go")
    t.join()
    assert bytes(sub.take()) == b"go"


def busy(sub):
    try:
        sub.fileno()
        return False
    except RuntimeError:
        return True


def test_a_sample_released_while_its_subscriber_waits_goes_back_when_the_wait_ends(pair):
    pub, sub = pair
    pub.write(b"held")
    s = sub.take()
    t = threading.Thread(target=lambda: sub.wait(timeout=30))
    t.start()
    wait_until(lambda: busy(sub), "the thread to wait")
    s.release()  # deferred: the handle is the waiting thread's
    assert s.released
    pub.write(b"wake")
    t.join()
    assert free_slots(pub) == 3  # "wake" is held by the subscriber; "held" came back


def test_a_forked_child_can_neither_use_nor_close_its_parents_handles(pair):
    pub, sub = pair
    pid = os.fork()
    if pid == 0:  # the child: every use refused, and closing closes nothing of the parent's
        code = 0
        try:
            for call in (pub.stats, sub.take, lambda: pub.write(b"x")):
                try:
                    call()
                    code = 1
                except RuntimeError:
                    pass
            pub.close()
            sub.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with vdds.Subscriber("api") as again:  # the parent's socket is still there
        pub.write(b"after fork")
        assert bytes(again.receive(timeout=5)) == b"after fork"


def test_the_library_names_its_errors_and_its_version():
    assert vdds.strerror(-2) == "no publisher for this topic"
    assert vdds.strerror(2) == vdds.strerror(-2)
    assert vdds.version() == vdds.__version__
    assert len(vdds.version().split(".")) == 3


def test_a_signal_handler_interrupts_a_blocking_wait_or_loan(pair):
    pub, sub = pair

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(Interrupted):
            sub.wait()  # forever, but Python's handlers run in between
        held = [pub.loan() for _ in range(4)]
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(Interrupted):
            pub.loan()  # no slot will come
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    del held
    pub.write(b"still fine")
    assert bytes(sub.receive(timeout=5)) == b"still fine"
