"""The Cityscapes-layout splits the segmentation stages read, all built alike from the ``seg`` parameters.

One place decides that every split is resized to ``seg.data.image_size`` and that augmentation draws
from ``seg.train.seed``, so the class weights, training and evaluation see the same data.
"""

from __future__ import annotations

from pathlib import Path

from tasks.segmentation.dataset import CityscapesSegmentation
from tasks.segmentation.params import SegParams

SELECTION_SPLIT = "val"  # training keeps the epoch of best mIoU on it; seg_evaluate scores seg.evaluate.split


def split_dataset(seg: SegParams, data_root: Path, split: str, augment: bool = False) -> CityscapesSegmentation:
    """Split ``split`` (train, val, test) of the Cityscapes-layout folder ``data_root``."""
    return CityscapesSegmentation(data_root, split, size=seg.data.image_size, augment=augment, seed=seg.train.seed)
