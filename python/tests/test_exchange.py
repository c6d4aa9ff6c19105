# test_exchange.py — Python and C in separate processes exchange 100,000
# checksummed messages, each way, in order and intact.
import subprocess

import vdds
from vddstest import SLOT_SIZE, check_message, start_peer, subscribe, wait_until, write_message

COUNT = 100_000


def test_a_c_publisher_reaches_a_python_subscriber_with_100000_intact_messages(peer):
    pub = start_peer(peer, "pub", "xchg", COUNT, 1)
    try:
        got = 0
        with subscribe(vdds, "xchg") as sub:
            for sample in sub:  # until the publisher is gone
                with sample:
                    check_message(sample, got)
                    assert sample.seq == got + 1
                got += 1
        assert got == COUNT
        assert pub.wait(timeout=60) == 0
    finally:
        pub.kill()
        pub.wait()


def test_a_python_publisher_reaches_a_c_subscriber_with_100000_intact_messages(peer):
    with vdds.Publisher("xchg", slot_size=SLOT_SIZE, slots=64) as pub:
        sub = start_peer(peer, "sub", "xchg", COUNT, stdout=subprocess.PIPE)
        try:
            assert sub.stdout.readline() == "subscribed\n"
            wait_until(lambda: pub.stats()["subscribers"] == 1, "the C subscriber")
            for i in range(COUNT):
                with pub.loan(timeout=30) as buf:
                    pub.publish(buf, write_message(buf, i))
            assert pub.stats()["published"] == COUNT
        except BaseException:
            sub.kill()
            raise
    out, _ = sub.communicate(timeout=60)
    assert sub.returncode == 0
    assert out == f"ok {COUNT}\n"
