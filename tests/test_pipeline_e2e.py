"""The default pipeline end to end at a tiny size, through both engines: cache behaviour, MLflow, predict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from soundflow.env import STATE_DIR
from soundflow.pipeline import dvc_state
from soundflow.pipeline.runner import READS_DIR
from soundflow.pipeline.stages import STAGES
from soundflow.pipeline.workspace import TINY, copy_project, set_params
from tasks.procedural.urban_sounds import generate_dataset
from tests.helpers.commands import cached_tasks, ran_by_dvc, ran_by_prefect, sh
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow

STAGE_NAMES = sorted(s.name for s in STAGES)


def mlflow_runs(project: Path) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns.db'}")
    return mlflow.search_runs(search_all_experiments=True, order_by=["start_time ASC"])  # one per workflow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(ROOT, tmp_path_factory.mktemp("e2e") / "project", TINY)


def test_both_engines_share_one_notion_of_up_to_date(project: Path, cli_env: dict[str, str]) -> None:
    # `make run`'s command: DVC runs every stage, their MLflow calls sent by one process at the end (a bare
    # `dvc repro`, whose stages send their own, reruns the changed stages below)
    first = sh(["soundflow", "repro"], project, cli_env)
    assert sorted(ran_by_dvc(first)) == STAGE_NAMES
    metrics = json.loads((project / "reports/aed/metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and metrics["n_files"] > 0
    # every stage read exactly the parameters it declares (an undeclared read would have failed it)
    reads = {s.name: json.loads((project / STATE_DIR / READS_DIR / f"{s.name}.json").read_text()) for s in STAGES}
    assert {n: r["read"] for n, r in reads.items()} == {s.name: sorted(s.params) for s in STAGES}
    # every declared curve's axes are columns of its file, and DVC draws it offline (Vega-Lite with the data inlined)
    for curve in (c for s in STAGES for c in s.curves):
        assert {curve.x, *curve.ys} <= set(pd.read_csv(project / curve.path, nrows=1).columns), curve
    shown = sh(["dvc", "plots", "show", "--json"], project, cli_env)
    drawn = json.loads(shown[shown.index("{") :])["data"]
    assert all(drawn[c.path][0]["type"] == "vega" for s in STAGES for c in s.curves)

    assert "Data and pipelines are up to date" in sh(["dvc", "repro"], project, cli_env)
    after_dvc = sh(["soundflow", "run"], project, cli_env)
    assert ran_by_prefect(after_dvc) == []  # DVC already made everything up to date
    assert "DVC says all are up to date" in after_dvc and not cached_tasks(after_dvc)  # no temporary Prefect server
    # through Prefect all the same: nothing recomputed, and its cache records taken (the next run is served them)
    again = sh(["soundflow", "run", "--always-prefect"], project, cli_env)
    assert ran_by_prefect(again) == [] and re.search(rf"soundflow run: {len(STAGE_NAMES)} stage\(s\)", again)

    # one parameter changed: exactly its downstream stages rerun, with either engine
    set_params(project, {"aed.train.lr_start": 2e-3})  # changes every epoch's weights, so the model too
    listing = sh(["soundflow", "list"], project, cli_env)
    assert re.search(r"aed_train\s+stale: param aed.train modified", listing)
    assert re.search(r"aed_features\s+up to date", listing) and re.search(r"aed_evaluate\s+up to date", listing)
    changed = sh(["soundflow", "run"], project, cli_env)
    # the localisation pairs' pseudo-labels read the AED model; unused by default (localisation.data.labels:
    # annotated), their records come out the same, so nothing of workflow 3 downstream of them reruns
    downstream = {"aed_train", "aed_evaluate", "loc_pseudo_labels"}
    assert sorted(ran_by_prefect(changed)) == sorted(downstream)
    assert sorted(cached_tasks(changed)) == sorted(set(STAGE_NAMES) - downstream)
    assert "Data and pipelines are up to date" in sh(["dvc", "status"], project, cli_env)

    set_params(project, {"aed.model.dropout": 0.3})
    assert sorted(ran_by_dvc(sh(["dvc", "repro"], project, cli_env))) == sorted(downstream)
    assert ran_by_prefect(sh(["soundflow", "run"], project, cli_env)) == []

    # a deleted output is stale for both: Prefect's cache record for it no longer counts
    (project / "reports/aed/metrics.json").unlink()
    assert ran_by_prefect(sh(["soundflow", "run", "aed_evaluate"], project, cli_env)) == ["aed_evaluate"]
    assert "Data and pipelines are up to date" in sh(["dvc", "status"], project, cli_env)


def test_mlflow_holds_nested_stage_runs_with_metrics_artifacts_and_tags(project: Path) -> None:
    import mlflow

    runs = mlflow_runs(project)
    parents = runs[runs["tags.soundflow.pipeline_key"].notna()]
    assert set(parents["tags.soundflow.engine"]) == {"dvc", "prefect"}
    stages = runs[runs["tags.soundflow.stage"].notna()]
    assert stages["tags.mlflow.parentRunId"].isin(set(parents["run_id"])).all()
    # a pipeline run has a parent in each workflow's experiment, over that workflow's stage runs
    first = parents[parents["tags.soundflow.pipeline_key"] == parents.iloc[0]["tags.soundflow.pipeline_key"]]
    assert first["experiment_id"].is_unique
    first_dvc = stages[stages["tags.mlflow.parentRunId"].isin(set(first["run_id"]))]
    assert sorted(first_dvc["tags.soundflow.stage"]) == STAGE_NAMES
    in_experiment = dict(zip(first["run_id"], first["experiment_id"]))
    assert (first_dvc["tags.mlflow.parentRunId"].map(in_experiment) == first_dvc["experiment_id"]).all()
    assert parents.iloc[0]["params.aed.train.lr_start"] == "0.001"  # all params, flattened

    ev = stages[stages["tags.soundflow.stage"] == "aed_evaluate"].iloc[-1]
    assert 0 <= ev["metrics.accuracy"] <= 1 and ev["metrics.map"] >= ev["metrics.accuracy"]
    assert ev["metrics.MAP"] == ev["metrics.map"]  # the headline under its short name
    assert ev["params.aed.model.width"] and ev["params.aed.features.sample_rate"]  # its upstream stages' params
    assert ev["tags.git_commit"] != "unknown" and len(ev["tags.dvc_stage_hash"]) == 64
    with dvc_state.open_repo(project) as repo:  # the tag is DVC's own hash of the stage that ran
        assert ev["tags.dvc_stage_hash"] == dvc_state.stage_hash(repo, "aed_evaluate")
    client = mlflow.MlflowClient()
    arts = {a.path for a in client.list_artifacts(ev["run_id"], "outputs")}
    assert "outputs/confusion_matrix.png" in arts

    tr = stages[stages["tags.soundflow.stage"] == "aed_train"].iloc[-1]
    arts = {a.path for a in client.list_artifacts(tr["run_id"], "outputs")}
    assert {"outputs/model.pt", "outputs/training_curves.png"} <= arts
    epochs = int(tr["params.aed.train.epochs"])
    assert len(client.get_metric_history(tr["run_id"], "history/train_loss")) == epochs
    assert "aed_train" in client.download_artifacts(tr["run_id"], "aed_train.log")


def test_image_to_soundscape_outputs(project: Path) -> None:
    import jams
    import soundfile as sf
    import yaml

    fractions = pd.read_csv(project / "outputs/seg/predictions/fractions.csv")
    assert len(fractions) == 2  # data.street_scenes.n_test in TINY
    for image in fractions["image"]:
        stem = Path(image).stem
        assert len(list((project / "outputs/seg/predictions").rglob(f"{stem}_pred.jpg"))) == 1
    mapping = yaml.safe_load((project / "configs/soundscape_mapping.yaml").read_text())
    for _, row in fractions.iterrows():
        present = [c for c in fractions.columns[1:] if row[c] > 0]
        allowed = {v for c in present for v in (mapping.get(c) or {}).values()}
        wavs = sorted((project / "data/soundscapes").glob(f"{Path(row['image']).stem}_soundscape_*.wav"))
        if not allowed:
            assert not wavs
            continue
        assert len(wavs) == 2  # soundscapes_per_image in TINY
        for wav in wavs:
            assert sf.info(str(wav)).duration == pytest.approx(10.0, abs=1e-3)
            ann = jams.load(str(wav.with_suffix(".jams"))).annotations.search(namespace="scaper")[0]
            labels = [obs.value["label"] for obs in ann.data]
            roles = [obs.value["role"] for obs in ann.data]
            assert set(labels) <= allowed, (labels, present)
            assert 4 <= roles.count("foreground") <= 7

    import mlflow

    runs = mlflow_runs(project)
    ev = runs[runs["tags.soundflow.stage"] == "seg_evaluate"].iloc[-1]
    assert 0 <= ev["metrics.miou"] <= 1 and ev["metrics.mIoU"] == ev["metrics.miou"]  # and its headline name
    # per-class IoU is detail, not a metric: the run's per_class.json artifact, as the stage wrote it
    per_class = mlflow.MlflowClient().download_artifacts(ev["run_id"], "outputs/per_class.json")
    assert json.loads(Path(per_class).read_text())["iou"].keys() >= {"road", "car"}


def test_predict_prints_rates_classes_and_timing(project: Path, cli_env: dict[str, str]) -> None:
    clip = sorted((project / "data/generated/urban_synth/audio").rglob("*.wav"))[0]
    out = sh(
        ["soundflow", "predict", str(clip), str(ROOT.parent / "missing.wav"), "--results", "3", "--confidence", "0"],
        project,
        cli_env,
        ok=False,
    )
    block = out.split(str(clip), 1)[1]
    assert "sample rate: 22050 Hz" in block and "ms/chunk compute" in block
    assert len(re.findall(r"^\s+\w+\s+\d+\.\d\d%$", block, flags=re.M)) == 3
    assert "missing.wav: file not found" in out


def test_bad_clips_are_skipped_counted_and_reported(tmp_path: Path, cli_env: dict[str, str]) -> None:
    project = copy_project(
        ROOT, tmp_path / "project", {**TINY, "aed.data.root": "data/raw/mixed", "aed.data.max_bad_fraction": 0.2}
    )
    ds = project / "data/raw/mixed"
    generate_dataset(ds, clips_per_class=3, n_folds=3, sample_rate=16000, duration_range=(1.0, 2.0), progress=False)
    meta = ds / "metadata/UrbanSound8K.csv"
    table = pd.read_csv(meta)
    good = ds / "audio/fold1" / table.iloc[0]["slice_file_name"]
    bad = {
        "corrupt.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(40)),
        "empty.wav": b"",
        "readme.wav": b"this is text, not audio\n" * 10,
    }
    for name, content in bad.items():
        (ds / "audio/fold1" / name).write_bytes(content)
    extra = pd.DataFrame([{**table.iloc[0].to_dict(), "slice_file_name": n} for n in bad])
    pd.concat([table, extra]).to_csv(meta, index=False)
    assert good.exists()

    out = sh(["soundflow", "run", "aed_evaluate"], project, cli_env)
    assert ran_by_prefect(out) == ["aed_features", "aed_train", "aed_evaluate"]  # the generator is not upstream
    assert "3 unreadable file(s) skipped" in out
    skipped = pd.read_csv(project / "reports/aed/skipped.csv")
    assert sorted(Path(p).name for p in skipped["path"]) == sorted(bad)
    runs = mlflow_runs(project)
    feat = runs[runs["tags.soundflow.stage"] == "aed_features"].iloc[-1]
    assert feat["metrics.n_skipped"] == 3 and feat["metrics.n_files"] == 30
