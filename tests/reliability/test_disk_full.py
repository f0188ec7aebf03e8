"""A full disk: one clear sentence (the disk, the file, the bytes), the previous good output byte-identical,
no temporary left behind.

Two real mechanisms: ``ENOSPC`` raised from Python's own file writes after part of the data went to disk
(``io.open``/``open`` patched to hand out files whose ``write`` fails once the budget is spent, which runs
everywhere), and a real small tmpfs filled to the brim (where this process may mount one, as root; skipped
elsewhere), which also fails the writers that write from C: torch, libsndfile, HDF5.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundflow.diskspace import mount_point
from soundflow.errors import DiskFull
from soundflow.io import atomic_path, write_bytes, write_json, write_text

SR = 16000


# ------------------------------------------------------------------------------------------------ mechanisms


class _NoSpaceFile:
    """A real file whose writes fail with ENOSPC once ``budget`` bytes are written (the part that fits is)."""

    def __init__(self, f, budget: list[int]) -> None:
        self._f, self._budget = f, budget

    def write(self, data):
        n = len(data)
        if n > self._budget[0]:
            fits = self._budget[0]
            self._f.write(data[:fits])
            self._budget[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget[0] -= n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)


@pytest.fixture
def no_space_after(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, int], None]:
    """``no_space_after(folder, n)``: files opened for writing under ``folder`` fail after ``n`` bytes in all."""

    def arm(folder: Path, n: int) -> None:
        budget = [n]
        real_open = io.open

        def opener(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            writing = any(c in mode for c in "wax+")
            if writing and isinstance(file, (str, os.PathLike)) and Path(file).resolve().is_relative_to(folder):
                return _NoSpaceFile(f, budget)
            return f

        monkeypatch.setattr(io, "open", opener)
        monkeypatch.setattr(builtins, "open", opener)

    return arm


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted in tmp_path (root only; skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A ballast file leaving about ``leave`` bytes free on ``disk``."""
    ballast = disk / f"ballast-{uuid.uuid4().hex[:6]}"
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return ballast


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".tmp-" in p.name or p.name.startswith(".space-probe")]


def judge(board, err: DiskFull, target: Path, disk: Path, before: dict, after: dict, folder: Path) -> None:
    """Record the harm, then assert: one sentence naming file and disk; previous bytes kept; no temporaries."""
    text = str(err)
    lost = sum(after.get(k) != v for k, v in before.items()) + len(leftovers(folder))
    clear = "\n" not in text and str(target) in text and f"the disk at {disk} is full" in text
    board.harm("files_lost", lost)
    board.harm("unclear", int(not clear))
    assert clear, text
    assert lost == 0, (sorted(set(before) ^ set(after)), leftovers(folder))
    assert isinstance(err, OSError) and err.exit_code != 0


# ----------------------------------------------------------------------------- ENOSPC from Python's writes


def _json(path: Path) -> None:
    write_json(path, {"accuracy": 0.5, "per_class": list(range(2000))})


def _text(path: Path) -> None:
    write_text(path, "epoch,loss\n" + "1,0.5\n" * 2000)


def _shard_image(path: Path) -> None:
    write_bytes(path, np.arange(20000, dtype=np.float32).tobytes())


def _csv(path: Path) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame({"path": [f"clip{i}.wav" for i in range(2000)]}).to_csv(tmp, index=False)


PY_WRITERS = {"metrics json": _json, "history text": _text, "feature shard bytes": _shard_image, "csv": _csv}


@pytest.mark.parametrize("writer", PY_WRITERS.values(), ids=PY_WRITERS.keys())
def test_enospc_from_python_writes_keeps_the_previous_output(writer, tmp_path: Path, no_space_after, board) -> None:
    out = tmp_path / "out"
    target = out / "result.bin"
    out.mkdir()
    target.write_bytes(b"the previous good output\n")
    before = snapshot(out)
    no_space_after(out, 1000)  # the write gets 1000 bytes in, then the disk is full
    board.tried("fault")
    with pytest.raises(DiskFull) as exc:
        writer(target)
    judge(board, exc.value, target, mount_point(out), before, snapshot(out), out)
    assert isinstance(exc.value.__cause__, OSError) and exc.value.__cause__.errno == errno.ENOSPC


def test_a_write_that_cannot_fit_is_refused_before_it_starts(small_disk: Path, board) -> None:
    board.tried("fault")
    fill(small_disk, 100_000)
    target = small_disk / "shard-00000.h5"
    with pytest.raises(DiskFull) as exc:
        write_bytes(target, b"\1" * 300_000)
    text = str(exc.value)  # 300,000 bytes needed, about 100,000 free
    clear = "293.0 KiB needed" in text and "KiB free" in text and "nothing was written" in text
    board.harm("unclear", int(not clear))
    assert clear, text
    assert not target.exists() and leftovers(small_disk) == []


