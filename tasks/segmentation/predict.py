"""Segmentation of a folder of images with a trained ERFNet (Romera et al., 2018; docs/methods.md#erfnet).

Every ``*.<image_type>`` under ``images_dir`` (recursively) is read with PIL as
RGB, resized bilinearly to the network's input ``size`` and scaled to [-1, 1];
the logits are bilinearly upsampled back to the image's own resolution before
the argmax. Per image, in ``out_dir`` (mirroring the image's sub-folder):

- ``<stem>_labels.png``: the trainId map (uint8, 0..num_classes-1) at the original resolution;
- ``<stem>_pred.jpg``: a colour overlay, 50 % image + 50 % Cityscapes colours of the prediction;

and ``out_dir/fractions.csv`` has one row per image: its path and the pixel
fraction of every class (the input of the soundscape synthesis).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from soundflow.devices import pick_device
from soundflow.io import atomic_path
from tasks.segmentation.inference import load_checkpoint, predict_logits
from tasks.segmentation.params import SegParams


def load_image(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, torch.Tensor]:
    """(original RGB uint8 HxWx3, network input float32 3 x size[0] x size[1] in [-1, 1])."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    h, w = size
    resized = np.asarray(rgb.resize((w, h), Image.BILINEAR), dtype=np.float32)
    x = torch.from_numpy(resized / 127.5 - 1.0).permute(2, 0, 1).contiguous()
    return np.asarray(rgb, dtype=np.uint8), x


def overlay(rgb: np.ndarray, colours: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``alpha`` of the colour map blended over the image (both HxWx3 uint8)."""
    blend = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours.astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def class_fractions(labels: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Fraction of the map's pixels that each class covers (trainIds 0..len(classes)-1; any other id, such as
    a ground truth's ignore 255, counts in the total only): a row of ``fractions.csv``."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or labels.size == 0:
        raise ValueError(f"a label map must be a non-empty integer array, got dtype {labels.dtype}, {labels.size} px")
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=len(classes))[: len(classes)]
    return {c: float(n) / labels.size for c, n in zip(classes, counts)}


def write_fractions(rows: list[dict[str, object]], classes: list[str], path: Path) -> pd.DataFrame:
    """``fractions.csv``, the soundscape synthesis' input: one row per image, its path then each class' fraction."""
    table = pd.DataFrame(rows, columns=["image", *classes])
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


def _save_image(arr: np.ndarray, path: Path, fmt: str, **kw: object) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format=fmt, **kw)


def predict_folder(
    model_ckpt: Path,
    images_dir: Path,
    out_dir: Path,
    *,
    image_type: str = "png",
    size: tuple[int, int],
    batch_size: int = 4,
    device: str = "auto",
    progress: bool = False,
) -> pd.DataFrame:
    """Segment every image under ``images_dir``: label maps, overlays and ``fractions.csv``; returns the fractions."""
    from tasks.segmentation.cityscapes import colorize

    images_dir, out_dir = Path(images_dir), Path(out_dir)
    h, w = size
    if h % 8 or w % 8:
        raise ValueError(f"input size {h}x{w}: ERFNet needs sides that are multiples of 8")
    suffix = image_type.lstrip(".")
    files = sorted(p for p in images_dir.rglob(f"*.{suffix}") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.{suffix} image under {images_dir}")
    dev = pick_device(device)
    model, ckpt = load_checkpoint(model_ckpt, dev)
    classes = list(ckpt["classes"])
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for start in tqdm(range(0, len(files), batch_size), desc="segment", disable=not progress, leave=False):
        batch = files[start : start + batch_size]
        loaded = [load_image(p, (h, w)) for p in batch]
        x = torch.stack([t for _, t in loaded])
        sizes = [rgb.shape[:2] for rgb, _ in loaded]
        for path, (rgb, _), logits in zip(batch, loaded, predict_logits(model, x, dev, sizes)):
            pred = logits.argmax(0).to(torch.uint8).cpu().numpy()
            dest = out_dir / path.parent.relative_to(images_dir)
            _save_image(pred, dest / f"{path.stem}_labels.png", "PNG")
            _save_image(overlay(rgb, colorize(pred)), dest / f"{path.stem}_pred.jpg", "JPEG", quality=90)
            rows.append({"image": str(path), **class_fractions(pred, classes)})
    elapsed = time.perf_counter() - t0
    print(f"segmented {len(files)} image(s) in {elapsed:.2f} s ({elapsed / len(files):.3f} s/image, {dev.type})")
    return write_fractions(rows, classes, out_dir / "fractions.csv")


def predict_test_images(
    model_ckpt: Path, images_dir: Path, out_dir: Path, seg: SegParams, *, root: Path
) -> pd.DataFrame:
    """:func:`predict_folder` with the ``seg`` parameters (the training size and device); a count printed.

    ``root`` is the project root: the output folder is named relative to it in the message.
    """
    q = seg.predict
    table = predict_folder(
        model_ckpt,
        images_dir,
        out_dir,
        image_type=q.image_type,
        size=seg.data.image_size,
        batch_size=q.batch_size,
        device=seg.train.device,
    )
    print(f"seg_predict: {len(table)} image(s) segmented into {os.path.relpath(out_dir, root)}")
    return table
