"""Telling a full disk from other write failures, and saying so in one sentence (:class:`DiskFull`).

Python's own writes fail with ``OSError(ENOSPC)`` (or ``EDQUOT`` for a spent quota), but libraries that
write from C do not: ``torch.save`` to a path raises ``RuntimeError("... unexpected pos ...")``,
libsndfile a ``LibsndfileError`` with an empty message. A write that fails for want of space fills the
disk to its last block first, so after such an error a small probe write in the same folder tells whether
the disk is full: :func:`disk_full_error` turns either case into a :class:`DiskFull` naming the disk (its
mount point), the file and, where the caller knows it, the bytes needed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from soundflow.errors import DiskFull

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
PROBE_BYTES = 64 * 1024  # a disk with less than this left cannot hold any output of the project


def is_no_space(exc: BaseException | None) -> bool:
    """Whether ``exc`` or an exception it was raised from is an OSError for no space (or no quota) left."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def no_space_left(folder: Path) -> bool:
    """Whether a small write in ``folder`` fails for want of space: the probe behind C libraries' errors."""
    probe = Path(folder) / f".space-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as err:
        return err.errno in NO_SPACE
    try:
        os.write(fd, b"\0" * PROBE_BYTES)
        os.fsync(fd)  # delayed allocation reports a full disk only when the blocks are allocated
        return False
    except OSError as err:
        return err.errno in NO_SPACE
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (its nearest existing folder)."""
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def release(tmp: Path) -> None:
    """Give back the space of ``tmp`` (a failed write's temporary, file or folder) before it is deleted.

    A C writer that failed (torch's) can keep its file open until the process ends, and a deleted file's
    blocks stay taken while it is open: truncating frees them whoever holds it."""
    tmp = Path(tmp)
    files = [tmp] if not tmp.is_dir() else [p for p in tmp.rglob("*") if p.is_file() and not p.is_symlink()]
    for p in files:
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                os.truncate(p, 0)


def disk_full(path: Path, needed: int | None = None, *, kept: bool) -> DiskFull:
    """The :class:`DiskFull` for ``path``; ``needed``: the file's size where known; ``kept``: whether a
    previous ``path`` is still there (the caller left it untouched)."""
    path = Path(path)
    disk = mount_point(path.parent)
    try:
        free: int | None = shutil.disk_usage(path.parent if path.parent.exists() else disk).free
    except OSError:
        free = None
    space = f"{human(free)} free" if free is not None else "no space left"
    want = f", {human(needed)} needed" if needed is not None else ", not enough for it"
    previous = f"the previous {path.name} is untouched" if kept else "nothing was written"
    return DiskFull(
        f"{path}: not written, the disk at {disk} is full ({space}{want}); free some space there and run again "
        f"({previous})"
    )


def is_disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc``, raised while writing in ``folder``, stands for a full disk. Ask before the failed
    write's temporary is removed: the probe needs the disk as that write left it."""
    if isinstance(exc, DiskFull) or not isinstance(exc, (OSError, RuntimeError)):
        return False
    return is_no_space(exc) or (isinstance(exc, RuntimeError) and no_space_left(folder))


def check_free(path: Path, needed: int) -> None:
    """DiskFull before anything is written when ``needed`` bytes cannot fit beside ``path``."""
    path = Path(path)
    folder = path.parent if path.parent.exists() else mount_point(path.parent)
    if shutil.disk_usage(folder).free < needed:
        raise disk_full(path, needed, kept=path.exists())
