"""Test accuracy of every trained configuration on its real test fold, one row per MLflow run.

``runs.csv`` follows the convention the pipeline's tracking reads for per-run records (one nested MLflow
run per row): ``name``, then ``tag.*`` columns (classifier, data type, multiplier, fold, generator: what
the MLflow UI filters and groups by), ``param.*`` and ``metric.*`` columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

import models
from soundflow.checkpoints import REMEDY, load_checkpoint
from soundflow.devices import pick_device
from soundflow.io import atomic_path
from soundflow.metric_files import write_metrics
from tasks.text_to_audio.features import load_clips
from tasks.text_to_audio.params import TextToAudioParams
from tasks.text_to_audio.train import _tensor, predict

TAGS = ("classifier", "data_type", "multiplier", "test_fold", "val_fold")
PARAMS = ("train_folds", "n_train_real", "n_train_generated", "synthetic_percent", "n_val")
METRICS = ("best_epoch", "best_val_loss", "best_val_accuracy", "epochs_run", "train_seconds")
HEADLINES = ("test_accuracy/*/*/*",)  # first in the metrics file: mean accuracy per classifier/set/multiplier


def load_classifier(checkpoint: Path, device: torch.device) -> torch.nn.Module:
    ck = load_checkpoint(checkpoint, remedy=REMEDY.format(stage="t2a_train"))
    model = models.get(ck["model_name"])(
        **{**ck["model_kwargs"], "input_shape": tuple(ck["model_kwargs"]["input_shape"])}
    )
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval()


def test_accuracy(
    model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device: torch.device, batch: int = 256
) -> float:
    """Fraction of clips whose arg-max class is the label (the paper's accuracy)."""
    if len(y) == 0:
        raise ValueError("no test clip: the test fold holds no real clip")
    pred = predict(model, _tensor(x), device, batch).argmax(1).numpy()
    return float(np.mean(pred == y))


def evaluate_runs(
    stores: Path, train_runs: Path, models_dir: Path, t: TextToAudioParams, runs_csv: Path, metrics_json: Path
) -> pd.DataFrame:
    """Accuracy of each configuration of ``train_runs`` on its test fold; ``runs.csv`` and a metrics JSON."""
    real = load_clips(Path(stores) / "real", t.features)
    generator = t.generate.generator
    dev = pick_device(t.experiment.device)
    trained = pd.read_csv(train_runs)
    acc = []
    for row in trained.itertuples(index=False):
        test = real.fold == row.test_fold
        acc.append(
            test_accuracy(load_classifier(Path(models_dir) / row.checkpoint, dev), real.x[test], real.label[test], dev)
        )
    trained["test_accuracy"] = acc
    runs = pd.DataFrame({"name": trained["key"]})
    for c in TAGS:
        runs[f"tag.{c}"] = trained[c]
    runs["tag.generator"] = generator
    for c in PARAMS:
        runs[f"param.{c}"] = trained[c]
    for c in (*METRICS, "test_accuracy"):
        runs[f"metric.{c}"] = trained[c].astype(float)
    with atomic_path(runs_csv) as tmp:
        runs.to_csv(tmp, index=False)
    means = trained.groupby(["classifier", "data_type", "multiplier"])["test_accuracy"].mean()
    write_metrics(
        metrics_json,
        {"n_runs": len(trained), "test_accuracy": {f"{c}/{d}/x{m:g}": float(v) for (c, d, m), v in means.items()}},
        first=HEADLINES,
    )
    return runs
