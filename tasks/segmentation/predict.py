"""Segmentation of a folder of images with a trained ERFNet (Romera et al., 2018; docs/methods.md#erfnet).

Every ``*.<image_type>`` under ``images_dir`` (recursively) is read with PIL as
RGB, resized bilinearly to the network's input ``size`` and scaled to [-1, 1];
the logits are bilinearly upsampled back to the image's own resolution before
the argmax. Per image, in ``out_dir`` (mirroring the image's sub-folder):

- ``<stem>_labels.png``: the trainId map (uint8, 0..num_classes-1) at the original resolution;
- ``<stem>_pred.jpg``: a colour overlay, 50 % image + 50 % Cityscapes colours of the prediction;

and ``out_dir/fractions.csv`` has one row per image: its path and the pixel
fraction of every class (the input of the soundscape synthesis).

An image that cannot be decoded (truncated, not an image, empty) is skipped: ``out_dir/skipped.csv`` lists
each with its problem (``path, reason``, as the feature stores do) and the others are segmented; when no
image is usable the run fails with one sentence naming the first.
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
from soundflow.inputs import InputError, SkipList
from soundflow.io import atomic_path
from tasks.features.frames import load_image as decode_image
from tasks.segmentation.inference import load_checkpoint, predict_logits
from tasks.segmentation.params import SegParams

SKIPPED = "skipped.csv"


def load_image(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, torch.Tensor]:
    """(original RGB uint8 HxWx3, network input float32 3 x size[0] x size[1] in [-1, 1]).

    Raises :class:`~tasks.features.frames.ImageError` naming the file for a missing, empty or broken image."""
    rgb = np.asarray(decode_image(path), dtype=np.uint8)
    return rgb, network_input(rgb, size)


def network_input(rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """An RGB uint8 HxWx3 image as the network's input: resized bilinearly to ``size``, scaled to [-1, 1]."""
    h, w = size
    resized = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR), dtype=np.float32)
    return torch.from_numpy(resized / 127.5 - 1.0).permute(2, 0, 1).contiguous()


def label_maps(
    model: torch.nn.Module, images: list[np.ndarray], size: tuple[int, int], device: torch.device
) -> list[np.ndarray]:
    """The trainId map (uint8, at each image's own resolution) of each RGB uint8 image, as the folder's are made."""
    x = torch.stack([network_input(rgb, size) for rgb in images])
    logits = predict_logits(model, x, device, [rgb.shape[:2] for rgb in images])
    return [t.argmax(0).to(torch.uint8).cpu().numpy() for t in logits]


def image_files(images_dir: Path, suffix: str) -> list[Path]:
    """Every ``*.<suffix>`` file under ``images_dir``; InputError for a missing folder or none found."""
    if not images_dir.exists():
        raise InputError(images_dir, "no such folder")
    if not images_dir.is_dir():
        raise InputError(images_dir, "is not a folder (give the folder of the images)")
    files = sorted(p for p in images_dir.rglob(f"*.{suffix}") if p.is_file())
    if not files:
        raise InputError(images_dir, f"no *.{suffix} image in this folder or below it")
    return files


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


def write_skipped(skips: SkipList, path: Path) -> None:
    """``skipped.csv``: ``path, reason`` of every image skipped (the header alone when none was)."""
    table = pd.DataFrame([(e.path, e.problem) for e in skips.errors], columns=["path", "reason"])
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def _loaded(files: list[Path], size: tuple[int, int], skips: SkipList) -> list[tuple[Path, np.ndarray, torch.Tensor]]:
    out = []
    for path in files:
        item = skips.attempt(lambda path=path: load_image(path, size))
        if item is not None:
            out.append((path, *item))
    return out


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
    skips: SkipList | None = None,
) -> pd.DataFrame:
    """Segment every image under ``images_dir``: label maps, overlays, ``fractions.csv`` and ``skipped.csv``;
    returns the fractions. Unusable images are recorded in ``skips`` (NoUsableInput when all are)."""
    from tasks.datasets.cityscapes import colorize

    images_dir, out_dir = Path(images_dir), Path(out_dir)
    h, w = size
    if h % 8 or w % 8:
        raise ValueError(f"input size {h}x{w}: ERFNet needs sides that are multiples of 8")
    files = image_files(images_dir, image_type.lstrip("."))
    skips = skips if skips is not None else SkipList("images")
    dev = pick_device(device)
    model, ckpt = load_checkpoint(model_ckpt, dev)
    classes = list(ckpt["classes"])
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for start in tqdm(range(0, len(files), batch_size), desc="segment", disable=not progress, leave=False):
        loaded = _loaded(files[start : start + batch_size], (h, w), skips)
        if not loaded:
            continue
        x = torch.stack([t for _, _, t in loaded])
        sizes = [rgb.shape[:2] for _, rgb, _ in loaded]
        for (path, rgb, _), logits in zip(loaded, predict_logits(model, x, dev, sizes)):
            pred = logits.argmax(0).to(torch.uint8).cpu().numpy()
            dest = out_dir / path.parent.relative_to(images_dir)
            _save_image(pred, dest / f"{path.stem}_labels.png", "PNG")
            _save_image(overlay(rgb, colorize(pred)), dest / f"{path.stem}_pred.jpg", "JPEG", quality=90)
            rows.append({"image": str(path), **class_fractions(pred, classes)})
    skips.check()  # no image usable: one sentence, nothing written
    elapsed = time.perf_counter() - t0
    print(f"segmented {len(rows)} image(s) in {elapsed:.2f} s ({elapsed / len(rows):.3f} s/image, {dev.type})")
    write_skipped(skips, out_dir / SKIPPED)
    return write_fractions(rows, classes, out_dir / "fractions.csv")


def predict_test_images(
    model_ckpt: Path, images_dir: Path, out_dir: Path, seg: SegParams, *, root: Path
) -> pd.DataFrame:
    """:func:`predict_folder` with the ``seg`` parameters (the training size and device); a count printed.

    ``root`` is the project root: the output folder is named relative to it in the message.
    """
    q, skips = seg.predict, SkipList("images")
    table = predict_folder(
        model_ckpt,
        images_dir,
        out_dir,
        image_type=q.image_type,
        size=seg.data.image_size,
        batch_size=q.batch_size,
        device=seg.train.device,
        skips=skips,
    )
    print(f"seg_predict: {len(table)} image(s) segmented into {os.path.relpath(out_dir, root)}")
    for line in skips.lines():
        print(f"seg_predict: {line}" if not line.startswith(" ") else line)
    return table
