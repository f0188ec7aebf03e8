"""The ``seg_train`` stage's task: weights read from the weights file, a resume fingerprint, the curves drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soundflow.training import FitFiles
from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.segmentation.train import resume_fingerprint, train_from_weights
from tasks.segmentation.weights import class_weights_report
from tests.helpers.segmentation import seg_params, write_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_fingerprint_changes_with_weights_parameters_and_data() -> None:
    doc = {"weight": {"road": 1.0}}
    base = resume_fingerprint(doc, seg_params(), {"seed": 0})
    assert resume_fingerprint({"weight": {"road": 1.0}}, seg_params(), {"seed": 0}) == base  # values, not objects
    assert resume_fingerprint({"weight": {"road": 2.0}}, seg_params(), {"seed": 0}) != base
    assert resume_fingerprint(doc, seg_params(lr=2e-3), {"seed": 0}) != base
    assert resume_fingerprint(doc, seg_params(), {"seed": 1}) != base
    # what the training stage does not declare (prediction's batch) leaves a resumable state usable
    p = seg_params()
    other = p.model_copy(update={"predict": p.predict.model_copy(update={"batch_size": p.predict.batch_size + 1})})
    assert resume_fingerprint(doc, other, {"seed": 0}) == base


def _scenes(root: Path) -> Path:
    rng = np.random.default_rng(0)
    ids = np.array([7, 8, 11, 21, 23, 26, 0])  # road, sidewalk, building, vegetation, sky, car, unlabelled
    for split, n in (("train", 2), ("val", 1)):
        write_split(root / "scenes", split, [rng.choice(ids, (16, 32)) for _ in range(n)])
    return root / "scenes"


def _files(out: Path) -> FitFiles:
    return FitFiles(out / "state", out / "model.pt", out / "history.csv", out / "train.json")


def test_trains_with_the_weights_in_file_order_and_draws_the_curves(tmp_path: Path) -> None:
    scenes = _scenes(tmp_path)
    weights = {c: 1.0 + i / 8 for i, c in enumerate(TRAIN_CLASSES)}  # exact in float32, as train() keeps them
    (tmp_path / "weights.json").write_text(json.dumps({"frequency": {}, "weight": weights}))
    out = tmp_path / "out"
    files = _files(out)

    ckpt = train_from_weights(
        tmp_path / "weights.json", scenes, seg_params(), files, out / "curves.png", data_identity={}
    )
    assert ckpt == files.checkpoint
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["class_weights"] == list(weights.values())
    assert saved["input_size"] == [16, 32]  # seg.data.image_size
    assert json.loads(files.summary_json.read_text())["n_train_images"] == 2
    assert (out / "curves.png").stat().st_size > 1000


def test_the_pipeline_trains_with_each_class_its_own_weight(tmp_path: Path) -> None:
    scenes = _scenes(tmp_path)
    weights_json = class_weights_report(seg_params(), scenes, tmp_path / "class_weights.json")
    ckpt = train_from_weights(
        weights_json, scenes, seg_params(), _files(tmp_path), tmp_path / "c.png", data_identity={}
    )
    by_class = json.loads(weights_json.read_text())["weight"]
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["class_weights"] == pytest.approx([by_class[c] for c in saved["classes"]], rel=1e-6)
