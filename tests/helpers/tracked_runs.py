"""Tracked runs for the comparison and registry tests: a real aed_train result, logged as the runner logs it.

:func:`aed_train_outputs` trains the AED CNN at test size (3 classes, 1 epoch) and leaves the aed_train stage's
declared outputs at their paths under a project folder; :func:`log_pipeline` logs one pipeline run (parameters
of the whole params.yaml, provenance tags) with a run per stage through :class:`soundflow.pipeline.tracking.Tracker` and
the runner's own output logging, so the store holds what ``soundflow run`` would have left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.workflows import aed
from soundflow.pipeline import runner, stages
from soundflow.pipeline.tracking import Tracker
from tests.helpers.aed import tiny_aed_features

PROVENANCE = {
    "git_commit": "c0ffee",
    "soundflow.git_commit": "c0ffee",
    "soundflow.git_dirty": "false",
    "soundflow.data_version": "d751713.dir",
}


def aed_train_outputs(root: Path) -> Path:
    """The aed_train stage's outputs (checkpoint, summary, history, curves) under ``root``; the checkpoint."""
    from soundflow.training import FitFiles
    from tasks.aed.features import extract_chunks
    from tasks.aed.params import AedDataParams, AedModelParams, AedTrainParams
    from tasks.aed.train import train_and_plot
    from tasks.datasets.labelled_audio import read_labelled_audio
    from tasks.procedural.urban_sounds import generate_dataset

    classes = ["car_horn", "dog_bark", "siren"]
    generate_dataset(root / "ds", clips_per_class=4, n_folds=2, sample_rate=16000, duration_range=(2.0, 3.0),
                     classes=classes, seed=3, progress=False)  # fmt: skip
    table = read_labelled_audio(root / "ds", "urbansound8k")
    chunks = root / aed.AED_CHUNKS
    extract_chunks(
        table, chunks, root / "f.json", root / "s.csv", tiny_aed_features(n_freq_bins=64), 0.0, progress=False
    )
    data = AedDataParams(root="ds", format="urbansound8k", test_folds=[2], val_fraction=0.34, max_bad_fraction=0.0)
    model = AedModelParams(name="aed_cnn", width=4, dense=16, dropout=0.0)
    train = AedTrainParams(epochs=1, batch_size=8, lr_start=1e-3, lr_end=1e-4, beta1=0.5, seed=1, roll_prob=0.0,
                           roll_max_fraction=0.05, max_batches_per_epoch=0, device="cpu", num_workers=0)  # fmt: skip
    files = FitFiles.under(root, "state", aed.AED_MODEL, aed.AED_HISTORY, aed.AED_TRAIN_SUMMARY)
    train_and_plot(chunks, files, root / aed.AED_CURVES, data, model, train)
    return root / aed.AED_MODEL


def log_pipeline(
    tracker: Tracker, key: str, params: dict[str, Any], stage_metrics: dict[str, dict[str, float]], root: Path
) -> dict[str, str]:
    """One pipeline run and a finished run per stage (metrics as given, outputs found under ``root`` logged)."""
    parent = tracker.pipeline_run(key, "prefect", params, PROVENANCE)
    ids = {}
    for name, metrics in stage_metrics.items():
        stage = stages.get_stage(name)
        run_id = tracker.stage_run(name, parent, {}, {**PROVENANCE, "soundflow.engine": "prefect"})
        tracker.log_metrics(run_id, metrics)
        if all((root / p).exists() for p in stage.metrics + stage.artifacts):  # the stage's real outputs
            runner._log_outputs(tracker, run_id, stage, root)
        tracker.finish(run_id)
        ids[name] = run_id
    tracker.finish(parent)
    ids["pipeline"] = parent
    return ids
