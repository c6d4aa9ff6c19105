# conftest.py — what every Python test shares: a private runtime directory, a
# timeout per test, the C peer program, "all skipped" reported to CTest as 77,
# and tests marked `isolated` run each in a child interpreter.
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

TEST_TIMEOUT_S = 240
ISOLATED_ENV = "VDDS_TEST_ISOLATED"  # set in the child that runs one isolated test


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "isolated: run the test alone in a child interpreter, so that a crash (SIGSEGV, "
        "an ASan report) fails that test instead of ending the whole run",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """An `isolated` test runs as `python -m pytest FILE::TEST` in a child."""
    if pyfuncitem.get_closest_marker("isolated") is None or os.environ.get(ISOLATED_ENV):
        return None
    env = dict(os.environ, **{ISOLATED_ENV: "1"})
    # freed memory filled and checked: a use after free shows in the normal
    # build too (the ASan stage sets PYTHONMALLOC=malloc for its own allocator)
    env.setdefault("PYTHONMALLOC", "debug")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s",
           f"{pyfuncitem.path}::{pyfuncitem.name}"]
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=TEST_TIMEOUT_S - 20)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child running the test hung (killed after {e.timeout} s):\n{e.output}")
    if r.returncode == 0:
        if pyfuncitem.get_closest_marker("isolated").kwargs.get("show"):
            # past pytest's capture, into CTest's log: a seed, a count
            capture = pyfuncitem.config.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled():
                sys.stderr.write("\n" + r.stdout)
        return True
    out = r.stdout if len(r.stdout) < 16000 else r.stdout[:8000] + "\n[...]\n" + r.stdout[-8000:]
    if r.returncode == 77:
        pytest.skip("skipped in the child:\n" + r.stdout[-2000:])
    if r.returncode < 0:
        name = signal.Signals(-r.returncode).name
        pytest.fail(f"the child running the test was killed by {name}:\n{out}")
    pytest.fail(f"the test failed in its child (exit {r.returncode}):\n{out}")


@pytest.fixture(autouse=True)
def rundir(monkeypatch):
    """A fresh 0700 VDDS_DIR per test, so tests never meet each other's topics."""
    path = tempfile.mkdtemp(prefix="vdds-py-")  # short: socket paths are <= 107 bytes
    monkeypatch.setenv("VDDS_DIR", path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def timeout():
    """A hung test prints every thread's stack and ends the run."""
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def peer():
    """The path of the C peer program (py_peer), built by CMake."""
    path = os.environ.get("VDDS_PY_PEER")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("VDDS_PY_PEER (the C peer built by CMake) is not set")
    return path


def pytest_sessionfinish(session, exitstatus):
    """Nothing ran, something skipped (numpy missing...): CTest's SKIP code."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    stats = reporter.stats
    ran = any(stats.get(k) for k in ("passed", "failed", "error", "xfailed", "xpassed"))
    if not ran and stats.get("skipped"):
        session.exitstatus = 77

