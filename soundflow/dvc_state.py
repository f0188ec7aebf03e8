"""DVC's view of each stage: the one notion of "up to date" that both engines share.

``dvc repro`` decides with these same calls; ``soundflow run`` (Prefect) asks
them before running a stage and records the stage in ``dvc.lock`` afterwards,
so after either engine the other has nothing to do.
"""

from __future__ import annotations

import contextlib
import logging
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


def _target(repo: Any, name: str) -> str:
    # DVC resolves targets against the working directory: address stages absolutely
    return f"{Path(repo.root_dir) / 'dvc.yaml'}:{name}"


def _stage(repo: Any, name: str) -> Any:
    return repo.stage.collect_granular(_target(repo, name))[0].stage


def status(repo: Any, name: str) -> list[str]:
    """Why ``name`` is stale ([] = up to date): DVC's status of the stage, in words."""
    if not _locked(repo, name):
        return ["never run (no entry in dvc.lock)"]
    raw = repo.status(targets=[_target(repo, name)])
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


def _locked(repo: Any, name: str) -> bool:
    import yaml

    lock = Path(repo.root_dir) / "dvc.lock"
    return lock.is_file() and name in (yaml.safe_load(lock.read_text()) or {}).get("stages", {})


def stage_hash(repo: Any, name: str) -> str | None:
    """DVC's run-cache key of the stage: a hash of its command, dependencies' contents and parameter values.

    Computable before the stage runs (it does not involve outputs), so it doubles as the Prefect cache key.
    DVC keeps stages with persistent outputs out of its run cache (it could not restore what earlier runs
    left), but their key is as well defined, and without one Prefect would never show them as Cached.
    """
    from dvc.stage.cache import _can_hash, _get_cache_hash
    from dvc.stage.serialize import to_single_stage_lockfile

    stage = _stage(repo, name)
    stage.save_deps()
    persist = [out.persist for out in stage.outs]
    try:
        for out in stage.outs:
            out.persist = False
        hashable = _can_hash(stage)
    finally:
        for out, flag in zip(stage.outs, persist):
            out.persist = flag
    return _get_cache_hash(to_single_stage_lockfile(stage), key=True) if hashable else None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # DVC warns "'data/raw' is empty" on every commit while the raw-data folder is unused: not news
    log = logging.getLogger("dvc")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def commit(repo: Any, name: str) -> None:
    """Record the stage's current deps, params and outs in dvc.lock and its outputs in the DVC cache."""
    with _quiet():
        repo.commit(_target(repo, name), force=True)


def commit_dvcfile(repo: Any, path: Path) -> None:
    """Record the current state of a ``.dvc`` file's outputs (``data.dvc``)."""
    with _quiet():
        repo.commit(str(Path(path).resolve()), force=True)


def check_stage_interpreter(root: Path) -> None:
    """Refuse (UserError) before ``dvc repro`` when the interpreter the stage commands name is missing: DVC would
    delete a stale stage's outputs first, then fail to start its command."""
    from soundflow.errors import UserError
    from soundflow.stages import PYTHON

    if not (Path(root) / PYTHON).is_file():
        raise UserError(
            f"{Path(root) / PYTHON} does not exist, and every stage command in dvc.yaml runs it: "
            "create the project's virtual environment there first (`make install`)"
        )
