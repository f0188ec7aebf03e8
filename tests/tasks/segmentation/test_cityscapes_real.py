"""The Cityscapes label pipeline on a real frame: frankfurt_000000_000294 (val, 256 x 128) from ../shared.

The frame is read by the loader every segmentation stage uses (:func:`tasks.segmentation.splits.split_dataset`
over the Cityscapes layout), its ``gtFine_labelIds`` converted to trainIds by the label table, and compared
with the ``gtFine_labelTrainIds`` shipped beside it. They differ on 77 pixels, all on class boundaries, 71
of them taking the class of the pixel above: the shipped map is the same annotation resampled separately
(at a slightly higher sampling point; benchmarks/real/cityscapes_frame.py measures it). At full resolution
cityscapesScripts draws both maps from the same polygons, so trainIds = LUT(labelIds) holds by construction;
the conversion is right for this labelIds file, which also agrees with its instanceIds on every pixel.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from soundflow.io import write_json
from tasks.datasets.cityscapes import IGNORE_INDEX, LABEL_TO_TRAIN, NUM_CLASSES, TRAIN_CLASSES
from tasks.segmentation.evaluate import confusion_report
from tasks.segmentation.iou import ConfusionMatrix
from tasks.segmentation.splits import split_dataset
from tests.helpers.paths import CITYSCAPES_REAL, CITYSCAPES_STEM
from tests.helpers.segmentation import frame_params

STEM = CITYSCAPES_STEM
GT = CITYSCAPES_REAL / "gtFine" / "val" / "frankfurt"

pytestmark = pytest.mark.skipif(not (GT / f"{STEM}_gtFine_labelIds.png").is_file(), reason=f"{GT} not present")

PRESENT = {"road", "sidewalk", "building", "fence", "pole", "traffic sign", "vegetation", "sky", "person", "car"}


def _png(name: str) -> np.ndarray:
    with Image.open(GT / f"{STEM}_gtFine_{name}.png") as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def train_ids() -> np.ndarray:
    val = split_dataset(frame_params(CITYSCAPES_REAL), CITYSCAPES_REAL, "val")
    assert [img.name for img, _ in val.paths] == [f"{STEM}_leftImg8bit.png"]
    image, label = val[0]
    assert image.shape == (3, 128, 256) and -1 <= image.min() < image.max() <= 1
    ids = val.read_train_ids(0)
    assert np.array_equal(label.numpy(), ids)  # the network-size label is the full-resolution one here
    return ids


def test_converted_train_ids_differ_from_the_shipped_ones_on_77_boundary_pixels(train_ids: np.ndarray) -> None:
    label_ids, shipped = _png("labelIds"), _png("labelTrainIds")
    assert np.array_equal(train_ids, LABEL_TO_TRAIN[label_ids])
    instances = _png("instanceIds").astype(np.int64)  # labelId * 1000 + k for person and car, else the labelId
    assert np.array_equal(np.where(instances >= 1000, instances // 1000, instances), label_ids)
    differ = train_ids != shipped
    assert differ.sum() == 77 and differ.size == 32768
    ys, xs = np.nonzero(differ)
    padded = np.pad(train_ids, 1, constant_values=254)  # 254: no class
    # every differing pixel is on a boundary of our map: the shipped class is that of one of its 8 neighbours
    near = [shipped[y, x] in padded[y : y + 3, x : x + 3] for y, x in zip(ys, xs)]
    assert sum(near) == 75  # the other two: a class two pixels away (thin structures resampled)
    assert sum(y > 0 and train_ids[y - 1, x] == shipped[y, x] for y, x in zip(ys, xs)) == 71  # the pixel above
    assert set(np.unique(train_ids)) == set(np.unique(shipped)) == {0, 1, 2, 4, 5, 7, 8, 10, 11, 13, IGNORE_INDEX}


def test_iou_of_the_ground_truth_against_itself(train_ids: np.ndarray, tmp_path: Path) -> None:
    gt = torch.from_numpy(train_ids.astype(np.int64))
    cm = ConfusionMatrix(NUM_CLASSES)
    cm.update(gt, gt)
    write_json(tmp_path / "metrics.json", confusion_report(cm, list(TRAIN_CLASSES)), sort_keys=False)
    doc = json.loads((tmp_path / "metrics.json").read_text())  # as seg_evaluate writes it
    assert {TRAIN_CLASSES[c] for c in np.unique(train_ids) if c != IGNORE_INDEX} == PRESENT
    assert doc["iou"] == {c: 1.0 if c in PRESENT else None for c in TRAIN_CLASSES}
    assert list(doc["iou"]) == doc["classes"] == list(TRAIN_CLASSES)  # one order: class (trainId) order
    assert doc["miou"] == 1.0 and doc["pixel_accuracy"] == 1.0
    assert doc["n_pixels"] == int((train_ids != IGNORE_INDEX).sum()) == 28894
    matrix = np.array(doc["confusion_matrix"])
    assert np.array_equal(matrix, np.diag(np.bincount(train_ids[train_ids != IGNORE_INDEX], minlength=NUM_CLASSES)))
