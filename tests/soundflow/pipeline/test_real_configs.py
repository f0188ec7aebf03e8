"""configs/real/*.yaml: valid override sets whose roots are where the datasets stage extracts the archives,
set in params.yaml by ``soundflow params --apply`` (comments kept, nothing written on a refusal)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.workflows.data import DATASETS
from soundflow.pipeline.cli import main
from soundflow.pipeline.config import (
    ParamsError,
    apply_overrides,
    flatten,
    overridden,
    parse_params,
    read_overrides,
    read_params_yaml,
)
from soundflow.pipeline.params_check import LOCATIONS, value_of
from soundflow.pipeline.stages import get_stage
from tests.helpers.commands import own_project
from tests.helpers.corpus_server import Server, esc50_zip, running_server, serve_corpus, us8k_tgz
from tests.helpers.paths import ROOT

REAL = ROOT / "configs" / "real"
ARCHIVES = {"urbansound8k": us8k_tgz, "esc50": esc50_zip}


@pytest.fixture
def server():
    with running_server() as state:
        yield state


def _params(name: str, **extra: object):
    raw = overridden(read_params_yaml(ROOT / "params.yaml"), read_overrides(REAL / f"{name}.yaml"), REAL)
    return parse_params(overridden(raw, extra, REAL), REAL / f"{name}.yaml")


def test_each_dataset_has_one_set() -> None:
    assert sorted(p.stem for p in REAL.glob("*.yaml")) == sorted(ARCHIVES)


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_the_set_is_valid_and_names_its_dataset(name: str) -> None:
    p = _params(name)
    assert p.data.download.datasets == [name]
    assert p.aed.data.format == p.text_to_audio.real.format == name
    assert p.aed.data.root == p.text_to_audio.real.root
    assert p.text_to_audio.real.clips_per_class_per_fold is None  # every clip
    folds = {"urbansound8k": list(range(1, 11)), "esc50": list(range(1, 6))}[name]
    assert p.text_to_audio.experiment.test_folds == folds and p.text_to_audio.experiment.validation == "next_fold"


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_the_roots_are_where_the_datasets_stage_extracts_the_archive(
    name: str, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_corpus(server, name, [ARCHIVES[name]()], monkeypatch)
    params = _params(name, **{"data.download.base_url": server.base})
    get_stage("datasets").run(params, tmp_path)  # the stage's own fetch, verify, extract and index
    checked = [loc for loc in LOCATIONS if value_of(params, loc.key).startswith(DATASETS + "/")]
    assert {loc.key for loc in checked} == {"aed.data.root", "text_to_audio.real.root"}
    for loc in checked:  # as the stage reading it checks it at its start
        loc.check(tmp_path / value_of(params, loc.key), params, tmp_path)


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = own_project(tmp_path, ROOT, monkeypatch)
    shutil.copytree(ROOT / "configs", root / "configs")  # the files params.yaml names (soundscape mapping)
    return root


def test_apply_sets_the_values_and_keeps_every_comment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, monkeypatch)
    before = (root / "params.yaml").read_text()
    assert main(["params", "--apply", str(REAL / "urbansound8k.yaml")]) == 0
    after = (root / "params.yaml").read_text()
    assert read_params_yaml(root / "params.yaml") == overridden(
        read_params_yaml(ROOT / "params.yaml"), read_overrides(REAL / "urbansound8k.yaml"), REAL
    )
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())  # line for line: only values changed
    committed = flatten(read_params_yaml(ROOT / "params.yaml"))
    differ = [k for k, v in read_overrides(REAL / "urbansound8k.yaml").items() if committed[k] != v]
    assert len(changed) == len(differ) >= 5  # one line per key whose committed value differs
    for old, new in changed:  # each changed line keeps its key and its comment
        assert old.split(":")[0] == new.split(":")[0]
        assert ("#" in old) == ("#" in new) and old.partition("#")[2] == new.partition("#")[2]
    assert "    test_folds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" in after  # a flow list stays on its line
    assert "    clips_per_class_per_fold: null " in after


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("aed.data.rot: x\n", r"aed\.data\.rot: no such parameter"),
        ("aed:\n  train:\n    epochs: 0\n", r"aed\.train\.epochs"),
        ("- a list\n", "expected a mapping of dotted parameter keys"),
        ("aed.features.size: 3\n", "no parameter may be named 'size'"),
    ],
)
def test_a_bad_set_is_refused_and_nothing_is_written(
    text: str, error: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root = _project(tmp_path, monkeypatch)
    bad = tmp_path / "sets" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text(text)
    before = (root / "params.yaml").read_text()
    assert main(["params", "--apply", str(bad)]) == 2
    assert (root / "params.yaml").read_text() == before
    err = capsys.readouterr().err
    assert str(bad) in err or "params.yaml" in err
    with pytest.raises(ParamsError, match=error):
        apply_overrides(root / "params.yaml", read_overrides(bad), bad)
