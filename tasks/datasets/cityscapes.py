"""The Cityscapes format (Cordts et al., CVPR 2016): the label table and the folder layout.

The label table is the official one of cityscapesScripts (``helpers/labels.py``): every labelId
with its name, trainId, category and colour. Training uses the 19 standard trainIds; every other
labelId (void classes, parking, rail track, guard rail, bridge, tunnel, polegroup, caravan,
trailer, license plate) maps to the ignore index 255, which counts neither in the loss nor in IoU.

The layout is that of the real download (``leftImg8bit_trainvaltest.zip`` and
``gtFine_trainvaltest.zip`` unpacked side by side)::

    <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

Every reader and writer of the format uses this module: the segmentation workflow's dataset
(:mod:`tasks.segmentation.dataset`), the image feature sets (:mod:`tasks.features.sets`), the
soundscapes' class names (:mod:`tasks.soundscapes.synthesis`) and the procedural generator
(:mod:`tasks.procedural.street_scenes`), so the loader tested offline is the one that reads real
Cityscapes. Its download recipe is :mod:`tasks.datasets.corpora.cityscapes`.

Citation: M. Cordts, M. Omran, S. Ramos, T. Rehfeld, M. Enzweiler, R. Benenson, U. Franke, S. Roth,
B. Schiele. The Cityscapes Dataset for Semantic Urban Scene Understanding. CVPR 2016.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ID_TO_COLOR",
    "IGNORE_INDEX",
    "IMAGE_SUFFIX",
    "LABELS",
    "LABEL_SUFFIX",
    "LABEL_TO_TRAIN",
    "NUM_CLASSES",
    "TRAIN_CLASSES",
    "TRAIN_COLORS",
    "Label",
    "colorize",
    "find_pairs",
    "label_ids_to_train_ids",
    "package_root",
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


def colorize(train_ids: Any) -> np.ndarray:
    """HxWx3 uint8 image of a trainId map (array or torch tensor) in the official Cityscapes colours; ignore
    (and any id > 18) is black."""
    if hasattr(train_ids, "detach"):  # a torch tensor, on any device; the format itself needs no torch
        train_ids = train_ids.detach().cpu().numpy()
    a = np.asarray(train_ids)
    if a.dtype.kind not in "iu":
        raise ValueError(f"train_ids must be an integer array, got dtype {a.dtype}")
    a = np.where((a < 0) | (a > 255), IGNORE_INDEX, a).astype(np.intp)
    return _TRAIN_PALETTE[a]


# --------------------------------------------------------------------------- #
# Files                                                                       #
# --------------------------------------------------------------------------- #

IMAGE_SUFFIX = "_leftImg8bit.png"  # <city>_<seq>_<frame> + suffix, in leftImg8bit/<split>/<city>/
LABEL_SUFFIX = "_gtFine_labelIds.png"  # the same stem, in gtFine/<split>/<city>/


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
    images = sorted(p for p in img_dir.glob(f"*/*{IMAGE_SUFFIX}") if p.is_file())
    if not images:
        raise FileNotFoundError(f"no *{IMAGE_SUFFIX} images in {img_dir}/<city>/")
    pairs: list[tuple[Path, Path]] = []
    for img in images:
        stem = img.name[: -len(IMAGE_SUFFIX)]
        lab = gt_dir / img.parent.name / f"{stem}{LABEL_SUFFIX}"
        if not lab.is_file():
            raise FileNotFoundError(f"label file {lab} for image {img} is missing")
        pairs.append((img, lab))
    return pairs
