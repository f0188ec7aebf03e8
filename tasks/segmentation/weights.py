"""The ``seg_class_weights`` stage's work: class pixel frequencies of the training labels and their weights.

Kept in a file of its own (a metrics JSON) rather than computed inside training, so that the weights are
inspectable, tracked as metrics, and computed once for every training run on the same labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from soundflow.io import write_json
from tasks.datasets.cityscapes import NUM_CLASSES, TRAIN_CLASSES
from tasks.segmentation.params import SegParams
from tasks.segmentation.splits import split_dataset


def class_weights_report(seg: SegParams, data_root: Path, out_json: Path) -> Path:
    """Pixel frequency p_c of each train class over the train split of ``data_root``, and w_c = 1 / ln(c + p_c).

    ``c`` is ``seg.train.class_weight_c``. Writes ``{"frequency": {class: p_c}, "weight": {class: w_c}}``
    (keyed by class name, in trainId order as every file of ``reports/seg``) and returns ``out_json``.
    """
    freq = class_pixel_frequencies(split_dataset(seg, data_root, "train"))
    weights = enet_class_weights(freq, seg.train.class_weight_c)
    print("class weights: " + ", ".join(f"{c} {w:.2f}" for c, w in zip(TRAIN_CLASSES, weights)))
    return write_json(
        out_json,
        {
            "frequency": dict(zip(TRAIN_CLASSES, map(float, freq))),
            "weight": dict(zip(TRAIN_CLASSES, map(float, weights))),
        },
        sort_keys=False,
    )


def class_pixel_frequencies(dataset: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Pixel frequency p_c of each trainId over the full-resolution labels of ``dataset``.

    ``dataset`` needs ``len()`` and ``read_train_ids(i)`` (as
    :class:`~tasks.segmentation.dataset.CityscapesSegmentation`). Ignored pixels (255, and any id >=
    ``num_classes``) are left out, so the result sums to 1 over the labelled pixels.

    Raises:
        ValueError: if the dataset has no labelled pixel at all.
    """
    counts = np.zeros(256, dtype=np.int64)
    for i in range(len(dataset)):
        counts += np.bincount(np.asarray(dataset.read_train_ids(i), dtype=np.uint8).ravel(), minlength=256)
    counts = counts[:num_classes]
    total = int(counts.sum())
    if total == 0:
        raise ValueError("the dataset has no labelled (non-ignore) pixel; cannot compute class frequencies")
    return counts / total


def enet_class_weights(freq: np.ndarray | Sequence[float], c: float = 1.1) -> np.ndarray:
    """ENet/ERFNet class weights w_c = 1 / ln(c + p_c) for class frequencies ``freq`` (float64).

    With c = 1.1 the weights lie between 1 / ln(2.1) = 1.35 (a class covering everything) and
    1 / ln(1.1) = 10.49 (an absent class).
    """
    p = np.asarray(freq, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"freq must be a non-empty 1-D array of class frequencies, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("freq must hold frequencies in [0, 1]")
    if not (np.isfinite(c) and c > 1.0):
        raise ValueError(f"c must be > 1 so that ln(c + p) > 0, got {c!r}")
    return 1.0 / np.log(c + p)
