"""The ``seg_class_weights`` stage's work: class pixel frequencies of the training labels and their weights.

Kept in a file of its own (a metrics JSON) rather than computed inside training, so that the weights are
inspectable, tracked as metrics, and computed once for every training run on the same labels.
"""

from __future__ import annotations

from pathlib import Path

from soundflow.io import write_json
from tasks.segmentation.cityscapes import TRAIN_CLASSES, class_pixel_frequencies, enet_class_weights
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
