# test_errors.py — every vdds error code becomes its own exception class, a
# vdds.Error and the built-in OSError subclass Python code already catches for
# that errno, carrying the code and vdds_strerror()'s text; each is provoked for real.
import errno
import os

import pytest

import vdds

MAPPING = [
    (errno.ENOENT, vdds.NoPublisher, FileNotFoundError),
    (errno.EEXIST, vdds.TopicExists, FileExistsError),
    (errno.EACCES, vdds.AccessDenied, PermissionError),
    (errno.EPROTO, vdds.ProtocolMismatch, vdds.Error),
    (errno.EINVAL, vdds.InvalidArgument, ValueError),
    (errno.EMSGSIZE, vdds.MessageTooLarge, ValueError),
    (errno.ETIMEDOUT, vdds.Timeout, TimeoutError),
    (errno.EAGAIN, vdds.WouldBlock, BlockingIOError),
    (errno.EPIPE, vdds.PublisherGone, BrokenPipeError),
    (errno.ENOSPC, vdds.TooManySubscribers, vdds.Error),
    (errno.ENOBUFS, vdds.NoBuffers, vdds.Error),
    (errno.EBADMSG, vdds.BadMessage, vdds.Error),
]


def assert_vdds_error(info, code, cls, builtin):
    e = info.value
    assert type(e) is cls
    assert isinstance(e, vdds.Error) and isinstance(e, OSError) and isinstance(e, builtin)
    assert e.errno == code
    # the library's words for the code, then what was at fault (the detail)
    assert isinstance(e.detail, str)
    if e.detail:
        assert e.strerror == f"{vdds.strerror(code)}: {e.detail}"
    else:
        assert e.strerror == vdds.strerror(code)


@pytest.mark.parametrize("code,cls,builtin", MAPPING, ids=[errno.errorcode[m[0]] for m in MAPPING])
def test_each_code_has_its_class_in_both_hierarchies(code, cls, builtin):
    assert vdds.error_class(code) is cls
    assert vdds.error_class(-code) is cls
    e = vdds.error(code)
    assert type(e) is cls and isinstance(e, builtin)
    assert (e.errno, e.strerror) == (code, vdds.strerror(code))
    assert vdds.Error in cls.__mro__ and cls.__module__ == "vdds"


def test_a_code_vdds_has_no_words_for_is_a_plain_vdds_Error_with_the_systems_words():
    e = vdds.error(errno.EMFILE)
    assert type(e) is vdds.Error and e.errno == errno.EMFILE
    assert os.strerror(errno.EMFILE) in e.strerror
    with pytest.raises(ValueError):
        vdds.error(0)


def test_no_publisher_is_FileNotFoundError_naming_the_topic():
    with pytest.raises(FileNotFoundError) as info:
        vdds.Subscriber("nobody")
    assert_vdds_error(info, errno.ENOENT, vdds.NoPublisher, FileNotFoundError)
    assert info.value.filename == "nobody"


def test_a_second_publisher_of_a_topic_is_FileExistsError():
    with vdds.Publisher("twice"):
        with pytest.raises(FileExistsError) as info:
            vdds.Publisher("twice")
    assert_vdds_error(info, errno.EEXIST, vdds.TopicExists, FileExistsError)


def test_a_runtime_directory_others_may_write_is_PermissionError(rundir):
    os.chmod(rundir, 0o777)
    with pytest.raises(PermissionError) as info:
        vdds.Publisher("open_dir")
    assert_vdds_error(info, errno.EACCES, vdds.AccessDenied, PermissionError)
    with pytest.raises(vdds.AccessDenied):
        vdds.Subscriber("open_dir")


def test_a_type_name_or_size_mismatch_is_ProtocolMismatch():
    with vdds.Publisher("typed", type_name="pose", type_size=24):
        with vdds.Subscriber("typed", type_name="pose", type_size=24):
            pass
        with pytest.raises(vdds.ProtocolMismatch) as info:
            vdds.Subscriber("typed", type_name="twist")
        assert_vdds_error(info, errno.EPROTO, vdds.ProtocolMismatch, vdds.Error)
        with pytest.raises(vdds.ProtocolMismatch):
            vdds.Subscriber("typed", type_size=16)


@pytest.mark.parametrize("topic", ["", "has space", ".hidden", "a/b", "x" * 65, "nul\0inside"])
def test_a_bad_topic_name_is_InvalidArgument(topic):
    with pytest.raises(ValueError) as info:
        vdds.Publisher(topic)
    assert_vdds_error(info, errno.EINVAL, vdds.InvalidArgument, ValueError)
    with pytest.raises(vdds.InvalidArgument):
        vdds.Subscriber(topic)


