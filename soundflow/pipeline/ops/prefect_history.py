"""The history of ``soundflow server prefect`` kept across the move of its database to a file of its own.

Older versions of the project started the server on Prefect's default database, ``prefect.db`` under
PREFECT_HOME (the project's ``.soundflow/prefect``), the file the ephemeral server of a run without
PREFECT_API_URL opens too. The server now keeps ``server.db`` there (:data:`servers.PREFECT_SERVER_DB`), so
an upgraded project would open on an empty server: its flow runs, deployments and schedules gone from the UI.

:func:`carry_over` copies the old file to the new one on the server's first start after the upgrade. Once: the
new file's presence says it is done, and ``prefect.db`` is the ephemeral server's from then on, never read by
the server again. The copy is SQLite's online backup (a consistent snapshot, the WAL's pages included), written
to a temporary file and linked into place only if no ``server.db`` appeared meanwhile. It is refused while a
process holds the old file open (an older server still running, or a run's ephemeral server): what that
process writes after the snapshot would be lost to the new server.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from soundflow.errors import UserError
from soundflow.pipeline.ops.servers import PREFECT_SERVER_DB

OLD_SERVER_DB = "prefect.db"  # Prefect's default under PREFECT_HOME: the server's file before server.db
_SIDE_FILES = ("", "-wal", "-shm", "-journal")  # SQLite's own files beside a database


class DatabaseInUse(UserError, RuntimeError):
    """The database to copy is open in another process."""


def holders(db: Path) -> list[tuple[int, str]]:
    """(pid, command name) of the processes of this user that hold ``db`` (or its WAL or journal) open."""
    import psutil

    names = {f"{Path(db).resolve()}{suffix}" for suffix in _SIDE_FILES}
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if any(f.path in names for f in proc.open_files()):
                found.append((proc.pid, proc.info["name"] or "?"))
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # another user's process, or one gone: not one of this project's servers
    return found


def _backup(src: Path, dst: Path) -> None:
    """A consistent copy of the database ``src`` in the new file ``dst`` (SQLite's backup API, in one step)."""
    source = sqlite3.connect(src)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)  # pages=-1: the whole database under one read transaction
        finally:
            target.close()  # in WAL mode the close checkpoints: dst is then one file
    finally:
        source.close()


def _publish(tmp: Path, dst: Path) -> bool:
    """``tmp`` made ``dst`` in one step, unless ``dst`` exists (then False: the file found there is kept)."""
    try:
        os.link(tmp, dst)  # atomic and refusing to replace
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: replace, after one more look
        if dst.exists():
            return False
        os.replace(tmp, dst)
    return True


def carry_over(home: Path) -> str | None:
    """Copy the old server database under ``home`` to :data:`PREFECT_SERVER_DB` if that does not exist yet;
    the line that says so, or None when there was nothing to do. Refuses (:class:`DatabaseInUse`) while a
    process holds the old file open."""
    home = Path(home)
    old, new = home / OLD_SERVER_DB, home / PREFECT_SERVER_DB
    if new.exists() or not old.is_file():
        return None
    if found := holders(old):
        who = ", ".join(f"{name} (pid {pid})" for pid, name in found)
        raise DatabaseInUse(
            f"{old} is open in {who}: stop it and start the server again, so that the history it keeps is "
            f"copied whole into {new.name}"
        )
    tmp = home / f".{PREFECT_SERVER_DB}.{os.getpid()}.tmp"
    try:
        _backup(old, tmp)
        if not _publish(tmp, new):
            return None
    finally:
        for suffix in _SIDE_FILES:  # the copy, and any file SQLite kept beside it
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return (
        f"copied the server's history from {old} to {new} (once: {old.name} is now the ephemeral server's, "
        "for runs without PREFECT_API_URL)"
    )
