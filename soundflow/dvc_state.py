"""DVC's view of each stage: the one notion of "up to date" that both engines share.

``dvc repro`` decides with these same calls; ``soundflow run`` (Prefect) asks
them before running a stage and records the stage in ``dvc.lock`` afterwards,
so after either engine the other has nothing to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def open_repo(root: Path) -> Iterator[Any]:
    from dvc.repo import Repo

    repo = Repo(str(root))
    try:
        yield repo
    finally:
        repo.close()


def _stage(repo: Any, name: str) -> Any:
    return repo.stage.collect_granular(name)[0].stage


def status(repo: Any, name: str) -> list[str]:
    """Why ``name`` is stale ([] = up to date): DVC's status of the stage, in words."""
    raw = repo.status(targets=[name])
    reasons: list[str] = []
    for entries in raw.values():
        for entry in entries:
            if isinstance(entry, str):
                reasons.append(entry)
                continue
            for kind, changes in entry.items():
                for path, what in changes.items():
                    if isinstance(what, dict):  # params: {key: "modified"/"new"/"deleted"}
                        reasons += [f"param {k} {v}" for k, v in what.items()]
                    else:
                        reasons.append(f"{kind.replace('changed ', '')} {path} {what}")
    return reasons


def stage_hash(repo: Any, name: str) -> str | None:
    """DVC's run-cache key of the stage: a hash of its command, dependencies' contents and parameter values.

    Computable before the stage runs (it does not involve outputs), so it doubles as the Prefect cache key.
    """
    from dvc.stage.cache import _can_hash, _get_stage_hash

    stage = _stage(repo, name)
    stage.save_deps()
    return _get_stage_hash(stage) if _can_hash(stage) else None


def commit(repo: Any, name: str) -> None:
    """Record the stage's current deps, params and outs in dvc.lock and its outputs in the DVC cache."""
    repo.commit(name, force=True)
