"""What DVC sees of a stage: an edit of any file its code imports, and a change of any parameter it declares.

In a scratch copy of the repository every stage is committed with placeholder outputs (nothing runs), so
dvc.lock holds exactly what `dvc status` and DVC's run cache compare against.
"""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from soundflow.pipeline import dag, dvc_state
from soundflow.pipeline.config import ParamsError, read_params_yaml
from soundflow.pipeline.stages import STAGES
from soundflow.pipeline.workspace import copy_project

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)


def _placeholder(path: Path) -> None:
    """A file for a path with a suffix, else a folder with one file: enough for DVC to hash and commit."""
    if path.exists():
        return
    if path.suffix:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"placeholder {path.name}\n")
    else:
        path.mkdir(parents=True)
        (path / "placeholder.txt").write_text("placeholder\n")


@pytest.fixture(scope="module")
def committed(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(root, tmp_path_factory.mktemp("stage_keys") / "project")
    # dvc.yaml as the generator writes it now: test_dag.py checks separately that the committed one matches
    dag.write_dvc_yaml(project)
    raw = read_params_yaml(project / "params.yaml")
    for s in STAGES:  # outputs first: a data dependency inside an output must not turn the output into a file
        for path in s.all_outs:
            _placeholder(project / dag.resolve(path, raw))
    for s in STAGES:
        for path in s.deps:
            _placeholder(project / dag.resolve(path, raw))
    with contextlib.chdir(project), dvc_state.open_repo(project) as repo:  # DVC resolves stage files from the cwd
        dvc_state.commit_dvcfile(repo, project / "dvc.yaml")  # every stage at once: five times faster than one by one
    return project


def _stale(project: Path, env: dict[str, str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    ("path", "named"),
    [
        # the issue's case: ERFNet's data loader (its augmentation) must rerun training and evaluation, not only the
        # weights (prediction reads no labelled split; it reruns when the checkpoint changes)
        (
            "tasks/segmentation/dataset.py",
            {"seg_class_weights", "seg_train", "seg_evaluate"},
        ),
        ("models/aed_cnn.py", {"aed_train", "aed_evaluate"}),
    ],
)
def test_a_comment_in_imported_code_makes_exactly_its_stages_stale(
    committed: Path, cli_env: dict[str, str], path: str, named: set[str]
) -> None:
    expected = {s.name for s in STAGES if path in s.code_deps}
    assert named <= expected
    assert _stale(committed, cli_env) == set()
    target = committed / path
    original = target.read_text()
    target.write_text(original + "# a comment\n")
    try:
        assert _stale(committed, cli_env) == expected
    finally:
        target.write_text(original)


# --- the run cache: DVC's key of a stage must change with every parameter value the stage declares ---


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if value is None or value == [] or value == {}:
        return ["changed"]
    raise TypeError(f"no change defined for the parameter value {value!r}")


def invisible_leaves(entry: dict[str, Any]) -> list[str]:
    """Parameter leaves of a dvc.lock stage entry whose change leaves DVC's run-cache key as it was."""
    from dvc.stage.cache import _get_cache_hash  # DVC's own function (it rewrites outs in place: hash copies)

    base = _get_cache_hash(copy.deepcopy(entry), key=True)
    hidden = []
    for file, params in entry.get("params", {}).items():
        for key in params:
            for leaf in _leaves(params[key]):
                changed = copy.deepcopy(entry)
                node, path = changed["params"][file], (key, *leaf)
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = _changed(node[path[-1]])
                if _get_cache_hash(changed, key=True) == base:
                    hidden.append(".".join(map(str, path)))
    return hidden


def test_dvc_hides_size_and_nfiles_at_any_depth() -> None:
    # treeverse/dvc#10296: the reason for the check below, and proof that the check can fail
    entry = {
        "cmd": "python -m soundflow stage x",
        "deps": [{"path": "a.py", "md5": "0" * 32, "size": 1}],
        "params": {
            "params.yaml": {
                "seg.data": {"root": "r", "size": [8, 16]},
                "f": {"sets": [{"nfiles": 2}]},
                "seg.data.root": "r",
            }
        },
        "outs": [{"path": "o", "md5": "1" * 32}],
    }
    assert invisible_leaves(entry) == ["seg.data.size.0", "seg.data.size.1", "f.sets.0.nfiles"]


def test_every_declared_parameter_changes_the_run_cache_key(committed: Path) -> None:
    from dvc.stage.cache import _get_cache_hash
    from dvc.utils.serialize import load_yaml

    # DVC's YAML reader: PyYAML would read 1e-06 as a string, and the key of another entry than DVC's
    lock = load_yaml(str(committed / "dvc.lock"))["stages"]
    assert set(lock) == {s.name for s in STAGES}
    with contextlib.chdir(committed), dvc_state.open_repo(committed) as repo:
        for s in STAGES:
            entry = lock[s.name]
            # the lock entry hashes to the key both engines use (DVC's run cache, soundflow's Prefect cache)
            assert _get_cache_hash(copy.deepcopy(entry), key=True) == dvc_state.stage_hash(repo, s.name)
            assert set(entry["params"]["params.yaml"]) == set(s.params)
            assert not invisible_leaves(entry), f"{s.name}: DVC's run cache ignores these parameters"


def test_params_named_size_or_nfiles_are_refused(tmp_path: Path, root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    raw["seg"]["data"]["size"] = raw["seg"]["data"].pop("image_size")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError, match=r"params\.yaml: seg\.data\.size: .*treeverse/dvc#10296"):
        read_params_yaml(tmp_path / "params.yaml")
    with pytest.raises(ParamsError, match="seg.data.size"):
        dag.write_dvc_yaml(tmp_path)  # generating dvc.yaml refuses it too
    assert not (tmp_path / "dvc.yaml").exists()
    raw = read_params_yaml(root / "params.yaml")
    raw["features"]["sets"][0]["nfiles"] = 3  # inside a list too: DVC's filter recurses into lists
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError, match=r"features\.sets\.0\.nfiles"):
        read_params_yaml(tmp_path / "params.yaml")
