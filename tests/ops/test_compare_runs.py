"""``soundflow compare``: real runs in a real tracking store (a SQLite file; once the MLflow server) side by side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from soundflow.pipeline.cli import main
from soundflow.pipeline.ops import compare, runs
from soundflow.pipeline.tracking import Tracker, workflow_experiment
from tests.helpers.servers import Running
from tests.helpers.tracked_runs import log_pipeline

BASE = {"aed.train.epochs": 3, "aed.model.width": 8, "seg.train.epochs": 2, "tracking.experiment": "soundflow"}


def _three_aed_runs(prefix: str, root: Path) -> tuple[Tracker, dict[str, str]]:
    """Three pipelines differing in epochs and lr; the middle one best, each in its workflow's experiment under
    ``prefix``. Returns the AED's tracker and the aed_evaluate run id by epochs."""
    tracker, out = Tracker(root, workflow_experiment(prefix, "aed")), {}
    for epochs, lr, acc in ((3, 0.001, 0.61), (5, 0.001, 0.83), (8, 0.01, 0.72)):
        params = {**BASE, "aed.train.epochs": epochs, "aed.train.lr_start": lr}
        metrics = {"accuracy": acc, "map": acc + 0.1, "chance_accuracy": 0.1}
        out[epochs] = log_pipeline(tracker, f"p{epochs}", params, {"aed_evaluate": metrics}, root)["aed_evaluate"]
    seg = Tracker(root, workflow_experiment(prefix, "image_to_soundscape"))
    log_pipeline(seg, "seg", BASE, {"seg_evaluate": {"miou": 0.4}}, root)  # another workflow: not compared
    return tracker, out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tracker, dict[str, str]]]:
    """One SQLite store for the module (creating MLflow's tables takes seconds)."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlruns.db'}")
        yield _three_aed_runs("compare-test", folder)


def test_workflow_stages_come_from_the_stage_table() -> None:
    names = [s.name for s in runs.measured_stages("aed")]
    assert "aed_evaluate" in names and "seg_evaluate" not in names
    with pytest.raises(ValueError, match="unknown workflow 'nope'"):
        runs.measured_stages("nope")
    assert runs.metric_keys({"a/deep/x/macro_auprc", "b/macro_auprc", "macro_auprc_std"}, "macro_auprc") == [
        "a/deep/x/macro_auprc",
        "b/macro_auprc",
    ]


@pytest.mark.slow
def test_table_sorts_by_the_metric_and_keeps_only_differing_params(store) -> None:
    tracker, ids = store
    found, keys = runs.find_runs(tracker.client, "compare-test", runs.measured_stages(None), "accuracy", last=10)
    assert len(found) == 3 and keys == ["accuracy"]  # the segmentation run logged no accuracy
    df, key = compare.table(found, keys)
    assert key == "accuracy" and list(df.columns) == [ids[5], ids[8], ids[3]]  # best first
    assert df.index[4] == "metric: accuracy"  # the chosen metric before the others
    params = [i for i in df.index if i.startswith("param: ")]
    assert params == ["param: aed.train.epochs", "param: aed.train.lr_start"]  # width and seg epochs are equal
    assert df.loc["param: aed.train.epochs"].tolist() == ["5", "8", "3"]
    assert set(df.loc["git commit"]) == {"c0ffee"} and set(df.loc["data version"]) == {"d751713.dir"}
    assert set(df.loc["git dirty"]) == {"false"}
    assert compare.run_labels(df) == ["epochs=5\nlr_start=0.001", "epochs=8\nlr_start=0.01", "epochs=3\nlr_start=0.001"]
    assert compare.chance_level(df, "accuracy") == 0.1 and compare.chance_level(df, "map") is None
    assert compare.table(found, keys, ascending=True)[0].columns[0] == ids[3]
    newest_two, _ = runs.find_runs(tracker.client, "compare-test", runs.measured_stages(None), "accuracy", last=2)
    assert {r.run_id for r in newest_two} == {ids[5], ids[8]}


def test_command_prints_and_writes_csv_and_png(store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, ids = store
    out = tmp_path / "cmp"
    argv = ["compare", "--workflow", "aed", "--experiment", "compare-test", "--out"]
    assert main([*argv, str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sorted by accuracy" in printed and ids[5][:8] in printed and "aed.train.lr_start" in printed
    df = pd.read_csv(out / "aed_accuracy.csv", index_col="run id")  # one row per run, best first
    assert list(df.index) == [ids[5], ids[8], ids[3]]
    assert df["metric: accuracy"].tolist() == [0.83, 0.72, 0.61] and df["param: aed.train.epochs"].tolist() == [5, 8, 3]
    assert df["git dirty"].astype(str).str.lower().tolist() == ["false"] * 3
    png = out / "aed_accuracy.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert not list(out.glob("*.tmp*"))  # written atomically: no temporary left
    assert main(["compare", "--metric", "no_such_metric", "--experiment", "compare-test", "--out", str(out)]) == 1
    assert main(["compare", "--experiment", "compare-test"]) == 2  # neither workflow nor metric
    assert "give --workflow or --metric" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_reads_the_tracking_server(
    mlflow_server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    _, ids = _three_aed_runs("compare-server", tmp_path)
    argv = ["compare", "--workflow", "aed", "--experiment", "compare-server"]
    assert main([*argv, "--out", str(tmp_path / "cmp")]) == 0
    df = pd.read_csv(tmp_path / "cmp" / "aed_accuracy.csv", index_col="run id")
    assert list(df.index) == [ids[5], ids[8], ids[3]]


def test_registry_finds_the_training_run_of_a_stage_run_without_pipeline(store) -> None:
    """``soundflow stage`` alone logs no pipeline run: the checkpoint is the newest training before the evaluation."""
    import time

    from soundflow.pipeline.ops import registry
    from soundflow.pipeline.stages import get_stage

    tracker, _ = store
    train_ids = []
    for _ in range(2):
        train_ids.append(tracker.stage_run("aed_train", None, {}, {}))
        tracker.finish(train_ids[-1])
        time.sleep(0.01)  # distinct start times
    evaluation = tracker.stage_run("aed_evaluate", None, {}, {})
    tracker.log_metrics(evaluation, {"accuracy": 0.1})
    tracker.finish(evaluation)
    late = tracker.stage_run("aed_train", None, {}, {})  # trained after the evaluation: not what it measured
    tracker.finish(late)
    (record,) = [r for r in runs.find_runs(tracker.client, "compare-test", [get_stage("aed_evaluate")], "accuracy")[0]
                 if r.run_id == evaluation]  # fmt: skip
    found = registry.training_run(tracker.client, tracker.experiment_id, record, get_stage("aed_train"))
    assert found.info.run_id == train_ids[-1]
