"""Workflow 1, image to soundscape: ERFNet segmentation of street images (Romera et al., 2018), then Scaper
soundscapes of the classes found (Salamon et al., 2017).

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from soundflow.env import STATE_DIR
from soundflow.pipeline.stage import Curve, Stage, Workflow
from tasks.segmentation.params import SegParams
from tasks.soundscapes.params import SoundscapesParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

SEG_WEIGHTS = "reports/seg/class_weights.json"
SEG_MODEL = "outputs/seg/erfnet.pt"
SEG_TRAIN_SUMMARY = "reports/seg/train.json"
SEG_HISTORY = "reports/seg/train_history.csv"
SEG_CURVES = "reports/seg/training_curves.png"
SEG_METRICS = "reports/seg/metrics.json"
SEG_PER_CLASS = "reports/seg/per_class.json"  # the split, per-class IoU and the confusion matrix: not metrics
SEG_IOU_TABLE = "reports/seg/iou_per_class.csv"
SEG_IOU_PLOT = "reports/seg/iou_per_class.png"
SEG_PREDICTIONS = "outputs/seg/predictions"
SEG_FRACTIONS = "outputs/seg/predictions/fractions.csv"
SOUNDSCAPES = "data/soundscapes"


def _seg_class_weights(p: ParamsView, root: Path) -> object:
    from tasks.segmentation.weights import class_weights_report

    return class_weights_report(p.seg, root / p.seg.data.root, root / SEG_WEIGHTS)


def _seg_train(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.segmentation.train import train_from_weights

    files = FitFiles.under(root, f"{STATE_DIR}/seg_train", SEG_MODEL, SEG_HISTORY, SEG_TRAIN_SUMMARY)
    # the generator's parameters stand for the generated images' content in the resume fingerprint
    identity = p.data.street_scenes.model_dump()
    return train_from_weights(
        root / SEG_WEIGHTS, root / p.seg.data.root, p.seg, files, root / SEG_CURVES, data_identity=identity
    )


def _seg_evaluate(p: ParamsView, root: Path) -> object:
    from tasks.segmentation.evaluate import evaluate_split

    return evaluate_split(
        root / SEG_MODEL,
        root / p.seg.data.root,
        p.seg,
        root / SEG_METRICS,
        root / SEG_PER_CLASS,
        root / SEG_IOU_TABLE,
        root / SEG_IOU_PLOT,
    )


def _seg_predict(p: ParamsView, root: Path) -> object:
    from tasks.segmentation.predict import predict_test_images

    return predict_test_images(root / SEG_MODEL, root / p.seg.predict.images, root / SEG_PREDICTIONS, p.seg, root=root)


def _soundscapes(p: ParamsView, root: Path) -> object:
    from tasks.soundscapes.report import synthesize_and_report

    q = p.soundscapes
    return synthesize_and_report(
        root / SEG_FRACTIONS, root / q.mapping, root / q.library, root / SOUNDSCAPES, q.synthesis, root=root
    )


WORKFLOW = Workflow(
    name="image_to_soundscape",
    doc="Workflow 1: street images -> ERFNet segmentation (train, evaluate, predict) -> Scaper soundscapes",
    sections={"seg": SegParams, "soundscapes": SoundscapesParams},
    headline="miou",
    headlines={"mIoU": "miou", "pixel_accuracy": "pixel_accuracy"},
    results=SEG_METRICS,
    stages=(
        Stage(
            name="seg_class_weights",
            desc="Class pixel frequencies of the training labels and weights 1/ln(c + p)",
            run=_seg_class_weights,
            deps=("${seg.data.root}",),
            params=("seg.data.root", "seg.data.image_size", "seg.train.class_weight_c", "seg.train.seed"),
            outs=(),
            plots=(SEG_WEIGHTS,),  # a per-class table that seg_train reads: an output, not a metric
        ),
        Stage(
            name="seg_train",
            desc="Train ERFNet (AdamW, poly LR, weighted cross-entropy, best val mIoU kept by copy)",
            run=_seg_train,
            deps=("${seg.data.root}", SEG_WEIGHTS),
            params=("seg.data", "seg.train", "data.street_scenes"),  # the generator stands for the images
            outs=(SEG_MODEL,),
            metrics=(SEG_TRAIN_SUMMARY,),
            plots=(SEG_HISTORY, SEG_CURVES),
            artifacts=(SEG_MODEL,),
            history=SEG_HISTORY,
            curves=(Curve(SEG_HISTORY, "epoch", ("train_loss", "val_miou", "val_pixel_accuracy")),),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="seg_evaluate",
            desc="Per-class IoU, mIoU and pixel accuracy on the held-out test split (one confusion matrix)",
            run=_seg_evaluate,
            deps=("${seg.data.root}", SEG_MODEL),
            params=("seg.data", "seg.evaluate", "seg.predict.batch_size", "seg.train.device", "seg.train.seed"),
            outs=(),
            metrics=(SEG_METRICS,),
            plots=(SEG_PER_CLASS, SEG_IOU_TABLE, SEG_IOU_PLOT),
        ),
        Stage(
            name="seg_predict",
            desc="Label maps, colour overlays and class pixel fractions for every test image",
            run=_seg_predict,
            deps=("${seg.predict.images}", SEG_MODEL),
            params=("seg.data.image_size", "seg.predict", "seg.train.device"),
            outs=(SEG_PREDICTIONS,),
        ),
        Stage(
            name="soundscapes",
            desc="Scaper soundscapes per segmented image: background = dominant mapped class, foreground = the others",
            run=_soundscapes,
            deps=(SEG_FRACTIONS, "${soundscapes.mapping}", "${soundscapes.library}"),
            params=("soundscapes",),
            outs=(SOUNDSCAPES,),
        ),
    ),
)
