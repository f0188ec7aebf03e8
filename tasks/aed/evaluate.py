"""Per-file evaluation of a trained AED classifier on the held-out folds (docs/methods.md#aed-cnn).

A file's prediction is the mean of its chunks' class probabilities. Reported:
top-1 accuracy, MAP (mean over files of 1/rank of the true class within the
top ``map_top_k``, else 0) in the metrics file; per-class accuracy and the confusion matrix in a file of
their own (a metrics file holds numbers only: :mod:`soundflow.metric_files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from soundflow import metrics, plots
from soundflow.devices import pick_device
from soundflow.io import atomic_path, write_json
from soundflow.metric_files import write_metrics
from tasks.aed.dataset import ChunkDataset, chunk_rows
from tasks.aed.features import read_index
from tasks.aed.inference import pool_by_file, predict_rows
from tasks.aed.params import AedDataParams, AedEvaluateParams
from tasks.features.chunk_classifier import load_checkpoint

HEADLINES = ("accuracy", "map")  # first in the metrics file: what the workflow's runs are judged by


@dataclass(frozen=True)
class EvaluationResult:
    metrics_json: Path
    per_class_json: Path
    predictions_csv: Path
    confusion_png: Path
    accuracy: float
    map: float


def evaluate(
    chunks: Path,
    checkpoint: Path,
    metrics_json: Path,
    per_class_json: Path,
    predictions_csv: Path,
    confusion_png: Path,
    data: AedDataParams,
    p: AedEvaluateParams,
    batch_size: int = 64,
    device: str = "auto",
) -> EvaluationResult:
    index = read_index(chunks)
    model, ckpt = load_checkpoint(checkpoint, pick_device(device))
    if ckpt["classes"] != index.classes:
        raise ValueError(f"{checkpoint}: trained on classes {ckpt['classes']}, but {chunks} has {index.classes}")
    test_files = np.flatnonzero(np.isin(index.file_fold, data.test_folds))
    if len(test_files) == 0:
        raise ValueError(f"{chunks}: no file in test folds {data.test_folds}")
    rows = chunk_rows(index, test_files)
    dl = DataLoader(ChunkDataset(chunks, rows, index.chunk_label[rows]), batch_size=batch_size)
    probs, loss = predict_rows(model, dl, next(model.parameters()).device)
    files, pooled = pool_by_file(probs, index.chunk_file[rows])
    y = index.file_label[files]
    n_classes = len(index.classes)
    cm = metrics.confusion_matrix(y, pooled.argmax(1), n_classes)
    per_class = metrics.per_class_accuracy(cm)
    result = {
        "accuracy": metrics.accuracy(y, pooled),
        "map": metrics.mean_average_precision(y, pooled, p.map_top_k),
        "chunk_accuracy": metrics.accuracy(index.chunk_label[rows], probs),
        "chunk_loss": loss,
        "n_files": int(len(files)),
        "n_chunks": int(len(rows)),
        "chance_accuracy": 1.0 / n_classes,
    }
    write_metrics(metrics_json, result, first=HEADLINES)
    detail = {
        "classes": index.classes,  # the confusion matrix's order: rows truth, columns prediction
        "per_class_accuracy": {c: (None if np.isnan(a) else float(a)) for c, a in zip(index.classes, per_class)},
        "confusion_matrix": cm.tolist(),
    }
    write_json(per_class_json, detail, sort_keys=False)
    ranks = metrics.true_class_ranks(y, pooled)
    table = pd.DataFrame(
        {
            "path": index.file_path[files],
            "true": [index.classes[i] for i in y],
            "predicted": [index.classes[i] for i in pooled.argmax(1)],
            "confidence": pooled.max(1),
            "true_rank": ranks,
        }
    )
    with atomic_path(predictions_csv) as tmp:
        table.to_csv(tmp, index=False)
    plots.confusion_matrix(
        cm, index.classes, confusion_png, title=f"test folds {data.test_folds}: accuracy {result['accuracy']:.3f}"
    )
    paths = (Path(metrics_json), Path(per_class_json), Path(predictions_csv), Path(confusion_png))
    return EvaluationResult(*paths, result["accuracy"], result["map"])


def evaluate_test_folds(
    chunks: Path,
    checkpoint: Path,
    metrics_json: Path,
    per_class_json: Path,
    predictions_csv: Path,
    confusion_png: Path,
    data: AedDataParams,
    p: AedEvaluateParams,
    *,
    device: str,
) -> EvaluationResult:
    """:func:`evaluate` on ``data.test_folds``, with the headline numbers printed for the stage's log."""
    outputs = (metrics_json, per_class_json, predictions_csv, confusion_png)
    result = evaluate(chunks, checkpoint, *outputs, data, p, device=device)
    print(f"aed_evaluate: accuracy {result.accuracy:.3f}, MAP {result.map:.3f} on folds {data.test_folds}")
    return result
