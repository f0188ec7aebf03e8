"""Workflow 3, multi-source sound localisation: the two-stage class-aware model (Qian et al., ECCV 2020),
cIoU and AUC.

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flows.workflows.aed import AED_MODEL
from soundflow.env import STATE_DIR
from soundflow.pipeline.stage import Curve, Stage, Workflow
from tasks.localisation.params import LocalisationParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

LOC_SCENES = "data/generated/av_scenes"
LOC_PSEUDO = "data/generated/av_pseudo_pairs"  # the training pairs' records with the AED classifier's labels
LOC_PSEUDO_REPORT = "reports/localisation/pseudo_labels.json"
LOC_FEATURES = "data/features/localisation"  # one audiovisual feature store per split: <split>/shard-*.h5
LOC_FEATURES_SUMMARY = "reports/localisation/features.json"
LOC_STAGE1_MODEL = "outputs/localisation/stage1.pt"
LOC_STAGE1_SUMMARY = "reports/localisation/stage1.json"
LOC_STAGE1_HISTORY = "reports/localisation/stage1_history.csv"
LOC_STAGE1_CURVES = "reports/localisation/stage1_curves.png"
LOC_STAGE2_MODEL = "outputs/localisation/stage2.pt"
LOC_STAGE2_SUMMARY = "reports/localisation/stage2.json"
LOC_STAGE2_HISTORY = "reports/localisation/stage2_history.csv"
LOC_STAGE2_CURVES = "reports/localisation/stage2_curves.png"
LOC_METRICS = "reports/localisation/metrics.json"
LOC_MAPS = "outputs/localisation/maps.npz"
LOC_OVERLAYS = "reports/localisation/overlays.png"
LOC_SUCCESS = "reports/localisation/success_rate.png"


def _loc_scenes(p: ParamsView, root: Path) -> object:
    from tasks.procedural.av_scenes.writer import scenes_from_params

    return scenes_from_params(root / LOC_SCENES, p.localisation.scenes, p.localisation.data)


def _loc_pseudo_labels(p: ParamsView, root: Path) -> object:
    from tasks.localisation.relabel import pseudo_label_pairs

    q = p.localisation
    return pseudo_label_pairs(
        root / LOC_SCENES,
        root / LOC_PSEUDO,
        root / LOC_PSEUDO_REPORT,
        (root / AED_MODEL, root / q.pseudo_label_mapping),
        q.scenes.categories,
        q.pseudo_labels,
        apply=q.data.labels == "pseudo",
    )


def _loc_features(p: ParamsView, root: Path) -> object:
    from tasks.localisation.build import build_split_stores

    q = p.localisation
    return build_split_stores(
        root / LOC_SCENES,
        root / LOC_FEATURES,
        root / LOC_FEATURES_SUMMARY,
        q.data,
        q.scenes.categories,
        pseudo_root=root / LOC_PSEUDO,
    )


def _loc_stage1(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.localisation.train import train_stage

    files = FitFiles.under(root, f"{STATE_DIR}/loc_stage1", LOC_STAGE1_MODEL, LOC_STAGE1_HISTORY, LOC_STAGE1_SUMMARY)
    return train_stage(1, root / LOC_FEATURES, files, root / LOC_STAGE1_CURVES, p.localisation)


def _loc_stage2(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.localisation.train import train_stage

    files = FitFiles.under(root, f"{STATE_DIR}/loc_stage2", LOC_STAGE2_MODEL, LOC_STAGE2_HISTORY, LOC_STAGE2_SUMMARY)
    return train_stage(
        2, root / LOC_FEATURES, files, root / LOC_STAGE2_CURVES, p.localisation, init=root / LOC_STAGE1_MODEL
    )


def _loc_evaluate(p: ParamsView, root: Path) -> object:
    from tasks.localisation.evaluate import evaluate_test_split

    return evaluate_test_split(
        root / LOC_FEATURES,
        root / LOC_STAGE2_MODEL,
        root / LOC_METRICS,
        root / LOC_MAPS,
        root / LOC_OVERLAYS,
        root / LOC_SUCCESS,
        p.localisation,
    )


WORKFLOW = Workflow(
    name="localisation",
    doc="Workflow 3: audiovisual scenes -> feature stores -> stage 1 -> stage 2 -> cIoU / AUC with baselines, overlays",
    sections={"localisation": LocalisationParams},
    headline="ciou_at_0.5",
    headlines={"cIoU_0.5": "ciou_at_0.5", "AUC": "auc"},  # MLflow names take no "@"
    results=LOC_METRICS,
    aliases=("sound_localisation",),
    stages=(
        Stage(
            name="loc_scenes",
            desc="Generate procedural audiovisual scenes (sounding and silent objects, clips, annotator boxes)",
            run=_loc_scenes,
            deps=(),
            params=("localisation.scenes", "localisation.data.clip_seconds"),
            outs=(LOC_SCENES,),
        ),
        Stage(
            name="loc_pseudo_labels",
            desc="Label the training pairs' clips with the AED classifier, its classes mapped to the K categories",
            run=_loc_pseudo_labels,
            deps=(LOC_SCENES, AED_MODEL, "${localisation.pseudo_label_mapping}"),
            params=(
                "localisation.scenes.categories",
                "localisation.pseudo_labels",
                "localisation.pseudo_label_mapping",
                "localisation.data.labels",
            ),
            outs=(LOC_PSEUDO,),
            metrics=(LOC_PSEUDO_REPORT,),
        ),
        Stage(
            name="loc_features",
            desc="Frames, log-mel, labels and boxes of every pair into one audiovisual feature store per split",
            run=_loc_features,
            deps=(LOC_SCENES, LOC_PSEUDO),
            params=("localisation.scenes.categories", "localisation.data"),
            outs=(LOC_FEATURES,),
            persist=(LOC_FEATURES,),
            metrics=(LOC_FEATURES_SUMMARY,),
        ),
        Stage(
            name="loc_stage1",
            desc="Stage 1: audio/visual class BCEs and audiovisual correspondence (SGD)",
            run=_loc_stage1,
            deps=(LOC_FEATURES,),
            params=("localisation.scenes.categories", "localisation.data", "localisation.model", "localisation.stage1"),
            outs=(LOC_STAGE1_MODEL,),
            metrics=(LOC_STAGE1_SUMMARY,),
            plots=(LOC_STAGE1_HISTORY, LOC_STAGE1_CURVES),
            artifacts=(LOC_STAGE1_MODEL,),
            history=LOC_STAGE1_HISTORY,
            curves=(Curve(LOC_STAGE1_HISTORY, "epoch", ("train_loss", "val_loss")),),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="loc_stage2",
            desc="Stage 2 from stage 1's weights: class-aware embeddings and the gated distance loss",
            run=_loc_stage2,
            deps=(LOC_FEATURES, LOC_STAGE1_MODEL),
            params=("localisation.scenes.categories", "localisation.data", "localisation.model", "localisation.stage2"),
            outs=(LOC_STAGE2_MODEL,),
            metrics=(LOC_STAGE2_SUMMARY,),
            plots=(LOC_STAGE2_HISTORY, LOC_STAGE2_CURVES),
            artifacts=(LOC_STAGE2_MODEL,),
            history=LOC_STAGE2_HISTORY,
            curves=(Curve(LOC_STAGE2_HISTORY, "epoch", ("train_loss", "val_loss")),),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="loc_evaluate",
            desc="Maps, cIoU@0.5 / mean cIoU / AUC in both conventions, multi-source cIoU, baselines, overlays",
            run=_loc_evaluate,
            deps=(LOC_FEATURES, LOC_STAGE2_MODEL),
            params=("localisation.scenes.categories", "localisation.data", "localisation.evaluate"),
            outs=(LOC_MAPS,),
            metrics=(LOC_METRICS,),
            plots=(LOC_OVERLAYS, LOC_SUCCESS),
        ),
    ),
)
