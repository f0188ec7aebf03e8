"""Safe, atomic extraction of downloaded dataset archives (zip, tar, tar.gz/bz2/xz).

Every member is checked before anything is written: absolute paths, ``..`` that escapes the
destination, paths through a symlink member, symlinks or hardlinks pointing outside, and
device/fifo members raise :class:`UnsafeArchiveError`. The archive is extracted into a temporary
sibling folder that is renamed onto ``dest`` (:func:`soundflow.io.atomic_path`), so a failure
leaves nothing at ``dest``; ``dest/.extracted`` records what was extracted so a rerun is a no-op.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soundflow.digests import file_sha256
from soundflow.errors import UserError
from soundflow.io import atomic_path

log = logging.getLogger(__name__)

MARKER = ".extracted"


class ArchiveError(UserError, ValueError):
    """An archive that cannot be extracted (truncated, corrupt, not an archive); the message names it."""


class UnsafeArchiveError(ArchiveError):
    """An archive member that would write outside the destination, or is a device/fifo."""


# what the archive modules raise for a truncated or corrupt archive (a bad gzip stream is an OSError)
CORRUPT = (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, gzip.BadGzipFile, EOFError)


# what writing a member says when the archive's names collide or the filesystem refuses a name
MEMBER_ERRNOS = {errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.EINVAL, errno.ENAMETOOLONG, errno.EILSEQ}


@contextmanager
def _reading(archive: Path) -> Iterator[None]:
    try:
        yield
    except CORRUPT as err:
        problem = " ".join(str(err).split()) or type(err).__name__
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({problem})") from None
    except NotImplementedError as err:  # a compression method zipfile lacks
        raise ArchiveError(f"{archive}: unsupported archive feature ({err})") from None
    except OSError as err:  # a full disk or a permission stays what it is: not the archive's fault
        if err.errno not in MEMBER_ERRNOS:
            raise
        raise ArchiveError(f"{archive}: a member cannot be written ({err.strerror}: {err.filename})") from None


def _parts(archive: Path, member: str, name: str, links: set[str], what: str = "path") -> list[str]:
    """Lexically normalised components of ``name`` relative to the destination root.

    Rejects absolute names, ``..`` escaping the root, and names that pass through a symlink member
    (whose real target could be anywhere) before the last component.
    """
    norm = name.replace("\\", "/")
    if "\x00" in norm or norm.startswith("/") or (len(norm) > 1 and norm[0].isalpha() and norm[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {member!r} has an absolute {what} {name!r}")
    parts: list[str] = []
    comps = [c for c in norm.split("/") if c not in ("", ".")]
    for i, comp in enumerate(comps):
        if comp == "..":
            if not parts:
                raise UnsafeArchiveError(f"{archive}: member {member!r} {what} {name!r} escapes the destination")
            parts.pop()
            continue
        parts.append(comp)
        if i < len(comps) - 1 and "/".join(parts) in links:
            raise UnsafeArchiveError(f"{archive}: member {member!r} {what} {name!r} passes through a symlink")
    return parts


def _check_link(archive: Path, member: str, parts: list[str], target: str, links: set[str], hard: bool) -> None:
    kind = "hardlink" if hard else "symlink"
    if not target:
        raise UnsafeArchiveError(f"{archive}: member {member!r} is a {kind} with an empty target")
    t = target.replace("\\", "/")
    # a hardlink's target is relative to the archive root, a symlink's to the link's own folder
    joined = t if hard or t.startswith("/") else "/".join(parts[:-1] + [t])
    resolved = _parts(archive, member, joined, links, f"{kind} target")
    if hard and (not resolved or "/".join(resolved) in links):
        raise UnsafeArchiveError(f"{archive}: member {member!r} is a hardlink to a folder or symlink ({target!r})")


def _check_tree(archive: Path, name: str, parts: list[str], is_dir: bool, files: set[str], dirs: set[str]) -> None:
    """Refuse a member under an earlier file member, or a file where a folder is: extraction would fail midway."""
    for k in range(1, len(parts)):
        prefix = "/".join(parts[:k])
        if prefix in files:
            raise ArchiveError(f"{archive}: member {name!r} lies under {prefix!r}, which is a file in the archive")
        dirs.add(prefix)
    key = "/".join(parts)
    if key and (key in files if is_dir else key in dirs):
        raise ArchiveError(f"{archive}: member {name!r} is both a file and a folder in the archive")
    (dirs if is_dir else files).add(key)


def _check_tar(archive: Path, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    infos = tf.getmembers()
    links = {"/".join(_parts(archive, m.name, m.name, set())) for m in infos if m.issym()}
    files: set[str] = set()  # the members so far: a hardlink can only link to an earlier file
    dirs: set[str] = set()
    for m in infos:
        parts = _parts(archive, m.name, m.name, links)
        if m.isdev():  # character/block device or fifo
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a device or fifo")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} has an unsupported type {m.type!r}")
        if not parts and not m.isdir():
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} names the destination root")
        if m.issym() or m.islnk():
            _check_link(archive, m.name, parts, m.linkname, links, hard=m.islnk())
        if m.islnk() and "/".join(_parts(archive, m.name, m.linkname, links, "hardlink target")) not in files:
            raise ArchiveError(f"{archive}: member {m.name!r} is a hardlink to {m.linkname!r}, no earlier file")
        _check_tree(archive, m.name, parts, m.isdir(), files, dirs)
    return infos


def _check_zip(archive: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()

    def mode(i: zipfile.ZipInfo) -> int:
        return i.external_attr >> 16 if i.create_system == 3 else 0  # 3: unix

    links = {"/".join(_parts(archive, i.filename, i.filename, set())) for i in infos if stat.S_ISLNK(mode(i))}
    files: set[str] = set()
    dirs: set[str] = set()
    for i in infos:
        parts = _parts(archive, i.filename, i.filename, links)
        kind = stat.S_IFMT(mode(i))
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            raise UnsafeArchiveError(f"{archive}: member {i.filename!r} is a device or fifo")
        if not parts and not i.is_dir():
            raise UnsafeArchiveError(f"{archive}: member {i.filename!r} names the destination root")
        if kind == stat.S_IFLNK:
            target = zf.read(i).decode("utf-8", "surrogateescape")
            _check_link(archive, i.filename, parts, target, links, hard=False)
        _check_tree(archive, i.filename, parts, i.is_dir(), files, dirs)
    return infos


def _selected(names: list[str], members: list[str] | None, archive: Path) -> set[str]:
    if members is None:
        return set(names)
    chosen: set[str] = set()
    for want in members:
        w = want.rstrip("/")
        hits = {n for n in names if n.rstrip("/") == w or n.startswith(w + "/")}
        if not hits:
            raise KeyError(f"{archive}: no member {want!r}")
        chosen |= hits
    return chosen


def _record(archive: Path, members: list[str] | None) -> dict:
    return {"archive": archive.name, "size": archive.stat().st_size, "sha256": file_sha256(archive), "members": members}


def _marker_matches(marker: Path, archive: Path, members: list[str] | None) -> bool:
    try:
        rec = json.loads(marker.read_text(encoding="utf-8"))
        if rec["archive"] != archive.name or rec["members"] != members:
            return False
        # the archive may have been deleted to save space; if it is there it must be the same one, by content
        # (another archive of the same size, its mtime restored, is not)
        return not archive.exists() or (archive.stat().st_size == rec["size"] and file_sha256(archive) == rec["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, members: list[str] | None = None) -> Path:
    """Extract ``archive`` (zip or tar, optionally gz/bz2/xz) to the folder ``dest``; return ``dest``.

    ``members`` limits extraction to those names (a folder name selects everything under it).
    Raises UnsafeArchiveError before writing anything if any member is unsafe. Refuses to replace
    a non-empty ``dest`` that this function did not write (FileExistsError).
    """
    archive, dest = Path(archive), Path(dest)
    marker = dest / MARKER
    if marker.is_file() and _marker_matches(marker, archive, members):
        log.debug("%s already extracted to %s", archive, dest)
        return dest
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise FileExistsError(f"{dest} exists and is not a folder; refusing to replace it")
    if dest.is_dir() and any(dest.iterdir()) and not marker.is_file():
        raise FileExistsError(f"{dest} is not empty and was not written by extract(); refusing to replace it")
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: archive not found")

    with _reading(archive):
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, members)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, members)
        else:
            raise ArchiveError(f"{archive}: not a zip or tar archive")
    log.info("extracted %s -> %s", archive, dest)
    return dest


def _extract_zip(archive: Path, dest: Path, members: list[str] | None) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = _check_zip(archive, zf)
        chosen = _selected([i.filename for i in infos], members, archive)
        with atomic_path(dest) as tmp:
            tmp.mkdir()
            for i in infos:
                if i.filename in chosen:
                    zf.extract(i, tmp)
            (tmp / MARKER).write_text(json.dumps(_record(archive, members)) + "\n", encoding="utf-8")


def _extract_tar(archive: Path, dest: Path, members: list[str] | None) -> None:
    with tarfile.open(archive, "r:*") as tf:
        infos = _check_tar(archive, tf)
        chosen = _selected([m.name for m in infos], members, archive)
        with atomic_path(dest) as tmp:
            tmp.mkdir()
            # filter="data" (PEP 706) re-checks every member against the real filesystem (defence in
            # depth); Python 3.11 releases before 3.11.4 lack it and rely on _check_tar alone
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(tmp, members=[m for m in infos if m.name in chosen], **safe)
            (tmp / MARKER).write_text(json.dumps(_record(archive, members)) + "\n", encoding="utf-8")
