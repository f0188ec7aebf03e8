"""The pipeline's stages, declared once.

This file is the single source of truth of the DAG: each stage's command,
dependencies, parameter keys and outputs. ``dvc.yaml`` is generated from it
(``soundflow dvc-yaml``; a test fails when they drift), the Prefect flows are
built from it, and ``python -m soundflow stage NAME`` (the command DVC runs)
executes a stage by calling its plain task function with the paths declared
here. Paths are relative to the repository root; a dependency may name a
parameter as ``${key}`` (DVC's templating), resolved from ``params.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from soundflow.config import Params

# Paths shared between stages: an output of one is a dependency of the next.
URBAN_SYNTH = "data/generated/urban_synth"
AED_CHUNKS = "data/features/aed/chunks.h5"
AED_FEATURES_SUMMARY = "reports/aed/features.json"
AED_SKIPPED = "reports/aed/skipped.csv"
AED_MODEL = "outputs/aed/model.pt"
AED_TRAIN_SUMMARY = "reports/aed/train.json"
AED_HISTORY = "reports/aed/train_history.csv"
AED_CURVES = "reports/aed/training_curves.png"
AED_METRICS = "reports/aed/metrics.json"
AED_PREDICTIONS = "reports/aed/test_predictions.csv"
AED_CONFUSION = "reports/aed/confusion_matrix.png"

STATE_DIR = ".soundflow"  # ignored: resumable training state, Prefect's home


@dataclass(frozen=True)
class Stage:
    """One stage: ``run(params, root)`` does the work; the rest says what it reads and writes."""

    name: str
    desc: str
    run: Callable[[Params, Path], object]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = ()  # JSON, small: kept in git, logged to MLflow as metrics
    plots: tuple[str, ...] = ()  # PNG/CSV, small: kept in git, logged to MLflow as artifacts
    artifacts: tuple[str, ...] = ()  # outputs also logged to MLflow as artifacts (checkpoints, skip lists)
    history: str | None = None  # per-epoch CSV logged to MLflow as metric series
    flow: str = "default"  # the Prefect sub-flow the stage belongs to
    code: tuple[str, ...] = field(default=())  # source files whose change must rerun the stage

    @property
    def cmd(self) -> str:
        return f"python -m soundflow stage {self.name}"

    @property
    def all_deps(self) -> tuple[str, ...]:
        return self.deps + self.code

    @property
    def all_outs(self) -> tuple[str, ...]:
        return self.outs + self.metrics + self.plots


def _urban_synth(p: Params, root: Path) -> object:
    from tasks.datasets.urban_synth import generate_dataset

    s = p.data.urban_synth
    return generate_dataset(root / URBAN_SYNTH, clips_per_class=s.clips_per_class, n_folds=s.n_folds,
                            sample_rate=s.sample_rate, duration_range=s.duration, snr_db_range=s.snr_db, seed=s.seed)


def _aed_features(p: Params, root: Path) -> object:
    from tasks.aed.features import extract_chunks
    from tasks.datasets.labelled_audio import read_labelled_audio

    table = read_labelled_audio(root / p.aed.data.root, p.aed.data.format)
    report = extract_chunks(table, root / AED_CHUNKS, root / AED_FEATURES_SUMMARY, root / AED_SKIPPED,
                            p.aed.features, p.aed.data.max_bad_fraction)
    print(f"aed_features: {report.n_chunks} chunks from {report.n_files} files; "
          f"{report.n_skipped} unreadable file(s) skipped (listed in {AED_SKIPPED})")
    return report


def _aed_train(p: Params, root: Path) -> object:
    import pandas as pd

    from soundflow.plots import training_curves
    from tasks.aed.train import train

    result = train(root / AED_CHUNKS, root / AED_MODEL, root / AED_HISTORY, root / AED_TRAIN_SUMMARY,
                   p.aed.data, p.aed.model, p.aed.train, state_dir=root / STATE_DIR / "aed_train")
    training_curves(pd.read_csv(result.history_csv), root / AED_CURVES, title="AED CNN")
    return result


def _aed_evaluate(p: Params, root: Path) -> object:
    from tasks.aed.evaluate import evaluate

    result = evaluate(root / AED_CHUNKS, root / AED_MODEL, root / AED_METRICS, root / AED_PREDICTIONS,
                      root / AED_CONFUSION, p.aed.data, p.aed.evaluate, device=p.aed.train.device)
    print(f"aed_evaluate: accuracy {result.accuracy:.3f}, MAP {result.map:.3f} on folds {p.aed.data.test_folds}")
    return result


STAGES: tuple[Stage, ...] = (
    Stage(
        name="urban_synth",
        desc="Generate the procedural urban-sound dataset (UrbanSound8K layout)",
        run=_urban_synth,
        deps=(),
        code=("tasks/datasets/urban_synth.py",),
        params=("data.urban_synth",),
        outs=(URBAN_SYNTH,),
        flow="data",
    ),
    Stage(
        name="aed_features",
        desc="Spectrogram chunks of the labelled audio into HDF5",
        run=_aed_features,
        deps=("${aed.data.root}",),
        code=("tasks/aed/features.py", "tasks/datasets/labelled_audio.py", "soundflow/audio.py"),
        params=("aed.data.root", "aed.data.format", "aed.data.max_bad_fraction", "aed.features"),
        outs=(AED_CHUNKS,),
        metrics=(AED_FEATURES_SUMMARY,),
        plots=(AED_SKIPPED,),
        flow="acoustic_event_classification",
    ),
    Stage(
        name="aed_train",
        desc="Train the AED CNN on spectrogram chunks (validation split by file)",
        run=_aed_train,
        deps=(AED_CHUNKS,),
        code=("tasks/aed/train.py", "models/aed_cnn.py"),
        params=("aed.data.test_folds", "aed.data.val_fraction", "aed.model", "aed.train"),
        outs=(AED_MODEL,),
        metrics=(AED_TRAIN_SUMMARY,),
        plots=(AED_HISTORY, AED_CURVES),
        artifacts=(AED_MODEL,),
        history=AED_HISTORY,
        flow="acoustic_event_classification",
    ),
    Stage(
        name="aed_evaluate",
        desc="Per-file accuracy, MAP and confusion matrix on the held-out folds",
        run=_aed_evaluate,
        deps=(AED_CHUNKS, AED_MODEL),
        code=("tasks/aed/evaluate.py", "soundflow/metrics.py"),
        params=("aed.data.test_folds", "aed.evaluate"),
        outs=(),
        metrics=(AED_METRICS,),
        plots=(AED_PREDICTIONS, AED_CONFUSION),
        flow="acoustic_event_classification",
    ),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}


def get_stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(BY_NAME)}") from None
