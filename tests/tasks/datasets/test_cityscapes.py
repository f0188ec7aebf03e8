"""Tests for the Cityscapes format: the label table, the colours and the file pairing (tasks.datasets.cityscapes)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.datasets.cityscapes import (
    ID_TO_COLOR,
    IGNORE_INDEX,
    LABEL_TO_TRAIN,
    LABELS,
    TRAIN_CLASSES,
    TRAIN_COLORS,
    colorize,
    find_pairs,
    label_ids_to_train_ids,
)
from tests.helpers.segmentation import write_pair

# --------------------------------------------------------------------------- #
# Label table                                                                 #
# --------------------------------------------------------------------------- #


def test_label_table_matches_cityscapes_scripts() -> None:
    assert LABEL_TO_TRAIN.shape == (256,) and LABEL_TO_TRAIN.dtype == np.uint8
    assert LABEL_TO_TRAIN[7] == 0  # road
    assert LABEL_TO_TRAIN[8] == 1  # sidewalk
    assert LABEL_TO_TRAIN[26] == 13  # car
    assert LABEL_TO_TRAIN[33] == 18  # bicycle
    for ignored in (0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30, 34, 200, 255):
        assert LABEL_TO_TRAIN[ignored] == IGNORE_INDEX == 255
    train_ids = {int(t) for t in LABEL_TO_TRAIN if t != 255}
    assert train_ids == set(range(19))
    assert int(np.sum(LABEL_TO_TRAIN != 255)) == 19  # one labelId per trainId
    assert [lab.id for lab in LABELS if lab.id >= 0] == list(range(34))
    assert [lab.name for lab in LABELS if lab.id == -1] == ["license plate"]
    assert TRAIN_CLASSES == (
        "road",
        "sidewalk",
        "building",
        "wall",
        "fence",
        "pole",
        "traffic light",
        "traffic sign",
        "vegetation",
        "terrain",
        "sky",
        "person",
        "rider",
        "car",
        "truck",
        "bus",
        "train",
        "motorcycle",
        "bicycle",
    )
    assert len(TRAIN_COLORS) == 19
    assert TRAIN_COLORS[0] == (128, 64, 128)  # road
    assert TRAIN_COLORS[2] == (70, 70, 70)  # building
    assert TRAIN_COLORS[8] == (107, 142, 35)  # vegetation
    assert TRAIN_COLORS[10] == (70, 130, 180)  # sky
    assert TRAIN_COLORS[11] == (220, 20, 60)  # person
    assert TRAIN_COLORS[13] == (0, 0, 142)  # car
    assert TRAIN_COLORS[18] == (119, 11, 32)  # bicycle
    assert tuple(ID_TO_COLOR[6]) == (81, 0, 81)  # ground (a void class keeps its colour in *_color.png)


def test_label_ids_to_train_ids_and_colorize() -> None:
    ids = np.array([[7, 26], [0, 33]], dtype=np.uint8)
    expected = np.array([[0, 13], [255, 18]], dtype=np.uint8)
    out = label_ids_to_train_ids(ids)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(label_ids_to_train_ids(ids.astype(np.int64)), expected)
    with pytest.raises(ValueError, match="0..255"):
        label_ids_to_train_ids(np.array([7, 300]))
    col = colorize(expected)
    assert col.shape == (2, 2, 3) and col.dtype == np.uint8
    assert tuple(col[0, 0]) == (128, 64, 128) and tuple(col[0, 1]) == (0, 0, 142)
    assert tuple(col[1, 0]) == (0, 0, 0)  # ignore is black
    assert tuple(colorize(torch.tensor([[18]]))[0, 0]) == (119, 11, 32)


# --------------------------------------------------------------------------- #
# find_pairs                                                                  #
# --------------------------------------------------------------------------- #


def test_find_pairs_sorted_and_tolerates_all_ignore_labels(tmp_path: Path) -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    zeros = np.zeros((4, 6), np.uint8)  # like the real test split: nothing labelled
    b = write_pair(tmp_path, "test", "bonn", "bonn_000001_000019", rgb, zeros)
    a = write_pair(tmp_path, "test", "berlin", "berlin_000000_000019", rgb, zeros)
    pairs = find_pairs(tmp_path, "test")
    assert [p[0] for p in pairs] == [a, b]
    assert pairs[0][1] == tmp_path / "gtFine" / "test" / "berlin" / "berlin_000000_000019_gtFine_labelIds.png"


def test_find_pairs_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "leftImg8bit" / "val"))):
        find_pairs(tmp_path, "val")
    (tmp_path / "leftImg8bit" / "val" / "ulm").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "leftImg8bit" / "val"))):
        find_pairs(tmp_path, "val")  # folder present but empty
    img = write_pair(tmp_path, "val", "ulm", "ulm_000000_000019", np.zeros((4, 6, 3)), None)
    with pytest.raises(FileNotFoundError, match=re.escape(str(img))):
        find_pairs(tmp_path, "val")
    with pytest.raises(ValueError, match="split"):
        find_pairs(tmp_path, "../val")
