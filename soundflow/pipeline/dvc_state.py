"""DVC's view of each stage: the one notion of "up to date" that both engines share.

``dvc repro`` decides with these same calls; ``soundflow run`` (Prefect) asks
them before running a stage and records the stage in ``dvc.lock`` afterwards,
so after either engine the other has nothing to do.
"""

from __future__ import annotations

import contextlib
import copy
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


def _stages(repo: Any) -> dict[str, Any]:
    """The stages of the project's dvc.yaml by name, from DVC's index: dvc.yaml and dvc.lock read once per repo
    (collecting a stage by target reads both again each time: 0.6 CPU s with the DAG's lock)."""
    top = Path(repo.root_dir) / "dvc.yaml"
    return {s.name: s for s in repo.index.stages if getattr(s, "name", None) and Path(s.path) == top}


def _stage(repo: Any, name: str) -> Any:
    found = _stages(repo).get(name)
    return found if found is not None else repo.stage.collect_granular(_target(repo, name))[0].stage


def status(repo: Any, name: str) -> list[str]:
    """Why ``name`` is stale ([] = up to date): DVC's status of the stage, in words."""
    snap = _snapshot_of(repo)
    if snap is None:
        return statuses(repo, [name])[name]
    known = snap.setdefault("reasons", {})
    if name not in known:
        names = [name]
        if not snap.get("ran"):  # the first question of a flow: each of its stages answered by the same call
            in_dag = set(_dvc_yaml_stages(repo))
            names = list(dict.fromkeys([*(n for n in snap["names"] if n in in_dag), name]))
        known.update(statuses(repo, names))
    return list(known[name])


WHOLE_STATUS_FROM = 3  # targets beyond which one status of the whole DAG is cheaper


def statuses(repo: Any, names: list[str]) -> dict[str, list[str]]:
    """:func:`status` of each of ``names``, from one DVC status call (``soundflow list``, a cached run)."""
    locked = _lock_stages(Path(repo.root_dir))
    out = {n: ([] if n in locked else ["never run (no entry in dvc.lock)"]) for n in names}
    targets = [_target(repo, n) for n in names if n in locked]
    # DVC reads dvc.yaml and dvc.lock again for every target (0.6 CPU s each with the DAG's 160 KB lock), but
    # once for a status of the whole project (1.9 s): past a few stages, ask about all and keep what was asked
    if len(targets) > WHOLE_STATUS_FROM:
        raw = repo.status()
    else:
        raw = repo.status(targets=targets) if targets else {}
    for key, entries in raw.items():
        name = key.rpartition(":")[2]  # "dvc.yaml:NAME" for a dvc.yaml elsewhere, else NAME
        if name in out:
            out[name] = _reasons(entries)
    return out


def _reasons(entries: list[Any]) -> list[str]:
    reasons: list[str] = []
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


# what DVC said during one flow while the workspace did not change: {"root": ..., "names": [...] (the flow's
# stages), "reasons": {name: [...]}, "hashes": {name: key}, "ran": bool}; a commit (a stage ran) clears the answers
_SNAPSHOT: dict[str, Any] = {}
# path -> (file version, parsed YAML): dvc.lock is read by every status question, and is 157 KB for the DAG
_YAML: dict[Path, tuple[tuple[int, ...], Any]] = {}


@contextlib.contextmanager
def snapshot(root: Path, names: list[str]) -> Iterator[None]:
    """Within: DVC's answers kept until a stage is committed; the first :func:`status` asks about all ``names``."""
    _SNAPSHOT.clear()
    _SNAPSHOT.update(root=str(Path(root).resolve()), names=list(names))
    try:
        yield
    finally:
        _SNAPSHOT.clear()


def _snapshot_of(repo: Any) -> dict[str, Any] | None:
    return _SNAPSHOT if _SNAPSHOT.get("root") == repo.root_dir else None


def _load_yaml(path: Path) -> Any:
    """``path`` parsed with libyaml's C loader when present (7x the pure-Python one), once per file version."""
    import yaml

    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    version = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    cached = _YAML.get(path)
    if cached is None or cached[0] != version:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        cached = (version, yaml.load(path.read_bytes(), Loader=loader))  # noqa: S506 -- a safe loader
        _YAML[path] = cached
    return cached[1]


def _lock_stages(root: Path) -> dict[str, Any]:
    return dict((_load_yaml(root / "dvc.lock") or {}).get("stages") or {})


def _dvc_yaml_stages(repo: Any) -> list[str]:
    return list((_load_yaml(Path(repo.root_dir) / "dvc.yaml") or {}).get("stages") or {})


def stage_hash(repo: Any, name: str) -> str | None:
    """DVC's run-cache key of the stage: a hash of its command, dependencies' contents and parameter values.

    Computable before the stage runs (it does not involve outputs), so it doubles as the Prefect cache key.
    DVC keeps stages with persistent outputs out of its run cache (it could not restore what earlier runs
    left), but their key is as well defined, and without one Prefect would never show them as Cached.
    """
    snap = _snapshot_of(repo)
    if snap is None:
        return _stage_hash(_stage(repo, name))
    known = snap.setdefault("hashes", {})
    if name not in known:  # else the cache key, asked again by the stage's task: nothing ran since
        stages = _stages(repo)
        names = [name]
        if not snap.get("ran"):  # the first question of a flow: every key of it from one reading of the DAG
            names = list(dict.fromkeys([*(n for n in snap["names"] if n in stages), name]))
        for n in names:
            _hash_into(known, n, stages[n] if n in stages else _stage(repo, n), asked=n == name)
    return known[name]


def _hash_into(known: dict[str, str | None], name: str, stage: Any, *, asked: bool) -> None:
    """``known[name]`` = the stage's key; a stage asked about only in passing whose inputs are not made yet (its
    upstream has not run) is left to be asked again when its turn comes."""
    from dvc.exceptions import DvcException

    try:
        known[name] = _stage_hash(stage)
    except DvcException:
        if asked:
            raise


def _stage_hash(stage: Any) -> str | None:
    from dvc.stage.cache import _can_hash, _get_cache_hash
    from dvc.stage.serialize import to_single_stage_lockfile

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


def locked_stage_hash(root: Path, name: str) -> str | None:
    """:func:`stage_hash` as of the stage's entry in dvc.lock (equal to it while the stage is up to date); None
    without an entry or outputs (such a stage has no run-cache key)."""
    from dvc.stage.cache import _get_cache_hash

    entry = _lock_stages(Path(root)).get(name)
    if not entry or not entry.get("outs"):
        return None
    return _get_cache_hash(copy.deepcopy(entry), key=True)


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
    if _SNAPSHOT:  # what the stage wrote may change later stages: ask DVC again, stage by stage
        _SNAPSHOT.update(reasons={}, hashes={}, ran=True)
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
    from soundflow.pipeline.stage import PYTHON

    if not (Path(root) / PYTHON).is_file():
        raise UserError(
            f"{Path(root) / PYTHON} does not exist, and every stage command in dvc.yaml runs it: "
            "create the project's virtual environment there first (`make install`)"
        )
