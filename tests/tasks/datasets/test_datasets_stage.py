"""The ``datasets`` stage: registered corpora fetched into data/datasets against a local server, indexed once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.workflows.data import DATASETS_INDEX
from soundflow.pipeline.config import Params, ParamsError, parse_params, read_params_yaml, set_dotted
from soundflow.pipeline.stages import get_stage
from tasks.datasets import registry
from tests.helpers.corpus_server import Server, esc50_zip, serve_corpus, serve_files, us8k_tgz
from tests.helpers.paths import ROOT


def _params(datasets: list[str], base_url: str | None = None) -> Params:
    raw = read_params_yaml(ROOT / "params.yaml")
    set_dotted(raw, "data.download.datasets", datasets)
    set_dotted(raw, "data.download.base_url", base_url)
    return parse_params(raw, Path("params.yaml"))


def _run(tmp_path: Path, datasets: list[str], base_url: str | None = None) -> list[dict]:
    get_stage("datasets").run(_params(datasets, base_url), tmp_path)
    return json.loads((tmp_path / DATASETS_INDEX).read_text())["datasets"]


def _gets(server: Server) -> list[str]:
    return [path for method, path, _ in server.requests if method == "GET"]


def test_fetches_prepares_and_indexes_with_relative_paths(server: Server, tmp_path: Path, monkeypatch) -> None:
    serve_corpus(server, "esc50", [esc50_zip()], monkeypatch)
    serve_corpus(server, "urbansound8k", [us8k_tgz()], monkeypatch)

    index = _run(tmp_path, ["esc50", "urbansound8k"], server.base)
    assert index == [
        {
            "name": "esc50",
            "folder": "data/datasets/esc50",
            "metadata": "data/datasets/esc50/metadata.csv",
            "rows": 3,
            "licence": registry.get("esc50").licence,
        },
        {
            "name": "urbansound8k",
            "folder": "data/datasets/urbansound8k",
            "metadata": "data/datasets/urbansound8k/metadata.csv",
            "rows": 2,
            "licence": registry.get("urbansound8k").licence,
        },
    ]
    esc = pd.read_csv(tmp_path / index[0]["metadata"])
    assert esc["class"].tolist() == ["dog", "rooster", "dog"]
    assert all((tmp_path / index[0]["folder"] / p).is_file() for p in esc["path"])  # relative to the dataset
    us8k = pd.read_csv(tmp_path / index[1]["metadata"])
    assert us8k["class"].tolist() == ["dog_bark", "car_horn"]
    assert len(_gets(server)) == 2


def test_rerun_and_added_dataset_fetch_only_what_is_missing(server: Server, tmp_path: Path, monkeypatch) -> None:
    serve_corpus(server, "esc50", [esc50_zip()], monkeypatch)
    serve_corpus(server, "urbansound8k", [us8k_tgz()], monkeypatch)
    _run(tmp_path, ["esc50"], server.base)
    esc50_get = _gets(server)
    assert len(esc50_get) == 1

    _run(tmp_path, ["esc50"], server.base)
    assert _gets(server) == esc50_get  # nothing downloaded again

    # what DVC does with a persistent out: the folder stays, so only the new dataset is fetched
    index = _run(tmp_path, ["esc50", "urbansound8k"], server.base)
    assert [d["name"] for d in index] == ["esc50", "urbansound8k"]
    assert len(_gets(server)) == 2 and _gets(server)[0] == esc50_get[0]

    # a dataset taken off the list is left on disk but is no longer indexed
    index = _run(tmp_path, ["urbansound8k"], server.base)
    assert [d["name"] for d in index] == ["urbansound8k"]
    assert registry.is_present("esc50", tmp_path / "data/datasets")
    assert len(_gets(server)) == 2


def test_empty_list_writes_an_empty_index_offline(tmp_path: Path) -> None:
    assert _run(tmp_path, []) == []  # the committed default: no network, base_url None
    assert sorted(p.name for p in (tmp_path / "data/datasets").iterdir()) == ["datasets.json"]


def test_committed_default_lists_nothing() -> None:
    d = parse_params(read_params_yaml(ROOT / "params.yaml"), ROOT / "params.yaml").data.download
    assert d.datasets == [] and d.base_url is None


@pytest.mark.parametrize(
    ("datasets", "expected"),
    [
        (
            ["esc50", "esc-50"],
            r"data\.download\.datasets: Value error, unknown dataset\(s\) 'esc-50'; known: "
            r"audioset_instruments, .*esc50, .*urbansound8k",
        ),
        (["esc50", "urbansound8k", "esc50"], r"data\.download\.datasets: Value error, listed more than once: esc50"),
        ("esc50", r"data\.download\.datasets: Input should be a valid list"),
    ],
)
def test_bad_dataset_list_is_a_config_error_naming_the_key(datasets: object, expected: str) -> None:
    with pytest.raises(ParamsError, match=expected):
        _params(datasets)  # type: ignore[arg-type]


def test_base_url_is_a_plain_http_url_and_never_echoes_credentials() -> None:
    assert _params([], "http://127.0.0.1:8080/mirror").data.download.base_url == "http://127.0.0.1:8080/mirror"
    with pytest.raises(ParamsError, match=r"data\.download\.base_url: Value error, expected an http\(s\) URL"):
        _params([], "ftp://mirror.example.org")
    with pytest.raises(ParamsError, match=r"data\.download\.base_url: must not carry credentials") as err:
        _params([], "https://bob:s3cret-Pw@mirror.example.org")
    assert "s3cret-Pw" not in str(err.value)


@pytest.mark.slow
def test_dvc_repro_runs_the_stage_once(server: Server, tmp_path: Path, cli_env: dict[str, str]) -> None:
    from soundflow.pipeline.workspace import copy_project
    from tests.helpers.commands import cached_tasks, ran_by_dvc, ran_by_prefect, sh

    # ESC-50 publishes no checksum, so the registry as committed accepts the fake archive in DVC's subprocess
    serve_files(server, "esc50", [esc50_zip()])
    project = copy_project(
        ROOT, tmp_path / "project", {"data.download.datasets": ["esc50"], "data.download.base_url": server.base}
    )

    assert ran_by_dvc(sh(["dvc", "repro", "datasets"], project, cli_env)) == ["datasets"]
    assert len(_gets(server)) == 1
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["datasets"]
    assert [o["path"] for o in lock["outs"]] == ["data/datasets"]
    assert lock["params"]["params.yaml"]["data.download"]["datasets"] == ["esc50"]
    index = json.loads((project / DATASETS_INDEX).read_text())["datasets"]
    assert [(d["name"], d["rows"]) for d in index] == [("esc50", 3)]
    sh(["git", "check-ignore", "-q", "data/datasets"], project, cli_env)  # never copied into scratch projects

    again = sh(["dvc", "repro", "datasets"], project, cli_env)
    assert ran_by_dvc(again) == [] and "Data and pipelines are up to date" in again
    assert len(_gets(server)) == 1

    # Prefect agrees it is up to date, and (persistent out and all) caches it on the next run
    assert ran_by_prefect(sh(["soundflow", "run", "datasets", "--always-prefect"], project, cli_env)) == []
    cached = sh(["soundflow", "run", "datasets", "--always-prefect"], project, cli_env)
    assert ran_by_prefect(cached) == [] and cached_tasks(cached) == ["datasets"]
    assert len(_gets(server)) == 1