def test_bad_options_are_InvalidArgument():
    for options in ({"slots": 1}, {"slot_size": 0}, {"max_subscribers": 257}):
        with pytest.raises(vdds.InvalidArgument):
            vdds.Publisher("opts", **options)
    with pytest.raises(vdds.InvalidArgument):
        vdds.Publisher("opts", type_name="t" * 64)
    with vdds.Publisher("opts") as pub:
        with pytest.raises(vdds.InvalidArgument):
            pub.publish(pub.loan(), -1)
        with pytest.raises(ValueError, match="timeout"):
            pub.loan(timeout=-1)


def test_more_than_a_slot_is_MessageTooLarge():
    with vdds.Publisher("big", slot_size=16) as pub:
        with pytest.raises(ValueError) as info:
            pub.write(bytes(17))
        assert_vdds_error(info, errno.EMSGSIZE, vdds.MessageTooLarge, ValueError)
        with pub.loan() as buf:
            with pytest.raises(vdds.MessageTooLarge):
                pub.publish(buf, 17)


def test_waits_that_run_out_are_TimeoutError():
    with vdds.Publisher("slow", slots=2) as pub, vdds.Subscriber("slow") as sub:
        with pytest.raises(TimeoutError) as info:
            sub.wait(timeout=0.01)
        assert_vdds_error(info, errno.ETIMEDOUT, vdds.Timeout, TimeoutError)
        held = [pub.loan(), pub.loan()]
        with pytest.raises(vdds.Timeout):
            pub.loan(timeout=0.01)
        del held


def test_a_loan_that_may_not_wait_is_BlockingIOError():
    with vdds.Publisher("full", slots=2) as pub:
        held = [pub.loan(), pub.loan()]
        with pytest.raises(BlockingIOError) as info:
            pub.loan(timeout=0)
        assert_vdds_error(info, errno.EAGAIN, vdds.WouldBlock, BlockingIOError)
        with pytest.raises(vdds.WouldBlock):
            pub.write(b"x", timeout=0)
        del held


def test_a_gone_publisher_is_BrokenPipeError_once_everything_was_taken():
    pub = vdds.Publisher("ending")
    sub = vdds.Subscriber("ending")
    pub.write(b"last")
    pub.close()
    assert bytes(sub.receive(timeout=5)) == b"last"
    with pytest.raises(BrokenPipeError) as info:
        sub.receive(timeout=5)
    assert_vdds_error(info, errno.EPIPE, vdds.PublisherGone, BrokenPipeError)
    with pytest.raises(vdds.PublisherGone):
        sub.take()
    with pytest.raises(vdds.PublisherGone):
        sub.wait(timeout=5)
    sub.close()


def test_a_full_publisher_is_TooManySubscribers():
    with vdds.Publisher("one_only", max_subscribers=1):
        with vdds.Subscriber("one_only"):
            with pytest.raises(vdds.TooManySubscribers) as info:
                vdds.Subscriber("one_only")
    assert_vdds_error(info, errno.ENOSPC, vdds.TooManySubscribers, vdds.Error)


# ---- the library's detail: in the message and as the attribute `detail`


def test_a_type_mismatch_says_what_the_publisher_has():
    with vdds.Publisher("posed", type_name="Pose", type_size=24):
        with pytest.raises(vdds.ProtocolMismatch) as info:
            vdds.Subscriber("posed", type_name="Twist", type_size=48)
    e = info.value
    assert e.detail == "type 'Twist' (48 B) expected, publisher has 'Pose' (24 B)"
    assert "publisher has 'Pose' (24 B)" in str(e)
    assert_vdds_error(info, errno.EPROTO, vdds.ProtocolMismatch, vdds.Error)


PUB_BAD = [
    ({"slot_size": -1}, "slot_size -1"),
    ({"slot_size": 0}, "slot_size 0"),
    ({"slots": 1}, "slots 1"),
    ({"max_subscribers": 0}, "max_subscribers 0"),
    ({"max_subscribers": vdds.MAX_SUBSCRIBERS + 1}, f"max_subscribers {vdds.MAX_SUBSCRIBERS + 1}"),
    ({"type_size": -1}, "type_size -1"),
    ({"overflow": 7}, "overflow 7"),
    ({"slots": 8, "history": 5}, "history 5"),
    ({"group": -1}, "group"),
    ({"group": 1 << 32}, "group"),
]


