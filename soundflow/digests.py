"""Content digests of files: what reuse decisions rest on, never a file's path, size or modification time.

A file replaced by other bytes of the same size, its modification time restored (as ``tar x``, ``cp -p`` or
``rsync -a`` leave it), keeps its path, size and mtime: only its content tells. :func:`file_sha256` streams
the file through sha256 in bounded memory.

The digests are remembered in this process only, keyed by the file's device, inode, size, mtime *and
ctime*: the ctime (status change time) is set by the kernel on every write, truncation, rename and
``utime`` call and cannot be set back by a user, so a file altered in any way is read again. The
memory is a speed-up for a process that meets the same file twice (the Prefect engine runs every stage in
one process); a stage run by DVC starts a fresh process and reads every file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHUNK = 1 << 20  # bytes read per step: hashlib releases the GIL on buffers this large, so threads overlap
MISSING = "missing"  # the digest of a path that cannot be read (the caller decides what that means)
_MEMO_LIMIT = 500_000  # entries remembered at most (about 100 MB): past it, the memory starts afresh
_memo: dict[tuple, str] = {}


def _stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file's bytes, or :data:`MISSING` when it cannot be read."""
    path = Path(path)
    stamp = _stamp(path)
    if stamp is None:
        return MISSING
    if stamp in _memo:
        return _memo[stamp]
    try:
        digest = stream_hexdigest(path)
    except OSError:
        return MISSING
    if _stamp(path) == stamp:  # remembered only when the file did not change while it was read
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[stamp] = digest
    return digest


def stream_hexdigest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of the file's bytes, read :data:`CHUNK` at a time and not remembered (a file about to be
    renamed; DVC's md5). Raises ``OSError`` when the file cannot be read."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def files_sha256(paths: Iterable[str | os.PathLike[str]], workers: int | None = None) -> list[str]:
    """:func:`file_sha256` of each path, in order, read by ``workers`` threads (default: up to 8 by CPU count)."""
    paths = list(paths)
    workers = workers or min(8, os.cpu_count() or 1)
    if workers <= 1 or len(paths) < 2:
        return [file_sha256(p) for p in paths]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(file_sha256, paths))


def forget() -> None:
    """Drop every remembered digest (tests; a process that wants every file read again)."""
    _memo.clear()
