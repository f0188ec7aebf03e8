"""Killing runs for the tests that resume them: a training between epochs (in process), a stage subprocess
by SIGKILL at a chosen point, and what its outputs must look like afterwards."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from soundflow import training_state
from soundflow.pipeline.stages import Stage


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kill_after_first_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after the state of epoch 1 is on disk (as a kill between epochs would)."""
    real = training_state.save

    def save_then_die(*a: object, **k: object) -> None:
        real(*a, **k)
        monkeypatch.setattr(training_state, "save", real)
        raise KeyboardInterrupt("killed after epoch 1")

    monkeypatch.setattr(training_state, "save", save_then_die)


# ------------------------------------------------------------------ SIGKILL of a real stage subprocess
# What a killed stage may leave is judged by the stage's declared outputs (Stage.all_outs): every file there
# must either be absent or load with the project's public reader; hidden temporaries (the atomic writers'
# ``.NAME.tmp-PID``, generated folders' ``NAME.tmp-PID`` / ``NAME.old-PID``) may remain after a kill, since
# nothing reads them, but never after a completed rerun: DVC would record them as part of the output.

TEMPORARY = re.compile(r"^\..+\.tmp-\d+(\.\w+)?$|\.(tmp|old)-\d+$")


def is_temporary(path: Path) -> bool:
    return bool(TEMPORARY.search(path.name))


def _out_files(root: Path, out: str) -> list[Path]:
    base = root / out
    beside = [p for p in base.parent.glob(f"*{base.name}*") if is_temporary(p)] if base.parent.is_dir() else []
    files = []
    for p in [*beside, base]:
        files += [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    return files


def output_files(root: Path, stage: Stage) -> list[Path]:
    """Every file under (or a temporary beside) the stage's declared outputs, sorted."""
    return sorted({f for out in stage.all_outs for f in _out_files(root, out)})


def temporaries(root: Path, stage: Stage) -> list[str]:
    """Leftovers of interrupted writes among the stage's outputs (relative paths)."""
    found = [f for f in output_files(root, stage) if any(is_temporary(p) for p in f.relative_to(root).parents)
             or is_temporary(f)]  # fmt: skip
    return [str(f.relative_to(root)) for f in found]


def _check_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as h5:
        h5.visititems(lambda _name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def _check_store(folder: Path) -> None:
    """A feature store folder: complete (its manifest, every shard matching its content hash) or visibly not."""
    from tasks.features.store import MANIFEST, verify_store

    if (folder / MANIFEST).is_file():
        verify_store(folder)


def _check_file(path: Path) -> None:
    """Raise when ``path`` does not load with the reader its format has in the project."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".csv":
        import pandas as pd

        pd.read_csv(path)
    elif suffix == ".wav":
        import soundfile as sf

        sf.read(path)
    elif suffix in (".png", ".jpg", ".jpeg"):
        from PIL import Image

        with Image.open(path) as im:
            im.load()
    elif suffix == ".npz":
        import numpy as np

        with np.load(path) as z:
            [z[k] for k in z.files]
    elif suffix == ".h5":
        _check_h5(path)
    elif suffix == ".pt":
        from soundflow.checkpoints import load_checkpoint

        load_checkpoint(path)
    elif suffix == ".jams":
        import jams

        jams.load(str(path))
    elif path.stat().st_size == 0 and suffix not in (".txt", ".md"):
        raise ValueError("empty file")


def invalid_outputs(root: Path, stage: Stage) -> list[str]:
    """``path: problem`` for each declared output file (temporaries aside) that looks complete but is not."""
    bad = []
    temps = set(temporaries(root, stage))
    files = [f for f in output_files(root, stage) if str(f.relative_to(root)) not in temps]
    for f in files:
        try:
            _check_file(f)
        except Exception as err:  # any reader's error: the file is damaged
            bad.append(f"{f.relative_to(root)}: {type(err).__name__}: {err}")
    for store in {f.parent for f in files if f.name.startswith("shard-") and f.suffix == ".h5"}:
        try:
            _check_store(store)
        except Exception as err:
            bad.append(f"{store.relative_to(root)}: {type(err).__name__}: {err}")
    return bad


# fields that measure the run, not its result (wall time, throughput): left out of the comparison of outputs
TIMING = re.compile(r"(^|_)seconds$|per_second")


def _untimed(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def content_digest(path: Path, root: Path) -> str:
    """sha256 of the file's bytes with ``root`` written as ``<project>`` (outputs that name their own absolute
    path differ only by where the checkout is), for JSON and CSV of their content without the timing fields."""
    data = path.read_bytes().replace(str(root).encode(), b"<project>")
    if path.suffix == ".json":
        data = json.dumps(_untimed(json.loads(data)), sort_keys=True).encode()
    elif path.suffix == ".csv":
        import pandas as pd

        table = pd.read_csv(io.BytesIO(data))
        data = table.drop(columns=[c for c in table.columns if TIMING.search(str(c))]).to_csv(index=False).encode()
    return hashlib.sha256(data).hexdigest()


def digests(root: Path, stage: Stage) -> dict[str, str]:
    """:func:`content_digest` of every declared output file, by path relative to ``root``."""
    return {str(f.relative_to(root)): content_digest(f, root) for f in output_files(root, stage)}


def kill_when(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Path,
    ready: Callable[[], bool],
    delay: float,
    timeout: float = 300.0,
) -> int:
    """Start ``argv``, SIGKILL its process group ``delay`` s after ``ready()`` first holds; its exit status.

    A negative status is the signal that ended it (-9: the kill landed); 0 means it finished first.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv} never reached its kill point:\n{log.read_text()[-3000:]}")
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