# --------------------------------------------------------------------------------- a real full disk (tmpfs)


def _checkpoint(path: Path) -> None:
    import torch

    from soundflow.checkpoints import save_checkpoint

    save_checkpoint(path, {"model": {"w": torch.arange(200_000, dtype=torch.float32)}})


def _clip(path: Path) -> None:
    from tasks.text_to_audio.generate import _write_clip

    _write_clip(path, np.linspace(-0.5, 0.5, 10 * SR, dtype=np.float32), SR)


def _metrics(path: Path) -> None:
    write_json(path, {"per_item": [0.125] * 200_000})


def _npz(path: Path) -> None:  # as the localisation evaluation writes its maps
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, maps=np.ones((200, 1000), np.float32))


C_AND_PY_WRITERS = {"checkpoint (torch)": _checkpoint, "clip (libsndfile)": _clip, "metrics json": _metrics,
                    "maps npz": _npz}  # fmt: skip


@pytest.mark.parametrize("writer", C_AND_PY_WRITERS.values(), ids=C_AND_PY_WRITERS.keys())
def test_full_disk_keeps_the_previous_output(writer, small_disk: Path, board) -> None:
    out = small_disk / "outputs"
    out.mkdir()
    target = out / "result"
    target.write_bytes(b"the previous good output\n")
    fill(small_disk, 200_000)  # the new output (about 800 kB) does not fit
    before = snapshot(out)
    board.tried("fault")
    with pytest.raises(DiskFull) as exc:
        writer(target)
    judge(board, exc.value, target, small_disk, before, snapshot(out), out)
    assert "the previous result is untouched" in str(exc.value)
    free = shutil.disk_usage(small_disk).free
    assert free > 150_000  # the temporary's space was given back (a C writer may still hold its file open)


# ------------------------------------------------------------------------------------- feature extraction


def _clips(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"clip{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(SR)).astype(np.float32), SR)
        rows.append({"path": str(path), "label": f"c{i % 2}", "fold": 1 + i % 2})
    csv = folder / "clips.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def test_features_on_a_full_disk_end_in_one_sentence(
    small_disk: Path, tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys, board
) -> None:
    """``soundflow features`` used to end in 13 HDF5 tracebacks and a segfault; now: one line, old shards kept."""
    from soundflow.pipeline import cli
    from tests.helpers.commands import own_project

    csv = _clips(tmp_path / "clips", 6)
    project = tmp_path / "project"
    project.mkdir()
    own_project(project, root, monkeypatch)
    store = small_disk / "store"
    argv = ["features", "logmel_pann", str(csv), "--out", str(store), "--shard-size", "2", "--device", "cpu"]
    assert cli.main([*argv, "--clip-seconds", "0.5"]) == 0
    # the manifest is withdrawn when a rebuild starts (the store is incomplete until it ends): the shards are
    # the previous output that must survive
    before = {k: v for k, v in snapshot(store).items() if k.endswith(".h5")}
    fill(small_disk, 30_000)
    capsys.readouterr()
    board.tried("fault")
    code = cli.main([*argv, "--clip-seconds", "1.0"])  # other parameters: every shard is rebuilt, larger
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("soundflow:")]
    lost = sum(snapshot(store).get(k) != v for k, v in before.items()) + len(leftovers(store))
    board.harm("files_lost", lost)
    board.harm("unclear", int(len(lines) != 1 or "Traceback" in err))
    assert code == DiskFull.exit_code and len(lines) == 1 and "Traceback" not in err, err
    assert f"the disk at {small_disk} is full" in lines[0] and "shard-00000.h5" in lines[0] and "needed" in lines[0]
    assert lost == 0


@pytest.mark.soak
def test_features_subprocess_on_a_full_disk_exits_cleanly(small_disk: Path, tmp_path: Path, root: Path, board) -> None:
    """The same through a real process: HDF5 writing to a full disk made it die of a segfault (exit 139)."""
    csv = _clips(tmp_path / "clips", 40)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(root / name, project / name)
    board.tried("fault")
    env = {**os.environ, "PYTHONPATH": str(root)}
    argv = [sys.executable, "-m", "soundflow", "features", "logmel_pann", str(csv), "--out", str(small_disk / "s"),
            "--shard-size", "8", "--clip-seconds", "2", "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("soundflow:")]
    board.harm("unclear", int(len(lines) != 1 or "Traceback" in proc.stderr))
    board.harm("files_lost", len(leftovers(small_disk)))
    assert proc.returncode == DiskFull.exit_code, proc.stderr[-3000:]
    assert len(lines) == 1 and "is full" in lines[0] and "Traceback" not in proc.stderr
