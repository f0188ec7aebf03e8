"""Evaluation of a trained ERFNet on a labelled split at the labels' full resolution (docs/methods.md#erfnet).

Each image's logits are bilinearly upsampled to its full-resolution trainId
map (``ds.read_train_ids(i)``) before the argmax, and one confusion matrix is
accumulated over the whole split (ignore pixels excluded): per-class IoU
TP / (TP + FP + FN), mIoU over the classes (the Cityscapes benchmark's
definition) and pixel accuracy. The model runs in eval mode (batch-norm
running statistics, no dropout), a fix of the original.

The stage scores the held-out ``seg.evaluate.split`` (``test``): the val split
chose the best epoch in training, so a score on it would be optimistic. The
metrics JSON holds the numbers DVC and MLflow show (mIoU and pixel accuracy
first); the per-class JSON keeps class (trainId) order everywhere: ``classes``,
the ``iou`` keys and the confusion matrix's rows and columns.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from tqdm import tqdm  # noqa: E402

from soundflow.devices import pick_device
from soundflow.io import atomic_path, write_json  # noqa: E402
from soundflow.metric_files import write_metrics  # noqa: E402
from tasks.segmentation.inference import load_checkpoint, predict_logits  # noqa: E402
from tasks.segmentation.iou import ConfusionMatrix  # noqa: E402
from tasks.segmentation.params import SegParams  # noqa: E402
from tasks.segmentation.splits import SELECTION_SPLIT, split_dataset  # noqa: E402

HEADLINES = ("miou", "pixel_accuracy")  # first in the metrics file: what the workflow's runs are judged by
DETAIL = ("split", "input_size", "classes", "iou", "confusion_matrix")  # the per-class file's keys, not metrics


def _none_if_nan(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def iou_bar_chart(iou: dict[str, float | None], path: Path, title: str) -> Path:
    """Horizontal bars of per-class IoU, best at the top; classes without pixels are marked n/a."""
    names = sorted(iou, key=lambda c: -1.0 if iou[c] is None else iou[c])
    values = [0.0 if iou[c] is None else iou[c] for c in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.8 + 0.32 * len(names)))
    ax.barh(range(len(names)), values, color="tab:blue")
    for i, c in enumerate(names):
        ax.text(values[i] + 0.01, i, "n/a" if iou[c] is None else f"{iou[c]:.3f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set(xlim=(0, 1.12), xlabel="IoU", title=title)
    ax.grid(axis="x", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def confusion_report(cm: ConfusionMatrix, classes: list[str]) -> dict:
    """mIoU, pixel accuracy, per-class IoU (None where a class is in neither truth nor prediction), the pixel
    count, the classes and the confusion matrix (rows truth, columns prediction), all in class order."""
    if len(classes) != cm.num_classes:
        raise ValueError(f"{len(classes)} class names for a {cm.num_classes}-class confusion matrix")
    return {
        "miou": _none_if_nan(cm.mean_iou()),
        "pixel_accuracy": _none_if_nan(cm.pixel_accuracy()),
        "iou": {c: _none_if_nan(v) for c, v in zip(classes, cm.iou_per_class())},
        "n_pixels": int(cm.matrix.sum()),
        "classes": list(classes),
        "confusion_matrix": cm.matrix.tolist(),
    }


def _per_class_table(matrix: np.ndarray, classes: list[str], iou: np.ndarray) -> pd.DataFrame:
    tp = np.diag(matrix)
    return pd.DataFrame(
        {
            "train_id": range(len(classes)),
            "class": classes,
            "iou": iou,
            "true_pixels": matrix.sum(1),
            "predicted_pixels": matrix.sum(0),
            "true_positives": tp,
            "false_positives": matrix.sum(0) - tp,
            "false_negatives": matrix.sum(1) - tp,
        }
    )


def _split_name(ds: Dataset) -> str:
    root, split = getattr(ds, "root", None), getattr(ds, "split", None)
    return f"split {split!r} of {root}" if root is not None and split is not None else "the evaluation split"


def evaluate(
    model_ckpt: Path,
    ds: Dataset,
    metrics_json: Path,
    per_class_json: Path,
    per_class_csv: Path,
    bar_png: Path,
    *,
    batch_size: int = 4,
    device: str = "auto",
    progress: bool = False,
) -> dict:
    """Per-class IoU, mIoU and pixel accuracy of ``model_ckpt`` on ``ds``; writes the metrics JSON (numbers),
    the per-class JSON (the split, classes, IoU and confusion matrix), a per-class CSV and a bar chart.

    ``ds`` yields ``(image, label)`` at the network's input size and has
    ``read_train_ids(i)``, the full-resolution trainId map of item ``i``
    (255 = ignore), against which the upsampled predictions are scored.
    """
    if len(ds) == 0:
        raise ValueError("the evaluation split is empty")
    dev = pick_device(device)
    model, ckpt = load_checkpoint(model_ckpt, dev)
    classes = list(ckpt["classes"])
    cm = ConfusionMatrix(len(classes))
    dl = DataLoader(ds, batch_size=batch_size, shuffle=False)
    i = 0
    for x, _ in tqdm(dl, desc="evaluate", disable=not progress, leave=False):
        labels = [torch.as_tensor(np.asarray(ds.read_train_ids(i + j)).astype(np.int64)) for j in range(len(x))]
        for logits, label in zip(predict_logits(model, x, dev, [tuple(t.shape) for t in labels]), labels):
            cm.update(logits.argmax(0), label.to(logits.device))
        i += len(x)

    if cm.matrix.sum() == 0:
        raise ValueError(
            f"{_split_name(ds)}: no labelled pixel in its {len(ds)} label maps (all 255 = ignore, as in the real "
            "Cityscapes test split, whose labels are withheld): evaluate a labelled split (seg.evaluate.split)"
        )
    report = confusion_report(cm, classes)
    result = {
        **{k: report.pop(k) for k in ("miou", "pixel_accuracy", "iou")},
        "split": getattr(ds, "split", None),
        "n_images": len(ds),
        **report,
        "checkpoint_best_epoch": ckpt.get("best_epoch"),
        "input_size": ckpt.get("input_size"),
    }
    write_metrics(metrics_json, {k: v for k, v in result.items() if k not in DETAIL}, first=HEADLINES)
    write_json(per_class_json, {k: result[k] for k in DETAIL}, sort_keys=False)  # class order, as the matrix
    with atomic_path(per_class_csv) as tmp:
        _per_class_table(cm.matrix, classes, cm.iou_per_class()).to_csv(tmp, index=False)
    miou = result["miou"]
    iou_bar_chart(
        result["iou"],
        bar_png,
        title=f"per-class IoU, {len(ds)} images: mIoU {'n/a' if miou is None else f'{miou:.3f}'}",
    )
    return result


def evaluate_split(
    model_ckpt: Path,
    data_root: Path,
    seg: SegParams,
    metrics_json: Path,
    per_class_json: Path,
    per_class_csv: Path,
    bar_png: Path,
) -> dict:
    """:func:`evaluate` on ``seg.evaluate.split`` of ``data_root``, on the training device; the headline printed."""
    split = seg.evaluate.split
    out = evaluate(
        model_ckpt,
        split_dataset(seg, data_root, split),
        metrics_json,
        per_class_json,
        per_class_csv,
        bar_png,
        batch_size=seg.predict.batch_size,
        device=seg.train.device,
    )
    note = " (it also chose the best epoch: optimistic)" if split == SELECTION_SPLIT else ""
    print(
        f"seg_evaluate: mIoU {out['miou']:.3f}, pixel accuracy {out['pixel_accuracy']:.3f} on the {split} split{note}"
    )
    return out
