"""A segmentation checkpoint (``seg_train``): a batch of RGB images (n, H, W, 3) uint8, answered by their trainId
maps (n, H, W) (:func:`tasks.segmentation.predict.label_maps`, what ``soundflow segment`` writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np

from soundflow.pipeline.ops.pyfunc_models.common import CHECKPOINT, Wrapper, contents


class ImageSegmenter(mlflow.pyfunc.PythonModel):
    """RGB images in (n, H, W, 3) uint8, trainId maps out (n, H, W) uint8."""

    def load_context(self, context: Any) -> None:
        from soundflow.devices import pick_device
        from tasks.segmentation.inference import load_checkpoint

        self.device = pick_device("auto")
        self.model, ckpt = load_checkpoint(Path(context.artifacts[CHECKPOINT]), self.device)
        self.size = tuple(ckpt["input_size"])

    def predict(self, context: Any, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        from tasks.segmentation.predict import label_maps

        images = np.asarray(model_input, dtype=np.uint8)
        return np.stack(label_maps(self.model, list(images), self.size, self.device))


def build(checkpoint: Path, upstream: dict[str, Path]) -> tuple[ImageSegmenter, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    h, w = contents(checkpoint)["input_size"]
    inputs = Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3))])
    outputs = Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1))])
    example = np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    return ImageSegmenter(), ModelSignature(inputs, outputs), example


WRAPPER = Wrapper(build)
