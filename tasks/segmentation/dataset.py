"""The segmentation workflow's training data: a Cityscapes-layout folder as ``(image, label)`` tensors.

The format (label table, file pairing) is :mod:`tasks.datasets.cityscapes`; this module decodes, resizes
and augments the pairs for ERFNet (Romera et al., 2018).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, get_worker_info

from tasks.datasets.cityscapes import LABEL_TO_TRAIN, TRAIN_CLASSES, find_pairs
from tasks.features.frames import ImageError
from tasks.features.frames import load_image as decode_image

__all__ = ["CityscapesSegmentation"]


def _read_label_ids(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16", "I;16B"):
                raise ImageError(path, f"a labelIds PNG must be single-channel, got PIL mode {im.mode!r}")
            arr = np.asarray(im)  # a palette ("P") image gives its indices, which are the ids
    except ImageError:
        raise
    except Exception as err:  # PIL reports truncated or unknown files with several exception types
        raise ImageError(path, f"cannot decode labelIds image ({type(err).__name__}: {err})") from None
    if arr.ndim != 2 or arr.size == 0:
        raise ImageError(path, f"a labelIds PNG must be a non-empty single-channel image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise ImageError(path, "labelIds outside 0..255")
        arr = arr.astype(np.uint8)
    return arr


class CityscapesSegmentation(Dataset):
    """One split of a Cityscapes-layout folder as ``(image, label)`` tensors.

    ``image`` is float32 3xHxW, bilinearly resized to ``size`` = (height, width) and scaled to
    [-1, 1] (``x / 127.5 - 1``; docs/methods.md#erfnet allows it or ImageNet normalisation).
    ``label`` is int64 HxW of trainIds 0..18 with 255 = ignore, resized with nearest neighbour so no
    ids are interpolated.

    With ``augment``: horizontal flip with p = 0.5 (image and label together), contrast by a factor
    uniform in [0.95, 1.05] around the image's mean grey, then brightness + uniform(-0.08, 0.08) in
    [0, 1] image units, clipped to [0, 1] before scaling. The draws for item ``i`` come from
    ``np.random.default_rng([seed, i, k, w])`` where ``k`` counts how often this copy of the dataset
    has served item ``i`` (so every epoch draws anew) and ``w`` is the DataLoader worker's seed (0
    in the main process; it is derived from the loader's generator, so seeded loaders reproduce).
    The same seed and the same access sequence therefore give the same tensors.

    Attributes:
        paths: the sorted ``(image, labelIds)`` pairs from :func:`find_pairs`.
        classes: the 19 trainId class names.
    """

    classes: tuple[str, ...] = TRAIN_CLASSES

    def __init__(
        self,
        root: Path,
        split: str,
        size: tuple[int, int] = (512, 1024),
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        try:
            h, w = (int(s) for s in size)
        except (TypeError, ValueError):
            raise ValueError(f"size must be a pair (height, width), got {size!r}") from None
        if h < 1 or w < 1 or (h, w) != tuple(size):
            raise ValueError(f"size must be a pair of positive integers (height, width), got {size!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.root = Path(root)
        self.split = split
        self.size = (h, w)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.paths: list[tuple[Path, Path]] = find_pairs(self.root, split)
        self._draws = np.zeros(len(self.paths), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.paths)

    def read_train_ids(self, i: int) -> np.ndarray:
        """Full-resolution trainId map (uint8 HxW, ignore = 255) of item ``i``."""
        return LABEL_TO_TRAIN[_read_label_ids(self.paths[i][1])]

    def _rng(self, i: int) -> np.random.Generator:
        info = get_worker_info()
        worker_seed = 0 if info is None else int(info.seed) % (2**63)
        k = int(self._draws[i])
        self._draws[i] += 1
        return np.random.default_rng([self.seed, i, k, worker_seed])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        i = int(i) % len(self)
        img_path, lab_path = self.paths[i]
        h, w = self.size
        rgb = Image.fromarray(decode_image(img_path))
        ids = _read_label_ids(lab_path)
        if ids.shape != (rgb.height, rgb.width):
            raise ImageError(
                lab_path, f"is {ids.shape[1]}x{ids.shape[0]} but its image {img_path} is {rgb.width}x{rgb.height}"
            )
        img = np.asarray(rgb.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0
        lab = np.asarray(Image.fromarray(LABEL_TO_TRAIN[ids]).resize((w, h), Image.NEAREST))
        if self.augment:
            rng = self._rng(i)
            flip = rng.random() < 0.5
            contrast = rng.uniform(0.95, 1.05)
            brightness = rng.uniform(-0.08, 0.08)
            if flip:
                img = img[:, ::-1]
                lab = lab[:, ::-1]
            grey = float(np.mean(img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)))
            img = np.clip((img - grey) * contrast + grey + brightness, 0.0, 1.0)
        x = torch.from_numpy(np.ascontiguousarray(img * 2.0 - 1.0, dtype=np.float32)).permute(2, 0, 1).contiguous()
        y = torch.from_numpy(np.ascontiguousarray(lab).astype(np.int64))
        return x, y
