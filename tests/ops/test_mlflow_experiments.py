"""MLflow as its users compare runs: an experiment per workflow (one pipeline parent run in each), stage runs that
carry every parameter they depend on, the headline metrics under short names, and the dirty-tree tag. Against a
real SQLite store (the project's default), offline journal included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.workflows import localisation, transcoder
from soundflow.pipeline import runner
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.ops import servers, sync_cli
from soundflow.pipeline.stages import WORKFLOWS, get_stage, workflow
from soundflow.pipeline.tracking import Tracker, git_dirty, headline_names, metrics_from_json, workflow_experiment
from soundflow.pipeline.workspace import TINY, copy_project, set_params
from tests.helpers.paths import ROOT


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    overrides = {**TINY, "data.urban_synth.clips_per_class": 1}
    return copy_project(ROOT, tmp_path_factory.mktemp("experiments") / "project", overrides)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module (creating MLflow's tables takes seconds); each test its own experiments."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlruns.db'}"


@pytest.fixture
def sqlite(store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("SOUNDFLOW_PIPELINE_KEY", raising=False)
    return uri


def test_an_evaluation_run_carries_the_parameters_of_every_stage_upstream(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    aed = runner._stage_params(get_stage("aed_evaluate"), raw)
    assert aed["aed.train.epochs"] == raw["aed"]["train"]["epochs"]  # aed_train's
    assert aed["aed.model.width"] == raw["aed"]["model"]["width"] and "aed.features.sample_rate" in aed  # features'
    assert "aed.evaluate.map_top_k" in aed  # its own
    assert not any(k.startswith(("seg.", "localisation.")) for k in aed)  # nothing it does not depend on
    loc = runner._stage_params(get_stage("loc_evaluate"), raw)
    # through the graph across workflows: the localisation's pseudo-labels come from the AED's checkpoint
    assert "aed.train.epochs" in loc and "localisation.stage1.epochs" in loc and "seg.train.epochs" not in loc


def test_declared_headlines_are_valid_mlflow_names_found_in_real_metrics() -> None:
    from mlflow.utils.validation import _validate_metric_name

    ranked = [u for u in WORKFLOWS if u.headline]
    assert ranked and all(u.headlines for u in ranked)
    for u in ranked:
        for short, pattern in u.headlines.items():
            assert short.count("*") == pattern.count("*"), (u.name, short)
            _validate_metric_name(short.replace("*", "x"))  # MLflow refuses '@' and the like
    transcoder_metrics = {
        "top1/soundscapes/mel/teacher_top1_agreement": 1.0,
        "top1/soundscapes/mel/teacher_top1_agreement_clip": 0.5,
        "soundscapes/deep/cnn_logits/macro_auprc": 0.22,
        "soundscapes/grouping/cnn_logits/macro_auprc": 0.25,
    }
    assert headline_names(transcoder_metrics, transcoder.WORKFLOW.headlines) == {
        "top1_agreement/soundscapes/mel": 1.0,
        "macro_AUPRC/soundscapes/cnn_logits": 0.22,
    }
    t2a = {"n_runs": 28.0, "test_accuracy/crnn/real_generated/x2": 0.5}
    assert headline_names(t2a, workflow("text_to_audio").headlines) == {"mean_accuracy/crnn/real_generated/x2": 0.5}


def test_evaluation_metrics_are_logged_under_headline_names_too(sqlite: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    path = tmp_path / localisation.LOC_METRICS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"ciou_at_0.5": 0.78, "auc": 0.61, "baseline": {"centre_box": {"auc": 0.39}}}))
    tracker = Tracker(tmp_path, workflow_experiment("headlines", "localisation"))
    run_id = tracker.stage_run("loc_evaluate", None, {}, {})
    tracker.log_metrics(run_id, metrics_from_json(path))
    tracker.finish(run_id)
    logged = MlflowClient(sqlite).get_run(run_id).data.metrics
    assert logged["cIoU_0.5"] == 0.78 and logged["AUC"] == 0.61  # the short names
    assert logged["ciou_at_0.5"] == 0.78 and logged["baseline/centre_box/auc"] == 0.39  # the flattened ones stay


def test_stage_runs_go_to_their_workflows_experiment_tagged_clean_or_dirty(
    project: Path, sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("SOUNDFLOW_PIPELINE_KEY", "experiments-test")
    runner.execute("urban_synth", project, engine="dvc", stage_hash="h1")
    client = MlflowClient(sqlite)
    assert client.get_experiment_by_name("soundflow") is None  # no catch-all experiment any more
    exp = client.get_experiment_by_name("soundflow/data")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    stage, parent = runs["urban_synth"], runs["pipeline (dvc)"]
    assert stage.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.tags["soundflow.pipeline_key"] == "experiments-test"
    assert stage.data.tags["soundflow.git_dirty"] == "false"  # copy_project committed everything
    assert stage.data.params["data.urban_synth.clips_per_class"] == "1"

    set_params(project, {"data.urban_synth.n_folds": 4})  # what `dvc exp run -S` does: logged as params
    assert git_dirty(project) == "false"
    (project / "soundflow" / "extra.py").write_text("X = 1\n")  # code the commit does not hold
    assert git_dirty(project) == "true"
    (project / "soundflow" / "extra.py").unlink()
    assert git_dirty(project / "..") == "unknown"  # not a git repository


def test_offline_runs_keep_one_parent_per_workflow_experiment(
    sqlite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline run across two workflows, tracked offline: each workflow's experiment gets its own parent run,
    found by the pipeline key in the journal, and the sync makes them so."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{servers.free_port()}")  # nobody listens
    key = "offline-two-workflows"
    for stage, flow in (("aed_train", "aed"), ("aed_evaluate", "aed"), ("seg_evaluate", "image_to_soundscape")):
        tracker = Tracker(tmp_path, workflow_experiment("off", flow))
        parent = tracker.pipeline_run(key, "dvc", {"a.b": 1}, {})
        tracker.finish(tracker.stage_run(stage, parent, {}, {}))
        tracker.finish(parent)
    done = sync_cli.send(tmp_path, sqlite)
    assert done.runs == 5 and not done.failed  # two parents, three stage runs
    client = MlflowClient(sqlite)
    for flow, stages in (("aed", ["aed_evaluate", "aed_train"]), ("image_to_soundscape", ["seg_evaluate"])):
        exp = client.get_experiment_by_name(f"off/{flow}").experiment_id
        (parent,) = client.search_runs([exp], f"tags.`soundflow.pipeline_key` = '{key}'")
        kids = client.search_runs([exp], "tags.`soundflow.stage` != ''")
        assert sorted(k.data.tags["soundflow.stage"] for k in kids) == stages
        assert {k.data.tags["mlflow.parentRunId"] for k in kids} == {parent.info.run_id}
