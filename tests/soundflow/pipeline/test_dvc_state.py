"""The cache key and staleness both engines share, checked in a tiny DVC project of its own.

The project is independent of the real pipeline so these tests run in seconds: four stages
(one with a persistent output, one with no outputs, one always changed), a params file and a dependency file.
DVC's commit resolves the stage file against the working directory, as `dvc` itself does when
run from inside the project, so each test works from the project's root.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from pathlib import Path

import pytest
import yaml

from soundflow.pipeline import dvc_state

PARAMS = {"a": {"x": 1, "y": 2}, "b": 3, "unused": 4}
DVC_YAML = {
    "stages": {
        "make": {"cmd": "cp in.txt mid.txt", "deps": ["in.txt"], "params": ["a.x", "a.y"], "outs": ["mid.txt"]},
        "grow": {
            "cmd": "cp mid.txt store/x",
            "deps": ["mid.txt"],
            "params": ["b"],
            "outs": [{"store": {"persist": True}}],
        },
        "check": {"cmd": "cat mid.txt", "deps": ["mid.txt"]},  # no outputs: nothing for a cache to restore
        "fetch": {"cmd": "cp in.txt fetched.txt", "deps": ["in.txt"], "outs": ["fetched.txt"], "always_changed": True},
    }
}


def _write_yaml(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from dvc.repo import Repo

    # DVC binds its log handlers to the sys.stdout/sys.stderr of the moment it is first imported; a runner that
    # starts several pytest sessions in one process (mutmut) has closed those by now: log to the current ones
    for handler in logging.getLogger("dvc").handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", sys.stderr if handler.level >= logging.WARNING else sys.stdout)
    root = tmp_path / "proj"
    root.mkdir()
    Repo.init(str(root), no_scm=True).close()
    _write_yaml(root / "params.yaml", PARAMS)
    _write_yaml(root / "dvc.yaml", DVC_YAML)
    (root / "in.txt").write_text("hello\n")
    (root / "mid.txt").write_text("hello\n")  # as if `make` had run: a dependency of `grow` must exist
    (root / "fetched.txt").write_text("hello\n")
    (root / "store").mkdir()
    (root / "store" / "x").write_text("hello\n")
    monkeypatch.chdir(root)
    return root


def hash_of(root: Path, name: str) -> str | None:
    with dvc_state.open_repo(root) as repo:
        return dvc_state.stage_hash(repo, name)


def status_of(root: Path, name: str) -> list[str]:
    with dvc_state.open_repo(root) as repo:
        return dvc_state.status(repo, name)


def commit(root: Path, *names: str) -> None:
    with dvc_state.open_repo(root) as repo:
        for name in names:
            dvc_state.commit(repo, name)


def set_param(root: Path, key: str, value: object) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text())
    node = raw
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    _write_yaml(root / "params.yaml", raw)


# --- stage_hash: the Prefect cache key -------------------------------------------------------------------


def test_hash_is_stable_across_calls_and_reopens(project: Path) -> None:
    with dvc_state.open_repo(project) as repo:
        first, again = dvc_state.stage_hash(repo, "make"), dvc_state.stage_hash(repo, "make")
    assert re.fullmatch(r"[0-9a-f]{64}", first)  # a sha256, DVC's run-cache key format
    assert again == first
    assert hash_of(project, "make") == first  # a fresh Repo object computes the same key
    assert hash_of(project, "grow") != first  # and it is a key of the stage, not of the project


def test_hash_is_the_key_of_dvcs_run_cache(project: Path) -> None:
    key = hash_of(project, "make")
    commit(project, "make")
    # DVC files a committed run under .dvc/cache/runs/<key[:2]>/<key>: the same key, computed by DVC itself
    runs = project / ".dvc" / "cache" / "runs"
    assert [p.name for p in runs.glob("*/*")] == [key]
    assert (runs / key[:2] / key).is_dir()


def test_hash_follows_dependency_content(project: Path) -> None:
    before = hash_of(project, "make")
    (project / "in.txt").write_text("changed\n")
    changed = hash_of(project, "make")
    assert changed != before
    (project / "in.txt").write_text("hello\n")
    assert hash_of(project, "make") == before  # contents, not timestamps: restoring restores the key


@pytest.mark.parametrize(("stage", "key", "value"), [("make", "a.x", 5), ("make", "a.y", 7), ("grow", "b", 9)])
def test_hash_changes_with_each_parameter(project: Path, stage: str, key: str, value: int) -> None:
    before = hash_of(project, stage)
    set_param(project, "unused", 40)  # a parameter the stage does not declare changes nothing
    assert hash_of(project, stage) == before
    set_param(project, key, value)
    assert hash_of(project, stage) != before


def test_hash_changes_with_the_command(project: Path) -> None:
    before = hash_of(project, "make")
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["make"]["cmd"] = "cp -p in.txt mid.txt"
    _write_yaml(project / "dvc.yaml", spec)
    assert hash_of(project, "make") != before


def test_persistent_outputs_still_get_a_key(project: Path) -> None:
    # DVC's run cache skips persistent stages; the Prefect key must not, or they would never show as Cached
    key = hash_of(project, "grow")
    assert key is not None and re.fullmatch(r"[0-9a-f]{64}", key)
    (project / "mid.txt").write_text("other\n")
    assert hash_of(project, "grow") != key
    # the output stays persistent for DVC: committing the stage files no run-cache entry for it
    commit(project, "make", "grow")
    assert [p.name for p in (project / ".dvc" / "cache" / "runs").glob("*/*")] == [hash_of(project, "make")]


def test_stage_without_outputs_or_always_changed_has_no_key(project: Path) -> None:
    # nothing to restore, or declared never up to date: DVC caches neither, and Prefect must not either
    assert hash_of(project, "check") is None
    assert hash_of(project, "fetch") is None


# --- status: why a stage is stale --------------------------------------------------------------------------


def test_status_before_and_after_commit(project: Path) -> None:
    assert status_of(project, "make") == ["never run (no entry in dvc.lock)"]
    commit(project, "make")
    assert status_of(project, "make") == []
    # a dvc.lock that lacks the stage means the same as no dvc.lock
    assert status_of(project, "grow") == ["never run (no entry in dvc.lock)"]
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert lock["stages"]["make"]["params"] == {"params.yaml": {"a.x": 1, "a.y": 2}}


@pytest.mark.parametrize("lock", ["", "schema: '2.0'\n"])
def test_lock_file_without_stages_means_never_run(project: Path, lock: str) -> None:
    (project / "dvc.lock").write_text(lock)
    assert status_of(project, "make") == ["never run (no entry in dvc.lock)"]


def test_status_names_the_changed_dependency(project: Path) -> None:
    commit(project, "make")
    (project / "in.txt").write_text("changed\n")
    assert status_of(project, "make") == ["deps in.txt modified"]


def test_status_names_the_changed_parameters(project: Path) -> None:
    commit(project, "make", "grow")
    set_param(project, "unused", 40)
    assert status_of(project, "make") == [] and status_of(project, "grow") == []
    set_param(project, "a.x", 5)
    set_param(project, "a.y", 6)
    assert sorted(status_of(project, "make")) == ["param a.x modified", "param a.y modified"]
    assert status_of(project, "grow") == []
    (project / "in.txt").write_text("changed\n")  # a data change and a parameter change: both are reasons
    assert status_of(project, "make") == ["deps in.txt modified", "param a.x modified", "param a.y modified"]


def test_status_names_deleted_outputs_and_a_changed_command(project: Path) -> None:
    commit(project, "make")
    (project / "mid.txt").unlink()
    assert status_of(project, "make") == ["outs mid.txt deleted"]
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["make"]["cmd"] = "cp -p in.txt mid.txt"
    _write_yaml(project / "dvc.yaml", spec)
    assert status_of(project, "make") == ["outs mid.txt deleted", "changed command"]


def test_status_keeps_every_reason_dvc_gives_in_words(project: Path) -> None:
    commit(project, "fetch")
    assert status_of(project, "fetch") == ["always changed"]
    (project / "in.txt").write_text("changed\n")
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["fetch"]["cmd"] = "cp -p in.txt fetched.txt"
    _write_yaml(project / "dvc.yaml", spec)
    assert status_of(project, "fetch") == ["deps in.txt modified", "always changed", "changed command"]


def test_commit_records_the_current_state_and_leaves_logging_alone(project: Path) -> None:
    log = logging.getLogger("dvc")
    level = log.level
    commit(project, "make")
    (project / "in.txt").write_text("changed\n")
    (project / "mid.txt").write_text("changed\n")
    commit(project, "make")  # force: no prompt although the recorded outputs change
    assert status_of(project, "make") == []
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["make"]
    assert lock["deps"][0]["path"] == "in.txt" and lock["deps"][0]["md5"] == hashlib.md5(b"changed\n").hexdigest()
    assert log.level == level


def test_commit_dvcfile_records_a_dot_dvc_file(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "raw").mkdir()
    (project / "raw" / "a.txt").write_text("one\n")
    with dvc_state.open_repo(project) as repo:
        repo.add("raw")
    recorded = (project / "raw.dvc").read_text()
    (project / "raw" / "b.txt").write_text("two\n")
    with dvc_state.open_repo(project) as repo:
        assert repo.status(targets=[str(project / "raw.dvc")])  # stale before the commit
    monkeypatch.chdir(tmp_path)  # a .dvc file is addressed by its path, whatever the working directory
    with dvc_state.open_repo(project) as repo:
        dvc_state.commit_dvcfile(repo, project / "raw.dvc")
        assert repo.status(targets=[str(project / "raw.dvc")]) == {}
    out = yaml.safe_load((project / "raw.dvc").read_text())["outs"][0]
    assert (project / "raw.dvc").read_text() != recorded and out["nfiles"] == 2


# --- snapshot: one status call for a flow's stages, dvc.lock parsed once --------------------------------


def _counting(monkeypatch: pytest.MonkeyPatch, repo: object) -> dict[str, int]:
    """Counts DVC status calls on ``repo`` and parses of dvc.lock."""
    counts = {"status": 0, "lock_parsed": 0}
    real_status, real_load = repo.status, yaml.load

    def status(*a: object, **k: object) -> object:
        counts["status"] += 1
        return real_status(*a, **k)

    def load(stream: object, Loader: object) -> object:  # noqa: N803 -- yaml's own keyword
        counts["lock_parsed"] += isinstance(stream, bytes) and b"stages:" in stream and b"md5" in stream
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(repo, "status", status)
    monkeypatch.setattr(yaml, "load", load)
    return counts


def test_a_cached_flow_asks_dvc_once_and_parses_dvc_lock_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commit(project, "make", "grow", "check")
    names = ["make", "grow", "check"]
    with dvc_state.open_repo(project) as repo:
        alone = {n: dvc_state.status(repo, n) for n in names}
    dvc_state._YAML.clear()
    with dvc_state.open_repo(project) as repo, dvc_state.snapshot(project, names):
        counts = _counting(monkeypatch, repo)
        for name in names:  # what the Prefect task asks (cache key, then its body), stage after stage
            dvc_state.stage_hash(repo, name), dvc_state.status(repo, name)
            dvc_state.status(repo, name), dvc_state.stage_hash(repo, name)
        together = {n: dvc_state.status(repo, n) for n in names}
    assert together == alone == {"make": [], "grow": [], "check": []}
    assert counts == {"status": 1, "lock_parsed": 1}


def test_the_snapshot_asks_again_once_a_stage_ran(project: Path) -> None:
    commit(project, "make", "grow")
    with dvc_state.open_repo(project) as repo, dvc_state.snapshot(project, ["make", "grow"]):
        assert dvc_state.status(repo, "make") == [] and dvc_state.status(repo, "grow") == []
        key = dvc_state.stage_hash(repo, "grow")
        (project / "in.txt").write_text("changed\n")  # `make` runs: its output, grow's input, changes
        (project / "mid.txt").write_text("changed\n")
        dvc_state.commit(repo, "make")
        assert dvc_state.status(repo, "grow") == ["deps mid.txt modified"]
        assert dvc_state.stage_hash(repo, "grow") != key
    with dvc_state.open_repo(project) as repo:  # and outside a flow nothing is remembered
        assert dvc_state.status(repo, "grow") == ["deps mid.txt modified"]


def test_list_asks_dvc_once_for_the_dag(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commit(project, "make")
    with dvc_state.open_repo(project) as repo:
        counts = _counting(monkeypatch, repo)
        found = dvc_state.statuses(repo, ["make", "grow", "check"])
    assert found["make"] == [] and found["grow"] == found["check"] == ["never run (no entry in dvc.lock)"]
    assert counts["status"] == 1
