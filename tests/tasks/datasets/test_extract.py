"""Tests for tasks.datasets.extract: safe, atomic, idempotent archive extraction."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tasks.datasets.extract import MARKER, ArchiveError, UnsafeArchiveError, extract

FILES = {"ds/meta.csv": b"filename,fold\na.wav,1\n", "ds/audio/a.wav": b"RIFF....WAVE" * 100}


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def _tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
    return path


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _check_contents(dest: Path) -> None:
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data
    assert json.loads((dest / MARKER).read_text())["members"] is None


def test_zip_extracts_atomically_and_reruns_are_noops(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ds.zip", FILES)
    dest = tmp_path / "out"
    assert extract(archive, dest) == dest
    _check_contents(dest)
    assert _tree(tmp_path) == {"ds.zip", "out"} | {f"out/{p}" for p in _tree(dest)}  # no temporary left
    (dest / "ds" / "meta.csv").write_bytes(b"edited")  # a rerun must not touch the folder
    archive.unlink()  # not even need the archive
    extract(archive, dest)
    assert (dest / "ds" / "meta.csv").read_bytes() == b"edited"


@pytest.mark.parametrize("mode,suffix", [("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz"), ("w", "tar")])
def test_tar_extracts(tmp_path: Path, mode: str, suffix: str) -> None:
    archive = _tar(tmp_path / f"ds.{suffix}", list(FILES.items()), mode)
    dest = extract(archive, tmp_path / "out")
    _check_contents(dest)


def test_changed_archive_is_extracted_again(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "ds.tar.gz", list(FILES.items()))
    dest = extract(archive, tmp_path / "out")
    _tar(archive, [("ds/new.txt", b"a longer new member " * 50)])
    extract(archive, dest)
    assert _tree(dest) == {"ds", "ds/new.txt", MARKER}


def test_members_selects_a_subset_and_internal_symlink_is_kept(tmp_path: Path) -> None:
    entries = [*FILES.items(), ("other/x.txt", b"x"), _link("ds/latest.wav", "audio/a.wav", tarfile.SYMTYPE)]
    archive = _tar(tmp_path / "ds.tar.gz", entries)
    dest = extract(archive, tmp_path / "out", members=["ds"])
    assert not (dest / "other").exists()
    assert (dest / "ds" / "latest.wav").is_symlink()
    assert (dest / "ds" / "latest.wav").read_bytes() == FILES["ds/audio/a.wav"]
    with pytest.raises(KeyError, match="nope"):
        extract(archive, tmp_path / "out2", members=["nope"])
    assert not (tmp_path / "out2").exists()


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ds.zip", FILES)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        extract(archive, dest)
    assert _tree(dest) == {"mine.txt"}


def test_corrupt_archive_leaves_nothing_at_dest(tmp_path: Path) -> None:
    good = _tar(tmp_path / "good.tar", [("big.bin", bytes(range(256)) * 400)], "w")
    bad = tmp_path / "bad.tar"
    bad.write_bytes(good.read_bytes()[:20_000])  # header intact, body truncated
    with pytest.raises(ArchiveError, match="bad.tar: corrupt or truncated archive"):
        extract(bad, tmp_path / "out")
    assert _tree(tmp_path) == {"good.tar", "bad.tar"}


UNSAFE = {
    "zip-slip": ("zip", {"ok.txt": b"fine", "../evil.txt": b"pwned"}, "../evil.txt"),
    "zip-absolute": ("zip", {"ok.txt": b"fine", "/tmp/evil": b"pwned"}, "/tmp/evil"),
    "zip-nested-slip": ("zip", {"a/b/../../../evil.txt": b"pwned"}, "a/b/../../../evil.txt"),
    "tar-dotdot": ("tar", [("ok.txt", b"fine"), ("../evil.txt", b"pwned")], "../evil.txt"),
    "tar-absolute": ("tar", [("/tmp/evil", b"pwned")], "/tmp/evil"),
    "tar-symlink-out": ("tar", [("ok.txt", b"fine"), _link("link", "../../outside", tarfile.SYMTYPE)], "link"),
    "tar-symlink-abs": ("tar", [_link("etc", "/etc", tarfile.SYMTYPE)], "etc"),
    "tar-symlink-nested-out": ("tar", [_link("a/b/c", "../../..", tarfile.SYMTYPE)], "a/b/c"),
    "tar-hardlink-out": ("tar", [("ok.txt", b"fine"), _link("hard", "../outside.txt", tarfile.LNKTYPE)], "hard"),
    "tar-hardlink-abs": ("tar", [_link("hard", "/etc/passwd", tarfile.LNKTYPE)], "hard"),
    # a symlink inside dest, then a file written through it: the link could point anywhere on disk
    "tar-through-symlink": ("tar", [_link("d", "sub", tarfile.SYMTYPE), ("d/x.txt", b"x")], "d/x.txt"),
    "tar-symlink-via-symlink": ("tar", [_link("q", ".", tarfile.SYMTYPE), _link("p", "q/..", tarfile.SYMTYPE)], "p"),
    "tar-device": ("tar", [("ok.txt", b"fine"), _link("dev", "", tarfile.CHRTYPE)], "dev"),
    "tar-fifo": ("tar", [_link("fifo", "", tarfile.FIFOTYPE)], "fifo"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_members_are_rejected_before_writing(tmp_path: Path, case: str) -> None:
    kind, entries, bad = UNSAFE[case]
    work = tmp_path / "work"
    work.mkdir()
    archive = _zip(work / "x.zip", entries) if kind == "zip" else _tar(work / "x.tar.gz", entries)
    dest = work / "deep" / "out"
    with pytest.raises(UnsafeArchiveError) as exc:
        extract(archive, dest)
    assert str(archive) in str(exc.value) and repr(bad) in str(exc.value)
    assert not dest.exists()
    assert _tree(tmp_path) == {"work", f"work/{archive.name}"}  # nothing inside or outside dest, not even its parent


def test_zip_symlink_pointing_outside_is_rejected(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("link")
    info.create_system = 3
    info.external_attr = (0o120777) << 16  # S_IFLNK
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symlink target"):
        extract(tmp_path / "x.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="not a zip or tar"):
        extract(tmp_path / "x.bin", tmp_path / "out")
    assert not (tmp_path / "out").exists()
