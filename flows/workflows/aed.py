"""Workflow 2, acoustic event classification: spectrogram chunks, a CNN, per-file top-k predictions.

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from soundflow.env import STATE_DIR
from soundflow.pipeline.stage import Curve, Stage, Workflow
from tasks.aed.params import AedParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

AED_CHUNKS = "data/features/aed/chunks"  # a feature store of stft_chunks
AED_FEATURES_SUMMARY = "reports/aed/features.json"
AED_SKIPPED = "reports/aed/skipped.csv"
AED_MODEL = "outputs/aed/model.pt"
AED_TRAIN_SUMMARY = "reports/aed/train.json"
AED_HISTORY = "reports/aed/train_history.csv"
AED_CURVES = "reports/aed/training_curves.png"
AED_METRICS = "reports/aed/metrics.json"
AED_PER_CLASS = "reports/aed/per_class.json"  # per-class accuracy and the confusion matrix: not metrics
AED_PREDICTIONS = "reports/aed/test_predictions.csv"
AED_CONFUSION = "reports/aed/confusion_matrix.png"


def _aed_features(p: ParamsView, root: Path) -> object:
    from tasks.aed.extract import extract_dataset_chunks

    return extract_dataset_chunks(
        root / p.aed.data.root,
        p.aed.data.format,
        p.aed.features,
        p.aed.data.max_bad_fraction,
        root / AED_CHUNKS,
        root / AED_FEATURES_SUMMARY,
        root / AED_SKIPPED,
        root=root,
    )


def _aed_train(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.aed.train import train_and_plot

    files = FitFiles.under(root, f"{STATE_DIR}/aed_train", AED_MODEL, AED_HISTORY, AED_TRAIN_SUMMARY)
    return train_and_plot(root / AED_CHUNKS, files, root / AED_CURVES, p.aed.data, p.aed.model, p.aed.train)


def _aed_evaluate(p: ParamsView, root: Path) -> object:
    from tasks.aed.evaluate import evaluate_test_folds

    inputs = (root / AED_CHUNKS, root / AED_MODEL)
    outputs = (root / AED_METRICS, root / AED_PER_CLASS, root / AED_PREDICTIONS, root / AED_CONFUSION)
    return evaluate_test_folds(*inputs, *outputs, p.aed.data, p.aed.evaluate, device=p.aed.train.device)


WORKFLOW = Workflow(
    name="aed",
    doc="Workflow 2: labelled audio -> spectrogram chunks -> CNN training -> evaluation",
    sections={"aed": AedParams},
    headline="accuracy",
    headlines={"accuracy": "accuracy", "MAP": "map"},
    results=AED_METRICS,
    aliases=("acoustic_event_classification",),
    stages=(
        Stage(
            name="aed_features",
            desc="Spectrogram chunks of the labelled audio into HDF5",
            run=_aed_features,
            deps=("${aed.data.root}",),
            params=("aed.data.root", "aed.data.format", "aed.data.max_bad_fraction", "aed.features"),
            outs=(AED_CHUNKS,),
            persist=(AED_CHUNKS,),  # a rerun keeps finished shards whose inputs and parameters are unchanged
            metrics=(AED_FEATURES_SUMMARY,),
            plots=(AED_SKIPPED,),
        ),
        Stage(
            name="aed_train",
            desc="Train the AED CNN on spectrogram chunks (validation split by source recording)",
            run=_aed_train,
            deps=(AED_CHUNKS,),
            params=("aed.data.test_folds", "aed.data.val_fraction", "aed.model", "aed.train"),
            outs=(AED_MODEL,),
            metrics=(AED_TRAIN_SUMMARY,),
            plots=(AED_HISTORY, AED_CURVES),
            artifacts=(AED_MODEL,),
            history=AED_HISTORY,
            curves=(Curve(AED_HISTORY, "epoch", ("train_loss", "val_loss", "train_accuracy", "val_accuracy")),),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="aed_evaluate",
            desc="Per-file accuracy, MAP and confusion matrix on the held-out folds",
            run=_aed_evaluate,
            deps=(AED_CHUNKS, AED_MODEL),
            params=("aed.data.test_folds", "aed.evaluate", "aed.train.device"),
            outs=(),
            metrics=(AED_METRICS,),
            plots=(AED_PER_CLASS, AED_PREDICTIONS, AED_CONFUSION),
        ),
    ),
)
