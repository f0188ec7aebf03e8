"""Workflow 5, text-to-audio augmentation (Ronchini et al., DCASE 2024): classifiers trained on real,
generated and mixed sets.

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from soundflow.env import STATE_DIR
from soundflow.pipeline.stage import Curve, Stage, Workflow
from tasks.text_to_audio.params import TextToAudioParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

T2A_GENERATED = "data/generated/t2a"
T2A_STORES = "data/features/t2a"  # real/ and generated/: feature stores of logmel_t2a
T2A_FEATURES_SUMMARY = "reports/t2a/features.json"
T2A_MODELS = "outputs/t2a/models"  # <config>.pt with its history and summary
T2A_TRAIN_RUNS = "reports/t2a/train_runs.csv"
T2A_RUNS = "reports/t2a/runs.csv"  # one nested MLflow run per row
T2A_METRICS = "reports/t2a/metrics.json"
T2A_SUMMARY = "reports/t2a/summary.csv"
T2A_SUMMARY_PNG = "reports/t2a/summary.png"
T2A_ACCURACY_PLOT = "reports/t2a/accuracy_vs_synthetic.png"


def _t2a_generate(p: ParamsView, root: Path) -> object:
    from tasks.text_to_audio.generate import generate_clips

    t = p.text_to_audio
    return generate_clips(
        root / t.real.root,
        t.real,
        root / t.prompts,
        t.generate,
        root / T2A_GENERATED,
        data_types=t.experiment.data_types,
    )


def _t2a_features(p: ParamsView, root: Path) -> object:
    from tasks.text_to_audio.features import build_stores

    t = p.text_to_audio
    return build_stores(
        root / t.real.root,
        t.real,
        root / T2A_GENERATED,
        t.features,
        root / T2A_STORES,
        root / T2A_FEATURES_SUMMARY,
        root=root,
    )


def _t2a_train(p: ParamsView, root: Path) -> object:
    from tasks.text_to_audio.train import train_configurations

    t = p.text_to_audio
    return train_configurations(
        root / T2A_STORES,
        t.features,
        t.experiment,
        t.generate.multipliers,
        root / T2A_MODELS,
        root / STATE_DIR / "t2a_train",
        root / T2A_TRAIN_RUNS,
    )


def _t2a_evaluate(p: ParamsView, root: Path) -> object:
    from tasks.text_to_audio.evaluate import evaluate_runs

    stores, models_dir = root / T2A_STORES, root / T2A_MODELS
    return evaluate_runs(
        stores, root / T2A_TRAIN_RUNS, models_dir, p.text_to_audio, root / T2A_RUNS, root / T2A_METRICS
    )


def _t2a_summary(p: ParamsView, root: Path) -> object:
    from tasks.text_to_audio.summary import summarise

    plot, generator = root / T2A_ACCURACY_PLOT, p.text_to_audio.generate.generator
    return summarise(root / T2A_RUNS, root / T2A_SUMMARY, root / T2A_SUMMARY_PNG, plot, generator)


WORKFLOW = Workflow(
    name="text_to_audio",
    doc="Workflow 5: prompts -> generated clips -> log-mel stores -> classifiers per configuration -> summary",
    sections={"text_to_audio": TextToAudioParams},
    headline="test_accuracy",
    headlines={"mean_accuracy/*/*/*": "test_accuracy/*/*/*"},  # classifier/set/multiplier, over folds
    results=T2A_METRICS,
    stages=(
        Stage(
            name="t2a_generate",
            desc=(
                "Generate clips per class from text prompts (real count x the largest multiplier), UrbanSound8K layout"
            ),
            run=_t2a_generate,
            deps=("${text_to_audio.real.root}", "${text_to_audio.prompts}"),
            params=(
                "text_to_audio.real",
                "text_to_audio.prompts",
                "text_to_audio.generate",
                "text_to_audio.experiment.data_types",  # a real-only experiment generates nothing
            ),
            outs=(T2A_GENERATED,),
            persist=(T2A_GENERATED,),  # finished clips are kept: a rerun generates only the missing ones
            timeout_minutes=24 * 60,  # a diffusion model's inference for thousands of clips, on a CPU
        ),
        Stage(
            name="t2a_features",
            desc="logmel_t2a feature stores of the real and the generated clips (4 s repeat-padded)",
            run=_t2a_features,
            deps=("${text_to_audio.real.root}", T2A_GENERATED),
            params=("text_to_audio.real", "text_to_audio.features"),
            outs=(T2A_STORES,),
            persist=(T2A_STORES,),
            metrics=(T2A_FEATURES_SUMMARY,),
        ),
        Stage(
            name="t2a_train",
            desc="Train each (classifier, training set, multiplier, test fold) with early stopping on validation loss",
            run=_t2a_train,
            deps=(T2A_STORES,),
            params=("text_to_audio.features", "text_to_audio.experiment", "text_to_audio.generate.multipliers"),
            outs=(T2A_MODELS,),
            plots=(T2A_TRAIN_RUNS,),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="t2a_evaluate",
            desc="Accuracy of every configuration on its real test fold (one MLflow run each)",
            run=_t2a_evaluate,
            deps=(T2A_STORES, T2A_MODELS, T2A_TRAIN_RUNS),
            params=("text_to_audio.features", "text_to_audio.generate.generator", "text_to_audio.experiment.device"),
            outs=(),
            metrics=(T2A_METRICS,),
            plots=(T2A_RUNS,),
            runs=T2A_RUNS,
        ),
        Stage(
            name="t2a_summary",
            desc="Accuracy mean and std over folds per configuration (CSV, PNG) and against the synthetic share",
            run=_t2a_summary,
            deps=(T2A_RUNS,),
            params=("text_to_audio.generate.generator",),
            outs=(),
            plots=(T2A_SUMMARY, T2A_SUMMARY_PNG, T2A_ACCURACY_PLOT),
            # accuracy against the share of generated clips (the paper's figure), one point per configuration
            curves=(Curve(T2A_SUMMARY, "synthetic_percent_of_real", ("mean_accuracy",), "scatter"),),
        ),
    ),
)
