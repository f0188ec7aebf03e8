"""The transcoder's models on chunks in memory, as its evaluation runs them (Tailleur et al., DCASE 2023).

A student (CNN-mels or CNN-logits) maps 1 s of third-octave levels (8 frames x 29 bands, dB) to the Mel of
the teacher it was trained for: the PINV estimate refined by its CNN; the teacher maps that Mel (or a true one)
to its class probabilities (the sigmoid of its logits). The evaluation feeds every condition through these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from soundflow.checkpoints import load_checkpoint
from tasks.transcoder.fitting import batched
from tasks.transcoder.pairs import CHUNK_FRAMES, MEL_FOR_TEACHER
from tasks.transcoder.pinv import PinvTranscoder
from tasks.transcoder.train import REMEDY, transcoder_from


@dataclass
class Student:
    """A trained CNN on the PINV output: third-octave (batch, 8, 29) -> log-mel (batch, frames, n_mels)."""

    pinv: PinvTranscoder
    cnn: torch.nn.Module

    def __call__(self, third_octave: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.pinv(third_octave))


def load_student(path: Path, device: torch.device) -> tuple[Student, str]:
    """(the student of the checkpoint ``path`` on ``device``, the Mel representation it outputs)."""
    ckpt = load_checkpoint(path, remedy=REMEDY)  # read once: its Mel representation and its weights
    mel = ckpt["mel"]
    return Student(PinvTranscoder(mel, CHUNK_FRAMES[mel]).to(device), transcoder_from(ckpt, device)), mel


def teacher_mel(model_name: str) -> str:
    """The Mel representation a teacher architecture takes (``logmel_pann``, ``logmel_yamnet``)."""
    return MEL_FOR_TEACHER[model_name]


def transcode(student: Student, third_octave: np.ndarray, device: torch.device) -> np.ndarray:
    """(n, frames, n_mels) float32 log-mel of (n, 8, 29) third-octave chunks."""
    return batched(student, torch.from_numpy(np.asarray(third_octave, dtype=np.float32)), device).numpy()


def class_probabilities(teacher: torch.nn.Module, mel: torch.Tensor, device: torch.device) -> np.ndarray:
    """(n, classes) the teacher's probabilities of (n, frames, n_mels) log-mel chunks."""
    return torch.sigmoid(batched(teacher, mel, device)).numpy()
