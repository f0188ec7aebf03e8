"""An AED checkpoint (``aed_train``): rows of ``path`` (an audio file the server can read) or ``waveform`` (mono
samples) with ``sample_rate``, answered by one column per class, its probability pooled over the chunks
(:class:`tasks.aed.predict.Predictor`, the chunk overlap ``aed.predict.overlap`` of the run registered)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from soundflow.pipeline.ops.pyfunc_models.common import CHECKPOINT, Wrapper, contents, given

EXAMPLE_SECONDS = 0.5  # the input example: long enough for one (zero-padded) chunk, short as JSON


class AudioClassifier(mlflow.pyfunc.PythonModel):
    """Audio in (a file path, or a waveform and its sample rate per row), class probabilities out."""

    def load_context(self, context: Any) -> None:
        from tasks.aed.predict import Predictor

        overlap = float(context.model_config["overlap"])
        self.predictor = Predictor(Path(context.artifacts[CHECKPOINT]), overlap)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        rows = [self._scores(i, row) for i, row in enumerate(model_input.to_dict("records"))]
        return pd.DataFrame(np.asarray(rows, dtype=np.float64).reshape(-1, len(self.predictor.classes)),
                            columns=self.predictor.classes)  # fmt: skip

    def _scores(self, i: int, row: dict[str, Any]) -> np.ndarray:
        from tasks.aed.predict import PredictOptionError

        path, wave = row.get("path"), row.get("waveform")
        if isinstance(path, str) and path:
            return self.predictor.file_scores(Path(path))
        if not given(wave) or not given(row.get("sample_rate")):
            raise PredictOptionError(f"row {i}: give a path, or a waveform with its sample_rate")
        return self.predictor.waveform_scores(np.asarray(wave), int(row["sample_rate"]), f"row {i} waveform")


def build(checkpoint: Path, upstream: dict[str, Path]) -> tuple[AudioClassifier, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    ckpt = contents(checkpoint)
    classes, rate = list(ckpt["classes"]), int(ckpt["feature_params"]["sample_rate"])
    inputs = Schema([ColSpec("string", "path", required=False), ColSpec(Array("double"), "waveform", required=False),
                     ColSpec("double", "sample_rate", required=False)])  # fmt: skip
    outputs = Schema([ColSpec("double", c) for c in classes])
    noise = np.random.default_rng(0).normal(0, 0.1, round(EXAMPLE_SECONDS * rate))  # any audio: a chunk's worth
    example = pd.DataFrame({"waveform": [noise.round(4).tolist()], "sample_rate": [float(rate)]})
    return AudioClassifier(), ModelSignature(inputs, outputs), example


WRAPPER = Wrapper(build, params={"overlap": "aed.predict.overlap"})
