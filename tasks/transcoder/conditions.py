"""The four inputs the teacher is evaluated on: the true Mel and the Mel of each transcoder from third-octaves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tasks.transcoder.fitting import batched
from tasks.transcoder.infer import Student, class_probabilities
from tasks.transcoder.pairs import CHUNK_FRAMES, Pairs
from tasks.transcoder.pinv import PinvTranscoder
from tasks.transcoder.train import load_transcoder

CONDITIONS = ("mel", "pinv", "cnn_mels", "cnn_logits")
ROW_NAMES = {"mel": "Mel input", "pinv": "PINV", "cnn_mels": "CNN-mels", "cnn_logits": "CNN-logits"}


@dataclass
class Transcoders:
    """PINV and the two trained CNNs (on the PINV output), each third-octave (batch, 8, 29) -> log-mel."""

    pinv: PinvTranscoder
    cnn_mels: torch.nn.Module
    cnn_logits: torch.nn.Module

    @classmethod
    def load(cls, mel: str, cnn_mels: Path, cnn_logits: Path, device: torch.device) -> Transcoders:
        pinv = PinvTranscoder(mel, CHUNK_FRAMES[mel]).to(device)
        return cls(pinv, load_transcoder(cnn_mels, device), load_transcoder(cnn_logits, device))

    def of(self, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        if name == "pinv":
            return self.pinv
        return Student(self.pinv, self.cnn_mels if name == "cnn_mels" else self.cnn_logits)


def condition_mels(pairs: Pairs, transcoders: Transcoders, device: torch.device) -> dict[str, torch.Tensor]:
    """Each condition's log-mel of every chunk of ``pairs``."""
    third = torch.from_numpy(pairs.third_octave)
    out = {"mel": torch.from_numpy(pairs.mel)}
    for name in CONDITIONS[1:]:
        out[name] = batched(transcoders.of(name), third, device)
    return out


def teacher_probabilities(
    teacher: torch.nn.Module, mels: dict[str, torch.Tensor], device: torch.device
) -> dict[str, np.ndarray]:
    return {k: class_probabilities(teacher, v, device) for k, v in mels.items()}
