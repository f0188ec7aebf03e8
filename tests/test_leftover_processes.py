"""The session-end check (tests/conftest.py, tests/helpers/leftovers.py) finds what a test leaves running: a
process below the pytest process, one re-parented to init that only the session's marker names, and it stops
them; a session that leaves one behind fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest

from tests.helpers import leftovers
from tests.helpers.paths import ROOT

# prints the pid of a `sleep 60` it starts; the sleeper holds none of its pipes, so a reader sees their end
SLEEPER = (
    "import subprocess as s; d = s.DEVNULL; "
    "print(s.Popen(['sleep', '60'], stdout=d, stderr=d, start_new_session={new_session}).pid, flush=True)"
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _unmarked_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop(leftovers.MARKER, None)
    return env


def test_a_grandchild_left_running_is_reported_and_stopped() -> None:
    code = f"{SLEEPER.format(new_session=False)}; import time; time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_unmarked_env())
    try:
        sleeper = int(parent.stdout.readline())
        left = leftovers.check(uuid.uuid4().hex, root=parent.pid, grace=0.2)
        assert [(x.pid, x.how) for x in left] == [(sleeper, "child")]
        assert left[0].cmdline == "sleep 60"
        assert _gone(sleeper)
    finally:
        parent.kill()
        parent.wait(10)


def test_a_daemonised_process_is_found_by_the_session_marker_and_stopped() -> None:
    """Its parent exits at once: init adopts it, and only the marker in its environment says whose it is."""
    token = uuid.uuid4().hex
    code = SLEEPER.format(new_session=True)
    env = dict(os.environ, **{leftovers.MARKER: token})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    orphan = int(out.stdout)
    try:
        assert psutil.Process(orphan).ppid() != os.getpid()
        assert [p.pid for p, _ in leftovers.find(uuid.uuid4().hex, root=None)] == []  # another session's marker
        left = leftovers.check(token, root=None, grace=0.2)
        assert [(x.pid, x.how) for x in left] == [(orphan, "marked")]
        assert _gone(orphan)
    finally:
        if not _gone(orphan):
            os.kill(orphan, 9)


def test_a_process_that_exits_within_the_grace_period_is_not_reported() -> None:
    token = uuid.uuid4().hex
    quick = subprocess.Popen(["sleep", "0.3"], env=dict(os.environ, **{leftovers.MARKER: token}))
    assert [p.pid for p, _ in leftovers.find(token, root=None)] == [quick.pid]
    assert leftovers.check(token, root=None, grace=5) == []
    quick.wait(5)


LEAKY_TEST = """
import subprocess

def test_leaves_a_sleeper():
    subprocess.Popen(["sleep", "60"], start_new_session=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "two-workers"])
def test_a_session_that_leaves_a_process_behind_fails(tmp_path: Path, workers: list[str]) -> None:
    """A whole pytest session with the suite's hooks: every test passes, the session fails and names the
    process, and nothing of it outlives the session. Under pytest-xdist (``make test``) the worker that ran the
    test finds it, and the controller fails the run."""
    (tmp_path / "test_leak.py").write_text(textwrap.dedent(LEAKY_TEST))
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", *workers]
    argv += ["--leftover-grace=0.5", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_leak.py")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "1 passed" in out.stdout and out.returncode == 1, out.stdout + out.stderr
    assert "leftover processes" in out.stdout and "sleep 60" in out.stdout, out.stdout
    inner = out.stdout.split("leftover processes", 1)[1]
    pid = int(inner.split("pid ", 1)[1].split()[0])
    assert _gone(pid)
