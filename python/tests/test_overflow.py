# test_overflow.py — overflow policies, history, max_held and the statistics
# as the Python API shows them, in one process.
import pytest

import vdds


def publish(pub, first, n):
    for seq in range(first, first + n):
        pub.write(seq.to_bytes(8, "little"))


def test_drop_oldest_never_blocks_and_the_subscriber_is_told_what_it_lost():
    with vdds.Publisher("drop", slot_size=8, slots=4, overflow=vdds.OVERFLOW_DROP_OLDEST) as pub, \
            vdds.Subscriber("drop") as sub:
        publish(pub, 1, 10)  # nothing taken: the oldest queued are taken back
        seqs = []
        while (s := sub.take()) is not None:
            with s:
                seqs.append(s.seq)
        assert seqs == [7, 8, 9, 10]
        assert sub.stats() == {"taken": 4, "lost": 6, "held": 0, "queued": 0}
        st = pub.stats()
        assert st["dropped"] == 6 and st["blocked"] == 0 and st["delivered"] == 10


def test_drop_oldest_raises_nobuffers_when_only_taken_samples_are_left():
    with vdds.Publisher("nobufs", slot_size=8, slots=2, overflow=vdds.OVERFLOW_DROP_OLDEST) as pub, \
            vdds.Subscriber("nobufs") as sub:
        publish(pub, 1, 2)
        held = [sub.take(), sub.take()]
        with pytest.raises(vdds.NoBuffers):
            pub.write(b"x")
        for s in held:
            s.release()
        pub.write(b"x")


def test_fail_raises_wouldblock_at_once():
    with vdds.Publisher("fail", slot_size=8, slots=2, overflow=vdds.OVERFLOW_FAIL) as pub, \
            vdds.Subscriber("fail"):
        publish(pub, 1, 2)
        with pytest.raises(vdds.WouldBlock):
            pub.write(b"x", timeout=None)


def test_max_held_raises_nobuffers_until_a_release():
    with vdds.Publisher("held", slot_size=8, slots=8) as pub, \
            vdds.Subscriber("held", max_held=1) as sub:
        publish(pub, 1, 2)
        first = sub.take()
        with pytest.raises(vdds.NoBuffers):
            sub.take()
        first.release()
        assert sub.take().seq == 2


@pytest.mark.parametrize("history,decline", [(0, False), (3, False), (3, True)])
def test_a_late_joiner_gets_the_history_first_unless_it_declines(history, decline):
    with vdds.Publisher("hist", slot_size=8, slots=8, history=history) as pub:
        publish(pub, 1, 5)
        with vdds.Subscriber("hist", history=not decline) as sub:
            pub.stats()  # the publisher's next call attaches the joiner
            want = 0 if decline else history
            got = []
            while (s := sub.take()) is not None:
                with s:
                    got.append(s.seq)
            assert got == list(range(6 - want, 6))


def test_too_much_history_or_an_unknown_policy_is_invalid():
    with pytest.raises(vdds.InvalidArgument):
        vdds.Publisher("bad", slots=8, history=5)
    with pytest.raises(vdds.InvalidArgument):
        vdds.Publisher("bad", overflow=7)
