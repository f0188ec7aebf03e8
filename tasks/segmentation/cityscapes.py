"""Cityscapes label definitions and a segmentation dataset over the Cityscapes folder layout.

The label table is the official one of cityscapesScripts (``helpers/labels.py``): every labelId
with its name, trainId, category and colour. Training uses the 19 standard trainIds; every other
labelId (void classes, parking, rail track, guard rail, bridge, tunnel, polegroup, caravan,
trailer, license plate) maps to the ignore index 255, which counts neither in the loss nor in IoU.

The dataset reads the layout of the real download (``leftImg8bit_trainvaltest.zip`` and
``gtFine_trainvaltest.zip`` unpacked side by side)::

    <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

and so does the procedural generator :mod:`tasks.procedural.street_scenes`, so the loader tested
offline is the one that reads real Cityscapes.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, get_worker_info

from tasks.features.frames import ImageError
from tasks.features.frames import load_image as decode_image

__all__ = [
    "ID_TO_COLOR",
    "IGNORE_INDEX",
    "LABELS",
    "LABEL_TO_TRAIN",
    "NUM_CLASSES",
    "TRAIN_CLASSES",
    "TRAIN_COLORS",
    "CityscapesSegmentation",
    "Label",
    "class_pixel_frequencies",
    "colorize",
    "enet_class_weights",
    "find_pairs",
    "label_ids_to_train_ids",
]

IGNORE_INDEX = 255

Label = namedtuple(
    "Label", ["name", "id", "train_id", "category", "category_id", "has_instances", "ignore_in_eval", "color"]
)

# fmt: off
LABELS: tuple[Label, ...] = (
    #      name                    id  trainId  category       catId  instances  ignoreInEval  colour
    Label("unlabeled",              0,  255, "void",          0, False, True,  (0, 0, 0)),
    Label("ego vehicle",            1,  255, "void",          0, False, True,  (0, 0, 0)),
    Label("rectification border",   2,  255, "void",          0, False, True,  (0, 0, 0)),
    Label("out of roi",             3,  255, "void",          0, False, True,  (0, 0, 0)),
    Label("static",                 4,  255, "void",          0, False, True,  (0, 0, 0)),
    Label("dynamic",                5,  255, "void",          0, False, True,  (111, 74, 0)),
    Label("ground",                 6,  255, "void",          0, False, True,  (81, 0, 81)),
    Label("road",                   7,    0, "flat",          1, False, False, (128, 64, 128)),
    Label("sidewalk",               8,    1, "flat",          1, False, False, (244, 35, 232)),
    Label("parking",                9,  255, "flat",          1, False, True,  (250, 170, 160)),
    Label("rail track",            10,  255, "flat",          1, False, True,  (230, 150, 140)),
    Label("building",              11,    2, "construction",  2, False, False, (70, 70, 70)),
    Label("wall",                  12,    3, "construction",  2, False, False, (102, 102, 156)),
    Label("fence",                 13,    4, "construction",  2, False, False, (190, 153, 153)),
    Label("guard rail",            14,  255, "construction",  2, False, True,  (180, 165, 180)),
    Label("bridge",                15,  255, "construction",  2, False, True,  (150, 100, 100)),
    Label("tunnel",                16,  255, "construction",  2, False, True,  (150, 120, 90)),
    Label("pole",                  17,    5, "object",        3, False, False, (153, 153, 153)),
    Label("polegroup",             18,  255, "object",        3, False, True,  (153, 153, 153)),
    Label("traffic light",         19,    6, "object",        3, False, False, (250, 170, 30)),
    Label("traffic sign",          20,    7, "object",        3, False, False, (220, 220, 0)),
    Label("vegetation",            21,    8, "nature",        4, False, False, (107, 142, 35)),
    Label("terrain",               22,    9, "nature",        4, False, False, (152, 251, 152)),
    Label("sky",                   23,   10, "sky",           5, False, False, (70, 130, 180)),
    Label("person",                24,   11, "human",         6, True,  False, (220, 20, 60)),
    Label("rider",                 25,   12, "human",         6, True,  False, (255, 0, 0)),
    Label("car",                   26,   13, "vehicle",       7, True,  False, (0, 0, 142)),
    Label("truck",                 27,   14, "vehicle",       7, True,  False, (0, 0, 70)),
    Label("bus",                   28,   15, "vehicle",       7, True,  False, (0, 60, 100)),
    Label("caravan",               29,  255, "vehicle",       7, True,  True,  (0, 0, 90)),
    Label("trailer",               30,  255, "vehicle",       7, True,  True,  (0, 0, 110)),
    Label("train",                 31,   16, "vehicle",       7, True,  False, (0, 80, 100)),
    Label("motorcycle",            32,   17, "vehicle",       7, True,  False, (0, 0, 230)),
    Label("bicycle",               33,   18, "vehicle",       7, True,  False, (119, 11, 32)),
    # never stored in labelId images (plates are annotated as part of their vehicle); trainId -1 upstream
    Label("license plate",         -1,   -1, "vehicle",       7, False, True,  (0, 0, 142)),
)
# fmt: on

NUM_CLASSES = 19

_TRAIN_LABELS = sorted((lab for lab in LABELS if 0 <= lab.train_id < IGNORE_INDEX), key=lambda lab: lab.train_id)
TRAIN_CLASSES: tuple[str, ...] = tuple(lab.name for lab in _TRAIN_LABELS)
TRAIN_COLORS: tuple[tuple[int, int, int], ...] = tuple(lab.color for lab in _TRAIN_LABELS)


def _label_to_train() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for lab in LABELS:
        if lab.id >= 0 and 0 <= lab.train_id < IGNORE_INDEX:
            lut[lab.id] = lab.train_id
    lut.setflags(write=False)
    return lut


def _id_to_color() -> np.ndarray:
    table = np.zeros((256, 3), dtype=np.uint8)
    for lab in LABELS:
        if lab.id >= 0:
            table[lab.id] = lab.color
    table.setflags(write=False)
    return table


LABEL_TO_TRAIN: np.ndarray = _label_to_train()
"""uint8[256]: labelId -> trainId (0..18), every other id -> 255 (read-only)."""

ID_TO_COLOR: np.ndarray = _id_to_color()
"""uint8[256, 3]: labelId -> the official colour of ``*_gtFine_color.png`` (unknown ids black)."""

_TRAIN_PALETTE = np.zeros((256, 3), dtype=np.uint8)
_TRAIN_PALETTE[:NUM_CLASSES] = TRAIN_COLORS
_TRAIN_PALETTE.setflags(write=False)

assert len(TRAIN_CLASSES) == NUM_CLASSES and TRAIN_CLASSES[0] == "road" and TRAIN_CLASSES[-1] == "bicycle"


def label_ids_to_train_ids(arr: np.ndarray | Sequence[Any]) -> np.ndarray:
    """Map an array of Cityscapes labelIds (0..255) to trainIds: uint8 of the same shape, ignore = 255."""
    a = np.asarray(arr)
    if a.dtype == np.uint8:
        return LABEL_TO_TRAIN[a]
    if a.dtype.kind not in "iu":
        raise ValueError(f"labelIds must be an integer array, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError(f"labelIds must lie in 0..255, got values in {a.min()}..{a.max()}")
    return LABEL_TO_TRAIN[a.astype(np.intp)]


def colorize(train_ids: np.ndarray | torch.Tensor) -> np.ndarray:
    """HxWx3 uint8 image of a trainId map in the official Cityscapes colours; ignore (and any id > 18) is black."""
    if isinstance(train_ids, torch.Tensor):
        train_ids = train_ids.detach().cpu().numpy()
    a = np.asarray(train_ids)
    if a.dtype.kind not in "iu":
        raise ValueError(f"train_ids must be an integer array, got dtype {a.dtype}")
    a = np.where((a < 0) | (a > 255), IGNORE_INDEX, a).astype(np.intp)
    return _TRAIN_PALETTE[a]


# --------------------------------------------------------------------------- #
# Files                                                                       #
# --------------------------------------------------------------------------- #

_IMG_SUFFIX = "_leftImg8bit.png"
_LABEL_SUFFIX = "_gtFine_labelIds.png"


def package_root(root: Path, folder: str) -> Path:
    """The folder holding ``folder`` (``leftImg8bit`` or ``gtFine``): ``root``, or its one sub-folder that holds it.

    The official packages unpacked side by side put both in ``root``; the dataset registry extracts each
    archive into its own folder (``root/leftImg8bit_trainvaltest/leftImg8bit/``,
    ``root/gtFine_trainvaltest/gtFine/``), so ``data/datasets/cityscapes`` is a root as it is.
    """
    if (root / folder).is_dir():
        return root
    below = [p.parent for p in sorted(root.glob(f"*/{folder}")) if p.is_dir()]
    return below[0] if len(below) == 1 else root


def find_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """Sorted ``(image, labelIds)`` path pairs of one split of a Cityscapes-layout folder.

    Images are ``root/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png``, their labels
    ``root/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png``; ``leftImg8bit/`` and ``gtFine/`` may also
    each sit one folder down (:func:`package_root`), as the dataset registry extracts the two packages.
    Labels that are all ignore (as those of the real test split) are fine; a missing label file is not.

    Raises:
        ValueError: if ``split`` is not a plain folder name.
        FileNotFoundError: naming the folder when the split's image folder is missing or holds no
            ``*_leftImg8bit.png``, or naming the image and the expected label path when a label is missing.
    """
    root = Path(root)
    if not isinstance(split, str) or not split or split in (".", "..") or "/" in split or "\\" in split:
        raise ValueError(f"split must be a folder name such as 'train', 'val' or 'test', got {split!r}")
    img_dir = package_root(root, "leftImg8bit") / "leftImg8bit" / split
    gt_dir = package_root(root, "gtFine") / "gtFine" / split
    if not img_dir.is_dir():
        raise FileNotFoundError(
            f"Cityscapes image folder {img_dir} does not exist (expected <root>/leftImg8bit/{split}/<city>/)"
        )
    images = sorted(p for p in img_dir.glob(f"*/*{_IMG_SUFFIX}") if p.is_file())
    if not images:
        raise FileNotFoundError(f"no *{_IMG_SUFFIX} images in {img_dir}/<city>/")
    pairs: list[tuple[Path, Path]] = []
    for img in images:
        stem = img.name[: -len(_IMG_SUFFIX)]
        lab = gt_dir / img.parent.name / f"{stem}{_LABEL_SUFFIX}"
        if not lab.is_file():
            raise FileNotFoundError(f"label file {lab} for image {img} is missing")
        pairs.append((img, lab))
    return pairs


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


# --------------------------------------------------------------------------- #
# Dataset                                                                     #
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# Class statistics                                                            #
# --------------------------------------------------------------------------- #


def class_pixel_frequencies(dataset: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Pixel frequency p_c of each trainId over the full-resolution labels of ``dataset``.

    ``dataset`` needs ``len()`` and ``read_train_ids(i)`` (as :class:`CityscapesSegmentation`).
    Ignored pixels (255, and any id >= ``num_classes``) are left out, so the result sums to 1 over
    the labelled pixels.

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
