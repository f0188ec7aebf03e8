"""Atomic file output: a killed run never leaves a file that looks complete."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from soundflow import diskspace
from soundflow.finite import non_finite_leaves


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_temp_leftovers(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries of :func:`atomic_path` for ``path`` (any pid); return what was removed.

    Only for a caller that is the sole writer of ``path`` (a killed run's temporary can be tens of MB).
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    prefix = f".{path.name}.tmp-"
    stale = sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit())
    for p in stale:
        remove_path(p)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it onto ``path`` on success.

    Works for files and folders. On error the temporary is removed and an
    existing ``path`` is left untouched. A write that fails for want of space (an OSError ENOSPC/EDQUOT,
    or a C library's error on a disk found full) becomes :class:`~soundflow.errors.DiskFull`, naming the
    disk, the file and ``size`` (the bytes it takes, where the caller knows them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    remove_path(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.exists():
            # os.replace cannot swap a folder over a non-empty one
            remove_path(path)
        os.replace(tmp, path)
    except Exception as exc:
        if not diskspace.is_disk_full(exc, path.parent):
            raise
        diskspace.release(tmp)  # the message states the space there is once tmp is gone
        remove_path(tmp)
        raise diskspace.disk_full(path, size, kept=path.exists()) from exc
    finally:
        remove_path(tmp)


def write_json(path: str | os.PathLike[str], obj: Any, *, sort_keys: bool = True) -> Path:
    """Write ``obj`` as strict JSON: NaN or infinity is refused (ValueError naming the file and keys).

    Python's json would write the non-standard ``NaN``/``Infinity`` that strict parsers, DVC's
    metrics and other languages reject; a value that is undefined must be written as ``None``.
    Keys are sorted unless ``sort_keys`` is False: then they keep the dicts' order (e.g. class order).
    """
    try:
        text = json.dumps(obj, indent=2, sort_keys=sort_keys, allow_nan=False)
    except ValueError:
        bad = ", ".join(f"{key} = {value!r}" for key, value in non_finite_leaves(obj)) or "a value"
        raise ValueError(f"{path}: not written, JSON has no NaN or infinity: {bad}") from None
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically; DiskFull before anything is written when it cannot fit."""
    size = memoryview(data).nbytes
    diskspace.check_free(Path(path), size)
    with atomic_path(path, size=size) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def remove_path(path: Path) -> None:
    """Delete a file, symlink or directory tree if present."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _check_replaceable(out_dir: Path, readme_title: str, owner: str) -> None:
    # Generators replace their folder wholesale, so a mistyped path (a home directory, a real dataset
    # download) must not be wiped: only a missing or empty path, or a folder whose README.md carries
    # this generator's title, may be replaced.
    if out_dir.is_symlink() or not out_dir.exists():
        return
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        return
    try:
        ours = out_dir.is_dir() and (out_dir / "README.md").read_text(encoding="utf-8").startswith(readme_title)
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise FileExistsError(
            f"out_dir {str(out_dir)!r} exists and was not written by {owner}; "
            "refusing to replace it (remove it yourself if that is intended)"
        )


def _remove_stale_siblings(out_dir: Path) -> None:
    """Delete temp/aside trees left next to ``out_dir`` by runs that were killed."""
    for prefix in (".tmp-", ".old-"):
        for path in out_dir.parent.glob(out_dir.name + prefix + "*"):
            pid = path.name[len(out_dir.name + prefix) :]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            if not pid_alive(int(pid)):  # alive: another run may still be using it
                remove_path(path)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# The licence section that ends every generator's README (the generated data is the project's own work).
CC0_README_SECTION = (
    "## Licence",
    "",
    "Generated data, dedicated to the public domain under CC0 1.0",
    "(https://creativecommons.org/publicdomain/zero/1.0/).",
    "",
)


@contextlib.contextmanager
def generated_folder(out_dir: Path, readme_title: str, owner: str) -> Iterator[Path]:
    """Build a generator's output folder in a temporary sibling, then swap it in with renames.

    Refuses (FileExistsError) to replace a non-empty folder whose README.md does not start with
    ``readme_title``; the body must write that README. On error nothing of the new tree is left and
    an existing ``out_dir`` is untouched; leftovers of killed runs are cleaned up on the next call.
    """
    out_dir = Path(out_dir)
    if out_dir.name in ("", ".", ".."):
        raise ValueError(f"out_dir must name a directory, got {str(out_dir)!r}")
    _check_replaceable(out_dir, readme_title, owner)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(out_dir)
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    remove_path(tmp)
    try:
        tmp.mkdir(parents=True)
        yield tmp
        # the old tree is moved aside first, so out_dir is only ever absent for an instant, never half-written
        remove_path(old)
        if out_dir.exists() or out_dir.is_symlink():
            out_dir.rename(old)
        tmp.rename(out_dir)
        remove_path(old)
    except Exception as exc:
        if not diskspace.is_disk_full(exc, out_dir.parent):
            raise
        diskspace.release(tmp)
        remove_path(tmp)
        raise diskspace.disk_full(out_dir, kept=out_dir.exists()) from exc
    finally:
        remove_path(tmp)


# The temporaries the writers here (and Scaper's, ``.NAME.tmp-PID.wav``) leave when their process is killed:
# ``.NAME.tmp-PID[.ext]`` inside a folder, ``NAME.tmp-PID`` / ``NAME.old-PID`` beside a generated folder.
_HIDDEN_TEMP = re.compile(r"^\..+\.tmp-(\d+)(\.[A-Za-z0-9]+)?$")
_ASIDE_TEMP = re.compile(r"^.+\.(?:tmp|old)-(\d+)$")


def remove_dead_temporaries(out: str | os.PathLike[str]) -> list[Path]:
    """Delete what killed writers left in and beside the output ``out`` (a file or a folder); return it.

    A killed run's temporaries are never read as results, but inside an output folder DVC would hash them
    into the output, and they hold disk space. Those of a live process (another run's) are kept.
    """
    out = Path(out)
    found = [p for p in out.parent.glob(f"*{out.name}*") if _ASIDE_TEMP.match(p.name) or _HIDDEN_TEMP.match(p.name)]
    if out.is_dir() and not out.is_symlink():
        found += [p for p in out.rglob(".*") if _HIDDEN_TEMP.match(p.name)]
    stale = []
    for p in sorted(set(found)):
        m = _HIDDEN_TEMP.match(p.name) or _ASIDE_TEMP.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            remove_path(p)
            stale.append(p)
    return stale
