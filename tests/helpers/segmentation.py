"""Segmentation at test size: ``seg`` parameters and Cityscapes-layout folders written from label maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tasks.segmentation.params import SegParams


def seg_params(**train: Any) -> SegParams:
    """Test-size ``seg`` parameters, on the CPU; ``train`` overrides ``seg.train`` values.

    The data root in them is a placeholder: the tasks take the data folder apart, resolved.
    """
    t = dict(epochs=1, batch_size=2, lr=1e-3, weight_decay=1e-4, poly_power=0.9, class_weight_c=1.1)
    return SegParams.model_validate(
        {
            "data": {"root": "scenes", "image_size": [16, 32]},
            "train": {**t, "num_workers": 0, "device": "cpu", "seed": 0, **train},
            "predict": {"images": "scenes/leftImg8bit/test", "image_type": "png", "batch_size": 2},
        }
    )


def frame_params(root: Path, size: tuple[int, int] = (128, 256)) -> SegParams:
    """:func:`seg_params` reading ``root`` at the network size ``size`` (height, width): a real frame's own size
    (the labelled Cityscapes frame in ../shared is 128 x 256), so the loader resizes nothing."""
    raw = seg_params().model_dump()
    raw["data"] = {"root": str(root), "image_size": list(size)}
    return SegParams.model_validate(raw)


def write_split(root: Path, split: str, label_ids: list[np.ndarray]) -> None:
    """Cityscapes-layout pairs under ``root``: a grey image and the given labelIds map for each."""
    for k, ids in enumerate(label_ids):
        for kind, suffix, arr in (
            ("leftImg8bit", "leftImg8bit", np.full((*ids.shape, 3), 128, np.uint8)),
            ("gtFine", "gtFine_labelIds", ids.astype(np.uint8)),
        ):
            out = root / kind / split / "city" / f"city_{k:06d}_000019_{suffix}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(out)


def write_pair(root: Path, split: str, city: str, stem: str, rgb: np.ndarray, ids: np.ndarray | None) -> Path:
    """One Cityscapes-layout pair under ``root`` (no label file when ``ids`` is None); returns the image path."""
    img_dir = root / "leftImg8bit" / split / city
    gt_dir = root / "gtFine" / split / city
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    img = img_dir / f"{stem}_leftImg8bit.png"
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(img)
    if ids is not None:
        Image.fromarray(ids.astype(np.uint8), "L").save(gt_dir / f"{stem}_gtFine_labelIds.png")
    return img
