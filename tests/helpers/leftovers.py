"""Processes a test session leaves behind: found at the session's end, reported, then stopped.

Two ways a process is ours: it descends from the pytest process, or it was started with this session's
marker in its environment (``SOUNDFLOW_TEST_SESSION``, set in ``os.environ`` when the session starts, so every
child inherits it). The marker finds what the process tree no longer shows: a server started in a session of
its own whose parent was killed is re-parented to init, yet its environment still names the session.

Each session draws a new marker, so a pytest run inside a test (an inner session) checks only its own.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

import psutil

MARKER = "SOUNDFLOW_TEST_SESSION"

# Helpers that live as long as the interpreter that started them and end when it exits (each watches a pipe
# from its parent): they are not left behind, whatever they are named at the session's end.
INTERPRETER_HELPERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "joblib.externals.loky",
)
# Prefect's ephemeral API server (started by a flow or client run with no PREFECT_API_URL) is stopped by an
# ``atexit`` handler of the process that started it: the pytest process's own is not left behind either.
EPHEMERAL_PREFECT = ("PREFECT__SERVER_EPHEMERAL", "1")


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str
    how: str  # "child": below the pytest process; "marked": elsewhere, found by the session's marker

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.how}): {self.cmdline}"


def mark_session() -> str:
    """A new marker for this session, in the environment every process started from now on inherits."""
    token = uuid.uuid4().hex
    os.environ[MARKER] = token
    return token


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline()) or f"[{p.name()}]"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE  # a zombie holds no port, file or CPU
    except psutil.NoSuchProcess:
        return False


def _marked(token: str, skip: set[int | None]) -> list[psutil.Process]:
    """Processes of this user, other than ``skip``, whose environment carries ``token`` (read from /proc)."""
    found = []
    uid = os.getuid()
    for p in psutil.process_iter(["pid", "uids"]):
        if p.pid in skip or p.info["uids"] is None or p.info["uids"].real != uid:
            continue
        try:
            if p.environ().get(MARKER) == token:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return found


def find(token: str, root: int | None) -> list[tuple[psutil.Process, str]]:
    """Running processes of the session: descendants of ``root`` (the pytest process; None: none) and the
    processes of this user carrying ``token``."""
    children = psutil.Process(root).children(recursive=True) if root is not None else []
    seen = {root, *(c.pid for c in children)} - {None}
    found = [(c, "child") for c in children] + [(p, "marked") for p in _marked(token, seen)]
    return [(p, how) for p, how in found if _running(p) and not _ends_with_interpreter(p, root)]


def _ends_with_interpreter(p: psutil.Process, root: int | None) -> bool:
    if any(h in _cmdline(p) for h in INTERPRETER_HELPERS):
        return True
    try:
        key, value = EPHEMERAL_PREFECT
        return p.ppid() == root and p.environ().get(key) == value
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still running after ``timeout`` seconds (a zombie counts as ended: its parent, not it,
    has yet to act, and psutil's own wait would block on it until the timeout)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _running(p)]
    return alive


def stop(procs: list[psutil.Process], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL to whatever has not exited after ``grace`` seconds."""
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    alive = _wait(procs, grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    _wait(alive, grace)


def check(token: str, root: int | None, grace: float = 5.0) -> list[Leftover]:
    """The session's processes still running ``grace`` seconds after it ended, each then stopped.

    The grace period lets a server that was just sent SIGTERM by a fixture's teardown finish its shutdown.
    """
    found = find(token, root)
    if not found:
        return []
    how = {p.pid: h for p, h in found}
    alive = _wait([p for p, _ in found], grace)
    left = [Leftover(p.pid, _cmdline(p), how[p.pid]) for p in alive]
    stop(alive)
    return sorted(left, key=lambda x: x.pid)
