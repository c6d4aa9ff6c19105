# test_numpy.py — numpy arrays over vdds memory without a copy: a 1 MiB sample
# viewed in place (same address, same bytes), writing through a loan, and the
# views' hold on the memory they point into.
import pytest

import vdds

np = pytest.importorskip("numpy")

MIB = 1 << 20


@pytest.fixture
def big():
    pub = vdds.Publisher("frames", slot_size=MIB, slots=4)
    sub = vdds.Subscriber("frames")
    yield pub, sub
    sub.close()
    pub.close()


def test_an_array_over_a_1_MiB_sample_is_the_sample_in_place(big):
    pub, sub = big
    frame = np.random.default_rng(5).integers(0, 1 << 32, MIB // 4, dtype=np.uint32)
    with pub.loan() as buf:
        np.copyto(np.frombuffer(buf, np.uint32), frame)
        pub.publish(buf, MIB)
    with sub.take() as sample:
        arr = np.frombuffer(sample, np.uint32)
        assert arr.__array_interface__["data"][0] == sample.address
        assert not arr.flags.writeable and not arr.flags.owndata
        assert arr.nbytes == sample.len == MIB
        assert np.array_equal(arr, frame)
        with memoryview(sample) as mv:  # the plain buffer view agrees
            assert np.frombuffer(mv, np.uint32).__array_interface__["data"][0] == sample.address
        del arr


def test_an_array_over_a_loan_writes_shared_memory_in_place(big):
    pub, sub = big
    with pub.loan() as buf:
        out = np.frombuffer(buf, np.float64)
        assert out.flags.writeable and out.size == MIB // 8
        out[:] = np.arange(out.size) * 0.5
        del out
        pub.publish(buf, MIB)
    with sub.take() as sample:
        got = np.frombuffer(sample, np.float64)
        assert got[-1] == (MIB // 8 - 1) * 0.5
        del got


def test_releasing_a_sample_an_array_still_views_raises_BufferError(big):
    pub, sub = big
    pub.write(bytes(64))
    sample = sub.take()
    arr = np.frombuffer(sample, np.uint8)
    with pytest.raises(BufferError):
        sample.release()
    with pytest.raises(BufferError):
        with sample:
            pass
    assert not sample.released and arr.sum() == 0
    del arr
    sample.release()
    assert sample.released


def test_an_array_keeps_the_sample_and_its_slot_until_it_goes(big):
    pub, sub = big
    pub.write(b"\x07" * 16)
    arr = np.frombuffer(sub.take(), np.uint8)  # the Sample itself is dropped
    assert pub.stats()["free_slots"] == 3
    assert arr[0] == 7 and sub.held == 1
    del arr
    assert sub.held == 0 and pub.stats()["free_slots"] == 4


def test_publishing_a_loan_an_array_still_writes_raises_BufferError(big):
    pub, sub = big
    with pub.loan() as buf:
        out = np.frombuffer(buf, np.uint8)
        with pytest.raises(BufferError):
            pub.publish(buf, 16)
        out[0] = 1  # still the publisher's, not the subscribers'
        del out
    assert sub.take() is None
