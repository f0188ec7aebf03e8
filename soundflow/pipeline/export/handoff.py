"""What one cluster step hands to the next besides the DVC remote: ``dvc.lock`` entries, metrics, plots.

``send NAME DIR`` (after a stage ran and ``dvc commit`` recorded it) writes ``DIR/dvc.lock`` and copies the
stage's metrics and plots (small; the engine shows them as the step's artifacts) under ``DIR/files/``.
``receive DIR ...`` (before the next stage) merges each handoff's ``dvc.lock`` entries into the workspace's
and copies its files back, so that ``dvc pull`` finds the upstream hashes and the stage finds its inputs.
A handoff's lock holds its own stage and everything it received, so the entries of the whole upstream arrive.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from soundflow.io import atomic_path, write_text
from soundflow.pipeline.stages import get_stage

LOCK = "dvc.lock"
FILES = "files"


def _read_lock(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"schema": "2.0", "stages": {}}
    lock = yaml.safe_load(path.read_text()) or {}
    if not isinstance(lock.get("stages", {}), dict):
        raise ValueError(f"{path}: not a dvc.lock (no 'stages' mapping)")
    return {"schema": lock.get("schema", "2.0"), "stages": dict(lock.get("stages") or {})}


def merge_locks(target: Path, sources: list[Path]) -> dict[str, Any]:
    """``target``'s entries, overridden by the sources' (they ran after the image's ``dvc.lock`` was committed)."""
    lock = _read_lock(target)
    for src in sources:
        lock["stages"].update(_read_lock(src)["stages"])
    write_text(target, yaml.safe_dump(lock, sort_keys=False))
    return lock


def send(root: Path, stage: str, folder: Path) -> list[str]:
    """Write the handoff of ``stage`` (already run and committed in ``root``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / LOCK, folder / LOCK)
    sent = []
    for rel in (*get_stage(stage).metrics, *get_stage(stage).plots):
        src = root / rel
        if not src.is_file():
            raise FileNotFoundError(f"stage {stage} declares {rel} but did not write it")
        dst = folder / FILES / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        sent.append(rel)
    return sent


def receive(root: Path, folders: list[Path]) -> list[str]:
    """Merge the handoffs in ``folders`` into the workspace ``root``; returns the files copied in."""
    for f in folders:
        if not (f / LOCK).is_file():
            raise FileNotFoundError(f"{f}: not a handoff (no {LOCK})")
    merge_locks(root / LOCK, [f / LOCK for f in folders])
    copied = []
    for f in folders:
        for src in sorted(p for p in (f / FILES).rglob("*") if p.is_file()):
            rel = src.relative_to(f / FILES)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(root / rel) as tmp:
                shutil.copyfile(src, tmp)
            copied.append(str(rel))
    return copied


def main(argv: list[str]) -> int:
    if argv[:1] == ["send"] and len(argv) == 3:
        send(Path.cwd(), argv[1], Path(argv[2]))
    elif argv[:1] == ["receive"]:
        receive(Path.cwd(), [Path(a) for a in argv[1:]])
    else:
        print("usage: python -m soundflow.pipeline.export.handoff send STAGE DIR | receive [DIR ...]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
