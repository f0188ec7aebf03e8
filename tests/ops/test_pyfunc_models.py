"""A segmentation checkpoint as an MLflow Model: images in, the label maps ``soundflow segment`` writes out.

(The AED model is served over REST in tests/ops/test_registry_and_s3.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import models
from soundflow.checkpoints import save_checkpoint
from soundflow.pipeline.ops import pyfunc_models
from tasks.segmentation.predict import predict_folder

SIZE = (32, 64)  # the network's input: sides multiples of 8


def _seg_checkpoint(path: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=3)
    for m in model.modules():  # running statistics away from their initial values: the eval path is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    contents = {"model_name": "erfnet", "model_kwargs": {"num_classes": 3}, "state_dict": model.state_dict(),
                "classes": ["road", "building", "sky"], "input_size": list(SIZE)}  # fmt: skip
    return save_checkpoint(path, contents)


def test_segmentation_model_answers_the_label_maps_of_soundflow_segment(tmp_path: Path, one_torch_thread) -> None:
    import mlflow.pyfunc

    checkpoint = _seg_checkpoint(tmp_path / "model.pt")
    assert pyfunc_models.save_model("seg_train", checkpoint, tmp_path / "mlflow-model")
    model = mlflow.pyfunc.load_model(str(tmp_path / "mlflow-model"))
    assert model.metadata.signature is not None and model.metadata.saved_input_example_info is not None
    images = np.random.default_rng(1).integers(0, 256, (2, 40, 72, 3), dtype=np.uint8)  # not the network's size
    (tmp_path / "images").mkdir()
    for i, rgb in enumerate(images):
        Image.fromarray(rgb).save(tmp_path / "images" / f"{i}.png")
    predict_folder(checkpoint, tmp_path / "images", tmp_path / "out", size=SIZE, device="cpu")
    served = model.predict(images)
    assert served.shape == (2, 40, 72) and served.dtype == np.uint8
    for i in range(2):
        assert np.array_equal(served[i], np.asarray(Image.open(tmp_path / "out" / f"{i}_labels.png")))
    assert not pyfunc_models.save_model("loc_stage1", checkpoint, tmp_path / "none")  # no wrapper: the file stays
