# conftest.py — what every Python test shares: a private runtime directory, a
# timeout per test, the C peer program, and "all skipped" reported to CTest as 77.
import faulthandler
import os
import shutil
import tempfile

import pytest

TEST_TIMEOUT_S = 240


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

