"""The transcoder's checkpoints (:mod:`tasks.transcoder.infer`, as its evaluation runs them):

- the teacher (``transcoder_teacher``): log-mel chunks (n, frames, n_mels) float32, answered by one column per
  class, its probability;
- CNN-mels (``transcoder_cnn_mels``): third-octave chunks (n, 8, 29) float32 dB, answered by their Mel
  (n, frames, n_mels) float32;
- CNN-logits (``transcoder_cnn_logits``): third-octave chunks, answered by the class probabilities of the teacher
  it was trained through on their Mel (the teacher's checkpoint of the same pipeline run is kept beside its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from soundflow.pipeline.ops.pyfunc_models.common import CHECKPOINT, Wrapper, contents

TEACHER = "transcoder_teacher"  # the teacher's training stage: its artifact key in a CNN-logits model


def _device() -> Any:
    from soundflow.devices import pick_device

    return pick_device("auto")


class TeacherClassifier(mlflow.pyfunc.PythonModel):
    """Log-mel chunks in, the teacher's class probabilities out."""

    def load_context(self, context: Any) -> None:
        from tasks.transcoder.teacher import load_teacher

        self.device = _device()
        self.teacher, self.classes, _ = load_teacher(Path(context.artifacts[CHECKPOINT]), self.device)

    def predict(self, context: Any, model_input: np.ndarray, params: dict | None = None) -> pd.DataFrame:
        import torch

        from tasks.transcoder.infer import class_probabilities

        mel = torch.from_numpy(np.asarray(model_input, dtype=np.float32))
        probs = class_probabilities(self.teacher, mel, self.device)
        return pd.DataFrame(probs.astype(np.float64), columns=self.classes)


class StudentTranscoder(mlflow.pyfunc.PythonModel):
    """Third-octave chunks in, their Mel out; with the teacher beside it, the teacher's probabilities of it."""

    def load_context(self, context: Any) -> None:
        from tasks.transcoder.infer import load_student
        from tasks.transcoder.teacher import load_teacher

        self.device = _device()
        self.student, _ = load_student(Path(context.artifacts[CHECKPOINT]), self.device)
        teacher = context.artifacts.get(TEACHER)
        self.teacher, self.classes, _ = load_teacher(Path(teacher), self.device) if teacher else (None, [], "")

    def predict(self, context: Any, model_input: np.ndarray, params: dict | None = None) -> np.ndarray | pd.DataFrame:
        import torch

        from tasks.transcoder.infer import class_probabilities, transcode

        mel = transcode(self.student, np.asarray(model_input, dtype=np.float32), self.device)
        if self.teacher is None:
            return mel
        probs = class_probabilities(self.teacher, torch.from_numpy(mel), self.device)
        return pd.DataFrame(probs.astype(np.float64), columns=self.classes)


def _mel_shape(mel: str) -> tuple[int, int]:
    from tasks.features.logmel import PRESETS
    from tasks.transcoder.pairs import CHUNK_FRAMES

    return CHUNK_FRAMES[mel], PRESETS[mel[len("logmel_") :]].n_mels


def _third_octave_example() -> tuple[Any, np.ndarray]:
    from mlflow.types.schema import TensorSpec

    from tasks.features.third_octave import ThirdOctaveParams
    from tasks.transcoder.pairs import third_octave_frames_per_second

    shape = (third_octave_frames_per_second(), ThirdOctaveParams().n_bands)
    example = np.random.default_rng(0).uniform(20, 80, (1, *shape)).astype(np.float32)  # dB levels of a street
    return TensorSpec(np.dtype(np.float32), (-1, *shape)), example


def _classes(ckpt: dict[str, Any]) -> Any:
    """The output schema of a loaded teacher checkpoint: one probability column per class."""
    from mlflow.types.schema import ColSpec, Schema

    return Schema([ColSpec("double", c) for c in ckpt["classes"]])


def build_teacher(checkpoint: Path, upstream: dict[str, Path]) -> tuple[TeacherClassifier, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    from tasks.transcoder.infer import teacher_mel

    ckpt = contents(checkpoint)  # read once: its architecture and its classes
    shape = _mel_shape(teacher_mel(ckpt["model_name"]))
    example = np.random.default_rng(0).normal(-40, 10, (1, *shape)).astype(np.float32)
    inputs = Schema([TensorSpec(np.dtype(np.float32), (-1, *shape))])
    return TeacherClassifier(), ModelSignature(inputs, _classes(ckpt)), example


def build_student(checkpoint: Path, upstream: dict[str, Path]) -> tuple[StudentTranscoder, Any, Any]:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    spec, example = _third_octave_example()
    if TEACHER in upstream:
        outputs = _classes(contents(upstream[TEACHER]))
    else:
        outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, *_mel_shape(contents(checkpoint)["mel"])))])
    return StudentTranscoder(), ModelSignature(Schema([spec]), outputs), example


TEACHER_WRAPPER = Wrapper(build_teacher)
CNN_MELS = Wrapper(build_student)
CNN_LOGITS = Wrapper(build_student, upstream=(TEACHER,))
