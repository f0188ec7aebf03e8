"""One writer per workspace: the lock every pipeline-writing command takes before any work.

Two runs in one project (two ``soundflow run``, or ``soundflow run`` beside ``dvc repro``) would
resume each other's half-written checkpoints and record a mix of outputs in ``dvc.lock``. So a
command that writes takes ``.soundflow/pipeline/workspace.lock`` (the ignored state folder, never a DVC
dependency) with ``fcntl.flock`` on an open file for as long as it runs. The kernel drops that lock
when the process dies, so a dead holder never blocks anyone. Beside it,
``.soundflow/workspace-lock.json`` (written atomically) records the holder's pid, command line, start
time, host and token, so a refused command can name who holds the workspace. A record left behind by
a killed holder (its flock is free) is taken over, with a note on stderr.

Children of the holder: ``soundflow repro`` holds the lock while ``dvc repro`` runs each stage as
``python -m soundflow stage NAME``; those children must not be refused by their own parent. The
holder exports ``SOUNDFLOW_WORKSPACE_LOCK=<pid>:<nonce>``; a process whose token equals the record
of the lock currently held proceeds without taking it again (the same test makes the lock
re-entrant within one process). A stale or foreign token is ignored. Under a plain ``dvc repro``
(no soundflow parent) each ``soundflow stage`` takes the lock for the stage's duration, so a
concurrent ``soundflow run`` is refused and the other way round; DVC serialises its own repros.
That check comes late: DVC removes a stale stage's outputs (or restores them from its run cache,
running nothing) before the stage's command starts, and no soundflow code runs before that. Only
``soundflow repro`` checks before DVC touches anything.

Processes forked without exec (torch DataLoader workers) share the holder's open file and so keep
the flock until they exit, which they do soon after the holder dies; exec'd children never get it.

Which CLI commands take it (``writes=``, declared next to each command of soundflow/pipeline/cli/):

  takes the lock           run, repro, stage, features, download, dvc-yaml (writing dvc.yaml)
  does not (reads only)    list, params, predict, segment, datasets, dvc-yaml --check

``segment`` writes only its own ``--out`` folder, which no stage owns, and reads the checkpoint that
``seg_train`` replaces atomically; ``predict`` writes nothing. The Prefect flows
(``flows/pipeline.py``) take it too, so a run started from a deployment or a notebook is covered (under
``soundflow run`` they re-enter the CLI's lock); ``soundflow.pipeline.runner.execute()`` alone does not.

A refused command prints one line to stderr and exits with :data:`EXIT_BUSY` (75, ``EX_TEMPFAIL``
of sysexits.h: try again later).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundflow import io as sio
from soundflow.env import STATE_DIR
from soundflow.errors import UserError

LOCK_FILE = f"{STATE_DIR}/workspace.lock"
RECORD_FILE = f"{STATE_DIR}/workspace-lock.json"
TOKEN_ENV = "SOUNDFLOW_WORKSPACE_LOCK"
EXIT_BUSY = 75  # sysexits.h EX_TEMPFAIL
# a holder writes its record just after taking the flock: a reader that finds the flock taken but
# no live record waits this long for it before reporting what it has
RECORD_WAIT_SECONDS = 2.0


class WorkspaceBusy(UserError, RuntimeError):
    """Another live process holds the workspace; ``str()`` is the one-line message for the user."""

    exit_code = EXIT_BUSY

    def __init__(self, root: Path, record: dict[str, Any] | None) -> None:
        self.root, self.record = root, record
        who = describe(record) if record else "another process (it has not written its lock record yet)"
        super().__init__(f"workspace {root} is in use by {who}; wait for it or stop it")


@dataclass
class Lease:
    """What :func:`hold` yields: the record in force, and whether this call took the lock itself."""

    root: Path
    record: dict[str, Any]
    owner: bool  # False: nested under a holder whose token this process carries
    fd: int | None = None


def describe(record: dict[str, Any]) -> str:
    """``pid 1234 (soundflow run aed_train, since 2024-05-01 12:01:02 on host)``."""
    since = str(record.get("started", "?")).replace("T", " ")[:19]
    host = record.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"pid {record.get('pid', '?')} ({record.get('command', '?')}, since {since}{where})"


def read_record(root: Path) -> dict[str, Any] | None:
    """The last holder's record, or None when there is none (or it is unreadable)."""
    try:
        record = json.loads((Path(root) / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _pid_alive(pid: Any) -> bool:
    # a record's pid is read from a file: anything but a positive int names no process
    return isinstance(pid, int) and pid > 0 and sio.pid_alive(pid)


def _record_is_live(record: dict[str, Any] | None) -> bool:
    # a pid on another host cannot be checked from here: the flock alone says it is held
    if record is None:
        return False
    return record.get("host") != socket.gethostname() or _pid_alive(record.get("pid"))


def _try_flock(root: Path) -> int | None:
    """An fd holding the exclusive flock, or None when another open file holds it."""
    path = Path(root) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # non-inheritable: exec'd children never keep it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _default_command() -> str:
    argv = sys.argv or ["python"]
    return shlex.join([Path(argv[0]).name, *argv[1:]])


def _new_record(command: str | None) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "token": f"{os.getpid()}:{uuid.uuid4().hex}",
        "command": command or _default_command(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _take(root: Path, fd: int, command: str | None) -> Lease:
    """This process holds the flock: note a stale record it replaces, then write its own."""
    stale = read_record(root)
    if stale is not None:
        print(
            f"soundflow: taking over the stale workspace lock of {describe(stale)} in {root}: "
            "that process no longer holds it",
            file=sys.stderr,
        )
    record = _new_record(command)
    try:
        sio.write_json(Path(root) / RECORD_FILE, record)
    except BaseException:
        os.close(fd)  # a lock nobody can name would refuse everyone with no holder to point at
        raise
    return Lease(Path(root), record, owner=True, fd=fd)


def _is_our_holder(record: dict[str, Any] | None) -> bool:
    """This process carries the token of the live holder: it is that holder or one of its children."""
    token = os.environ.get(TOKEN_ENV)
    return bool(token) and record is not None and record.get("token") == token


def acquire(root: Path, command: str | None = None) -> Lease:
    """Take the workspace lock, or join it as a child of its holder; raise :class:`WorkspaceBusy` otherwise."""
    root = Path(root).resolve()
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    while True:
        fd = _try_flock(root)
        if fd is not None:
            return _take(root, fd, command)
        record = read_record(root)
        if _is_our_holder(record):
            return Lease(root, record, owner=False)
        if _record_is_live(record) or time.monotonic() > deadline:
            raise WorkspaceBusy(root, record)
        time.sleep(0.1)  # the new holder has the flock but has not replaced the old record yet


def release(lease: Lease) -> None:
    """Drop the record (only this holder's own) while still holding the flock, then the flock."""
    if not lease.owner or lease.fd is None:
        return
    try:
        current = read_record(lease.root)
        if current is not None and current.get("token") == lease.record["token"]:
            (lease.root / RECORD_FILE).unlink(missing_ok=True)
    finally:
        fcntl.flock(lease.fd, fcntl.LOCK_UN)
        os.close(lease.fd)
        lease.fd = None


@contextlib.contextmanager
def hold(root: Path, command: str | None = None) -> Iterator[Lease]:
    """Hold the workspace lock for the block; children started inside inherit the token and proceed."""
    lease = acquire(root, command)
    previous = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = lease.record["token"]
    try:
        yield lease
    finally:
        if previous is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = previous
        release(lease)
