"""A trained spectrogram-chunk classifier read from its checkpoint file: class probabilities of chunks.

The checkpoint is the ``aed_train`` stage's output (:mod:`models.aed_cnn`, a CNN in the tradition of
Piczak, MLSP 2015, on the chunks of :mod:`tasks.features.stft_chunks`); it carries its model's name,
arguments, classes and the feature parameters its chunks were made with, so a checkpoint is all a reader
needs. Shared below the workflows because two of them apply it: the AED's evaluation and prediction, and
localisation's pseudo-labels (the checkpoint file, a declared artifact, crosses between the workflows
instead of the AED's code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import models
from soundflow import checkpoints


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Model (eval mode, on ``device``) and metadata of a checkpoint written by the aed_train stage."""
    ckpt = checkpoints.load_checkpoint(path, device, remedy=checkpoints.REMEDY.format(stage="aed_train"))
    model = models.from_checkpoint(ckpt, input_shape=tuple(ckpt["model_kwargs"]["input_shape"]))
    return model.to(device).eval(), ckpt


@torch.no_grad()
def chunk_probabilities(model: torch.nn.Module, specs: np.ndarray) -> np.ndarray:
    """Class probabilities of a batch of spectrogram chunks (n, freq, time), on the model's device."""
    device = next(model.parameters()).device
    return torch.softmax(model(torch.from_numpy(specs).unsqueeze(1).to(device)).float(), 1).cpu().numpy()
