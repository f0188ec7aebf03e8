"""The ``seg_class_weights`` stage's task: frequencies and weights of the training labels, by class name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.segmentation.weights import class_weights_report
from tests.helpers.segmentation import seg_params, write_split


def test_weights_of_the_train_split_by_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    road_car = np.full((16, 32), 7, np.uint8)  # road (trainId 0) ...
    road_car[:, 24:] = 26  # ... and a quarter car (trainId 13)
    unlabelled = np.zeros((16, 32), np.uint8)  # id 0: ignored, counts for no class
    write_split(tmp_path, "train", [road_car, unlabelled])
    write_split(tmp_path, "val", [np.full((16, 32), 26, np.uint8)])  # not read: only the train split counts

    out = class_weights_report(seg_params(class_weight_c=1.5), tmp_path, tmp_path / "class_weights.json")
    doc = json.loads(out.read_text())
    assert set(doc["frequency"]) == set(doc["weight"]) == set(TRAIN_CLASSES)
    assert doc["frequency"]["road"] == 0.75 and doc["frequency"]["car"] == 0.25
    assert sum(doc["frequency"].values()) == 1.0
    assert doc["weight"]["road"] == pytest.approx(1 / math.log(1.5 + 0.75))  # class_weight_c is used
    assert doc["weight"]["sky"] == pytest.approx(1 / math.log(1.5))
    printed = capsys.readouterr().out  # in trainId order
    assert printed.startswith(f"class weights: road {1 / math.log(2.25):.2f}, sidewalk {1 / math.log(1.5):.2f}, ")
