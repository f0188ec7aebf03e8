"""The localisation workflow end to end at a tiny size through its Prefect flow: metrics in MLflow, overlays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.commands import ran_by_prefect, sh
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow

# the AED classifier of workflow 2 labels the training pairs (localisation.data.labels: pseudo)
UPSTREAM = ["urban_synth", "aed_features", "aed_train"]
LOC_STAGES = ["loc_scenes", "loc_pseudo_labels", "loc_features", "loc_stage1", "loc_stage2", "loc_evaluate"]


def _saved_maps_reproduce_the_metrics(project: Path, metrics: dict) -> None:
    """The model's maps in maps.npz, scored again, give the logged numbers of both conventions exactly."""
    from flows.workflows.localisation import LOC_FEATURES, LOC_MAPS
    from soundflow.pipeline.config import load_params
    from tasks.localisation import metrics as m
    from tasks.localisation.data import open_split

    saved = np.load(project / LOC_MAPS)
    assert saved["maps"].dtype == np.float32 and saved["class_maps"].dtype == np.float32
    p = load_params(project).localisation
    split = open_split(project / LOC_FEATURES, "test", p.data, len(p.scenes.categories))
    assert list(saved["ids"]) == list(split.ids)
    side = saved["maps"].shape[-1]
    g = [m.consensus_map(b, side, p.evaluate.consensus_annotators) for b in split.column("boxes")]
    split.close()
    for prefix, binarise in (
        ("", lambda x: m.binarise_fraction(x, p.evaluate.ciou_threshold)),
        ("relative_area/", lambda x: m.binarise_relative_area(x, p.evaluate.relative_area_keep)),
    ):
        c = [m.ciou(binarise(x), gi) for x, gi in zip(saved["maps"], g)]
        for key, value in m.summary(np.array(c), p.evaluate.auc_points).items():
            assert metrics[prefix + key] == value, prefix + key


def _early_stopping_is_what_params_ask(project: Path) -> None:
    """A stage stops early exactly when ``patience`` epochs passed without a lower validation loss."""
    from soundflow.pipeline.config import load_params

    p = load_params(project).localisation
    for n, sp in ((1, p.stage1), (2, p.stage2)):
        s = json.loads((project / f"reports/localisation/stage{n}.json").read_text())
        assert s["best_epoch"] <= s["epochs_run"] <= sp.epochs
        assert s["stopped_early"] == (s["epochs_run"] < sp.epochs)
        if s["stopped_early"]:
            assert s["epochs_run"] - s["best_epoch"] == sp.patience


def test_localisation_flow_logs_metrics_and_baselines(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import mlflow

    project = copy_project(ROOT, tmp_path / "project", {**TINY, "localisation.data.labels": "pseudo"})
    out = sh(["soundflow", "run", "--flow", "localisation"], project, cli_env)
    assert ran_by_prefect(out) == UPSTREAM + LOC_STAGES
    pseudo = json.loads((project / "reports/localisation/pseudo_labels.json").read_text())
    assert sorted(pseudo["splits"]) == ["train", "val"] and 0 <= pseudo["splits"]["train"]["recall"] <= 1
    from tasks.features.store import read_manifest

    assert read_manifest(project / "data/features/localisation/train")["extra"]["labels"] == "pseudo"
    metrics = json.loads((project / "reports/localisation/metrics.json").read_text())
    for key in (
        "ciou_at_0.5",
        "auc",
        "relative_area/auc",
        "baseline/whole_image/ciou_at_0.5",
        "baseline/centre_box/auc",
        "baseline/audio_free/relative_area/auc",
    ):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["baseline/whole_image/mean_ciou"] > 0  # every image has boxes
    assert (project / "reports/localisation/overlays.png").stat().st_size > 0
    _early_stopping_is_what_params_ask(project)
    assert (project / "reports/localisation/success_rate.png").stat().st_size > 0
    _saved_maps_reproduce_the_metrics(project, metrics)

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns.db'}")
    runs = mlflow.search_runs(experiment_names=["soundflow/localisation"])
    evaluate = runs[runs["tags.mlflow.runName"] == "loc_evaluate"].iloc[0]
    assert evaluate["metrics.baseline/whole_image/ciou_at_0.5"] == metrics["baseline/whole_image/ciou_at_0.5"]
    assert evaluate["metrics.auc"] == pytest.approx(metrics["auc"])
