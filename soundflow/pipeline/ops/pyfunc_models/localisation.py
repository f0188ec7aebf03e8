"""A localisation checkpoint (``loc_stage1``, ``loc_stage2``): rows of an image (``image``, H x W x 3 uint8, or
``image_path``) and an audio clip (``waveform`` with ``sample_rate``, or ``audio_path``), answered by the
sound-source ``heatmap`` (the model's map), stage 1's ``class_activation`` map (both over the frame the model
sees, ``frame_side`` square, in [0, 1]) and the audiovisual ``correspondence`` probability
(:class:`tasks.localisation.infer.Localiser`, with the frame side, clip length and map options of the run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from soundflow.pipeline.ops.pyfunc_models.common import CHECKPOINT, Wrapper, contents, dense, given

OUTPUTS = ("heatmap", "class_activation", "correspondence")


class SoundLocaliser(mlflow.pyfunc.PythonModel):
    """(image, audio clip) rows in, their localisation maps and audiovisual correspondence out."""

    def load_context(self, context: Any) -> None:
        from tasks.localisation.infer import Localiser, MapOptions

        c = context.model_config
        options = MapOptions(float(c["class_threshold"]), bool(c["class_aware"]), bool(c["normalise_pixels"]))
        self.localiser = Localiser(
            Path(context.artifacts[CHECKPOINT]), int(c["frame_side"]), float(c["clip_seconds"]), options
        )

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        rows = model_input.to_dict("records")
        images = [self._image(i, row) for i, row in enumerate(rows)]
        waves = [self._audio(i, row) for i, row in enumerate(rows)]
        out = self.localiser.localise(images, waves)
        return pd.DataFrame({k: [v.tolist() for v in out[k]] for k in OUTPUTS})

    def _image(self, i: int, row: dict[str, Any]) -> np.ndarray:
        from tasks.features.frames import ImageError

        if isinstance(row.get("image_path"), str) and row["image_path"]:
            return self.localiser.read_image(Path(row["image_path"]))
        if not given(row.get("image")):
            raise ImageError(f"row {i}", "give an image (H x W x 3 uint8) or an image_path")
        image = dense(row["image"], np.int64)
        if image.ndim != 3 or image.shape[-1] != 3 or image.min() < 0 or image.max() > 255:
            raise ImageError(f"row {i}", f"image must be H x W x 3 values in 0..255, got shape {image.shape}")
        return image.astype(np.uint8)

    def _audio(self, i: int, row: dict[str, Any]) -> np.ndarray:
        from soundflow.audio import AudioError

        if isinstance(row.get("audio_path"), str) and row["audio_path"]:
            return self.localiser.read_audio(Path(row["audio_path"]))
        if not given(row.get("waveform")) or not given(row.get("sample_rate")):
            raise AudioError(f"row {i}", "give an audio_path, or a waveform with its sample_rate")
        wave = dense(row["waveform"], np.float32)
        if not np.isfinite(wave).all():
            raise AudioError(f"row {i}", "audio contains NaN or infinite samples")
        return self.localiser.audio_at_rate(wave, int(row["sample_rate"]))


def build(checkpoint: Path, upstream: dict[str, Path]) -> tuple[SoundLocaliser, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    from tasks.features.logmel import PRESETS

    contents(checkpoint)  # a damaged file is refused before a model is made of it
    image = Array(Array(Array("long")))
    inputs = Schema([ColSpec("string", "image_path", required=False), ColSpec(image, "image", required=False),
                     ColSpec("string", "audio_path", required=False),
                     ColSpec(Array("double"), "waveform", required=False),
                     ColSpec("double", "sample_rate", required=False)])  # fmt: skip
    heatmap = Array(Array("double"))
    outputs = Schema([ColSpec(heatmap, "heatmap"), ColSpec(heatmap, "class_activation"),
                      ColSpec("double", "correspondence")])  # fmt: skip
    rng, rate = np.random.default_rng(0), PRESETS["localisation"].sample_rate
    example = pd.DataFrame({"image": [rng.integers(0, 256, (24, 32, 3)).tolist()],  # any pair: resized, padded
                            "waveform": [rng.normal(0, 0.1, rate // 4).round(4).tolist()],
                            "sample_rate": [float(rate)]})  # fmt: skip
    return SoundLocaliser(), ModelSignature(inputs, outputs), example


WRAPPER = Wrapper(
    build,
    params={
        "frame_side": "localisation.data.frame_side",
        "clip_seconds": "localisation.data.clip_seconds",
        "class_threshold": "localisation.evaluate.map_class_threshold",
        "class_aware": "localisation.evaluate.class_aware",
        "normalise_pixels": "localisation.evaluate.normalise_pixels",
    },
)