@pytest.mark.parametrize("options,named", PUB_BAD, ids=[n for _, n in PUB_BAD])
def test_a_bad_publisher_option_is_named(options, named):
    with pytest.raises(vdds.InvalidArgument) as info:
        vdds.Publisher("ok", **options)
    assert info.value.detail.startswith(named + ":"), info.value.detail
    assert named in str(info.value)
    assert_vdds_error(info, errno.EINVAL, vdds.InvalidArgument, ValueError)


SUB_BAD = [
    ({"type_size": -1}, "type_size -1"),
    ({"max_held": -1}, "max_held -1"),
    ({"spin_ns": -1}, "spin_ns -1"),
    ({"spin_ns": 1 << 32}, f"spin_ns {1 << 32}"),
    ({"publisher_uid": -1}, "publisher_uid"),
    ({"type_name": "t" * (vdds.TYPE_NAME_MAX + 1)}, "type_name"),
]


@pytest.mark.parametrize("options,named", SUB_BAD, ids=[n for _, n in SUB_BAD])
def test_a_bad_subscriber_option_is_named(options, named):
    with vdds.Publisher("ok"):
        with pytest.raises(vdds.InvalidArgument) as info:
            vdds.Subscriber("ok", **options)
    assert info.value.detail.startswith(named + ":"), info.value.detail
    assert_vdds_error(info, errno.EINVAL, vdds.InvalidArgument, ValueError)


@pytest.mark.parametrize("topic,fault", [("a/b", "'/' at byte 1"), ("nul\0inside", "NUL at byte 3")])
def test_a_bad_topic_name_says_what_is_wrong_with_it(topic, fault):
    for handle in (vdds.Publisher, vdds.Subscriber):
        with pytest.raises(vdds.InvalidArgument) as info:
            handle(topic)
        assert fault in info.value.detail
        assert_vdds_error(info, errno.EINVAL, vdds.InvalidArgument, ValueError)


def test_a_detail_belongs_to_the_call_that_failed_never_to_an_older_one():
    with vdds.Publisher("stale", type_name="Pose"):
        with pytest.raises(vdds.ProtocolMismatch) as info:
            vdds.Subscriber("stale", type_name="Twist")
        assert info.value.detail  # the refusal's words, still this thread's detail
        with pytest.raises(vdds.NoPublisher) as info:
            vdds.Subscriber("nobody_here")
        assert info.value.detail == ""
        assert_vdds_error(info, errno.ENOENT, vdds.NoPublisher, FileNotFoundError)
        sub = vdds.Subscriber("stale")
        with pytest.raises(vdds.ProtocolMismatch):
            vdds.Subscriber("stale", type_name="Twist")
    # take() does not touch the detail: the mismatch's words are still there
    with pytest.raises(vdds.PublisherGone) as info:
        sub.receive(timeout=5)
    assert info.value.detail == ""
    assert_vdds_error(info, errno.EPIPE, vdds.PublisherGone, BrokenPipeError)
    sub.close()


def test_a_reconnecting_subscriber_refused_by_the_next_publisher_says_why():
    pub = vdds.Publisher("retyped", type_name="Pose", type_size=24)
    sub = vdds.Subscriber("retyped", type_name="Pose", type_size=24, reconnect=True)
    pub.close()
    with vdds.Publisher("retyped", type_name="Twist", type_size=48):
        with pytest.raises(vdds.ProtocolMismatch) as info:
            for _ in range(100):
                sub.wait(timeout=0.1)
                assert sub.take() is None
    assert info.value.detail == "type 'Pose' (24 B) expected, publisher has 'Twist' (48 B)"
    assert_vdds_error(info, errno.EPROTO, vdds.ProtocolMismatch, vdds.Error)
    sub.close()


@pytest.mark.isolated
def test_out_of_file_descriptors_says_whose_limit_and_what_a_subscription_needs():
    import resource

    with vdds.Publisher("many", max_subscribers=64):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        in_use = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 16, hard))
        subs = []
        try:
            with pytest.raises(vdds.Error) as info:
                for _ in range(64):
                    subs.append(vdds.Subscriber("many"))
        finally:
            for s in subs:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert info.value.errno == errno.EMFILE
    assert f"RLIMIT_NOFILE is {in_use + 16}" in info.value.detail
    assert "each subscription needs 2" in info.value.detail
    assert info.value.detail in str(info.value)
