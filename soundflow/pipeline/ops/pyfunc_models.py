"""A registered checkpoint as an MLflow Model: a pyfunc flavour over the project's own inference.

Each wrapper is a thin :class:`mlflow.pyfunc.PythonModel` that loads the raw checkpoint (kept in the model as
its ``checkpoint`` artifact) with the same code the CLI uses, so ``mlflow models serve`` answers what
``soundflow predict`` or ``soundflow segment`` prints:

- an AED checkpoint (``aed_train``): rows of ``path`` (an audio file the server can read) or ``waveform`` (mono
  samples) with ``sample_rate``, answered by one column per class, its probability pooled over the chunks
  (:class:`tasks.aed.predict.Predictor`, chunk overlap as ``soundflow predict``'s default);
- a segmentation checkpoint (``seg_train``): a batch of RGB images (n, H, W, 3) uint8, answered by their
  trainId maps (n, H, W) (:func:`tasks.segmentation.predict.label_maps`).

The localisation stages and the transcoder's have no inference entry point outside their evaluation (which reads
feature stores): their versions stay the raw checkpoint file. The model needs this project installed where it is
served (``--env-manager local`` in the project's environment); its requirements pin the libraries it calls.

Imports ``mlflow.pyfunc`` (seconds): imported by ``soundflow register`` only when it logs a model.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

CHECKPOINT = "checkpoint"  # the artifact key of the raw checkpoint inside the model
EXAMPLE_SECONDS = 0.5  # the AED input example: long enough for one (zero-padded) chunk, short as JSON
REQUIREMENTS = ("mlflow", "torch", "numpy", "pandas", "soundfile", "soxr", "pillow")


class AudioClassifier(mlflow.pyfunc.PythonModel):
    """Audio in (a file path, or a waveform and its sample rate per row), class probabilities out."""

    def __init__(self, overlap: float = 2.0) -> None:
        self.overlap = overlap

    def load_context(self, context: Any) -> None:
        from tasks.aed.predict import Predictor

        self.predictor = Predictor(Path(context.artifacts[CHECKPOINT]), self.overlap)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        rows = [self._scores(i, row) for i, row in enumerate(model_input.to_dict("records"))]
        return pd.DataFrame(np.asarray(rows, dtype=np.float64).reshape(-1, len(self.predictor.classes)),
                            columns=self.predictor.classes)  # fmt: skip

    def _scores(self, i: int, row: dict[str, Any]) -> np.ndarray:
        from tasks.aed.predict import PredictOptionError

        path, wave = row.get("path"), row.get("waveform")
        if isinstance(path, str) and path:
            return self.predictor.file_scores(Path(path))
        if wave is None or row.get("sample_rate") is None:
            raise PredictOptionError(f"row {i}: give a path, or a waveform with its sample_rate")
        return self.predictor.waveform_scores(np.asarray(wave), int(row["sample_rate"]), f"row {i} waveform")


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


def _aed(checkpoint: Path) -> tuple[AudioClassifier, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    ckpt = _checkpoint(checkpoint)
    classes, rate = list(ckpt["classes"]), int(ckpt["feature_params"]["sample_rate"])
    inputs = Schema([ColSpec("string", "path", required=False), ColSpec(Array("double"), "waveform", required=False),
                     ColSpec("double", "sample_rate", required=False)])  # fmt: skip
    outputs = Schema([ColSpec("double", c) for c in classes])
    noise = np.random.default_rng(0).normal(0, 0.1, round(EXAMPLE_SECONDS * rate))  # any audio: a chunk's worth
    example = pd.DataFrame({"waveform": [noise.round(4).tolist()], "sample_rate": [float(rate)]})
    return AudioClassifier(), ModelSignature(inputs, outputs), example


def _segmentation(checkpoint: Path) -> tuple[ImageSegmenter, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    h, w = _checkpoint(checkpoint)["input_size"]
    inputs = Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3))])
    outputs = Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1))])
    example = np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    return ImageSegmenter(), ModelSignature(inputs, outputs), example


# the training stage whose checkpoint each wrapper serves
WRAPPERS = {"aed_train": _aed, "seg_train": _segmentation}


def _checkpoint(path: Path) -> dict[str, Any]:
    from soundflow.checkpoints import load_checkpoint

    return load_checkpoint(path)


def save_model(train_stage: str, checkpoint: Path, dest: Path) -> bool:
    """The MLflow Model of ``checkpoint`` written to the new folder ``dest``; False if its stage has no wrapper."""
    build = WRAPPERS.get(train_stage)
    if build is None:
        return False
    python_model, signature, example = build(checkpoint)
    mlflow.pyfunc.save_model(
        str(dest),
        python_model=python_model,
        artifacts={CHECKPOINT: str(checkpoint)},
        signature=signature,
        input_example=example,
        pip_requirements=[f"{n}=={metadata.version(n)}" for n in REQUIREMENTS],
        metadata={"soundflow.stage": train_stage, "soundflow.checkpoint": checkpoint.name},
    )
    return True
