# test_topics.py — vdds.rundir(), vdds.topics() and vdds.topic_info(): the
# runtime directory, its topics and each publisher's own account, through the
# library's public introspection calls (what `vdds ls` / `vdds info` show).
import errno
import os
import signal

import pytest

import vdds


def test_rundir_is_VDDS_DIR_and_is_made_on_request(rundir, tmp_path):
    assert vdds.rundir() == rundir
    fresh = tmp_path / "fresh"
    os.environ["VDDS_DIR"] = str(fresh)
    with pytest.raises(FileNotFoundError):
        vdds.rundir()
    assert vdds.rundir(create=True) == str(fresh)
    assert (os.stat(fresh).st_mode & 0o777) == 0o700


def test_a_runtime_directory_others_may_write_is_refused_with_its_path(rundir):
    os.chmod(rundir, 0o777)
    with pytest.raises(vdds.AccessDenied) as info:
        vdds.rundir()
    assert info.value.filename == rundir


def test_topics_lists_the_published_topics_sorted(rundir, tmp_path):
    assert vdds.topics() == []
    with vdds.Publisher("zeta"), vdds.Publisher("alpha"), vdds.Publisher("mid.dle"):
        assert vdds.topics() == ["alpha", "mid.dle", "zeta"]
        assert vdds.topics(dir=rundir) == ["alpha", "mid.dle", "zeta"]
    assert vdds.topics() == []
    os.environ["VDDS_DIR"] = str(tmp_path / "none_yet")
    assert vdds.topics() == []  # nobody has published: no directory, no topics
    with pytest.raises(FileNotFoundError):
        vdds.topics(dir=str(tmp_path / "none_yet"))


def test_topic_info_is_the_publishers_own_account():
    with vdds.Publisher("posed", slot_size=256, slots=8, max_subscribers=4, type_name="Pose",
                        type_size=24, overflow=vdds.OVERFLOW_DROP_OLDEST, history=2) as pub:
        pub.set_note("bridged: 12 in")
        with vdds.Subscriber("posed", max_held=2) as sub:
            for _ in range(3):
                pub.write(bytes(24))
            held = sub.receive(timeout=5)
            info = vdds.topic_info("posed", timeout=5)
            held.release()
    assert (info["pid"], info["uid"]) == (os.getpid(), os.geteuid())
    assert (info["slot_size"], info["slot_count"], info["max_subscribers"]) == (256, 8, 4)
    assert (info["type_name"], info["type_size"]) == ("Pose", 24)
    assert (info["overflow"], info["history"]) == (vdds.OVERFLOW_DROP_OLDEST, 2)
    assert info["published"] == 3 and info["note"] == "bridged: 12 in"
    assert info["n_subs"] == 1 and info["subscribers"] == 1
    (row,) = info["subs"]
    assert (row["pid"], row["uid"], row["held"], row["queued"], row["lost"]) == (
        os.getpid(), os.geteuid(), 1, 2, 0)


def test_topic_info_of_a_topic_without_publisher_is_NoPublisher():
    with pytest.raises(vdds.NoPublisher) as info:
        vdds.topic_info("nobody", timeout=1)
    assert info.value.filename == "nobody" and info.value.detail == ""
    with pytest.raises(vdds.InvalidArgument) as info:
        vdds.topic_info("a/b")
    assert "'/' at byte 1" in info.value.detail


def test_a_dead_publishers_topic_is_listed_and_refuses_info():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child publishes, says so, and dies without closing
        try:
            os.close(r)
            pub = vdds.Publisher("dead")  # kept: a dropped one closes
            os.write(w, b"up")
            signal.pause()
            pub.close()
        finally:
            os._exit(1)
    os.close(w)
    try:
        assert os.read(r, 2) == b"up"
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert vdds.topics() == ["dead"]
        with pytest.raises(vdds.Error) as info:
            vdds.topic_info("dead", timeout=1)
        assert info.value.errno == errno.ECONNREFUSED
    finally:
        os.close(r)
