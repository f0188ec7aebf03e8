"""Inference with a trained ERFNet: checkpoint loading and batched logits at any output size.

Evaluation, prediction and the training's validation use these; this module imports no training code
(a checkpoint is all they need). On CUDA the model and its input batches are channels-last, the memory
layout in which bf16 convolutions are fastest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

import models
from soundflow import checkpoints
from soundflow.devices import autocast


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move an image batch to ``device``, channels-last on CUDA (faster convolutions with bf16)."""
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    return x.to(device, non_blocking=True, memory_format=fmt)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Model (eval mode: BN running statistics, no dropout; on ``device``) and metadata of a seg_train checkpoint."""
    ckpt = checkpoints.load_checkpoint(path, device, remedy=checkpoints.REMEDY.format(stage="seg_train"))
    model = models.from_checkpoint(ckpt)
    device = torch.device(device)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model.eval(), ckpt


def predict_logits(
    model: torch.nn.Module, x: torch.Tensor, device: torch.device, out_sizes: Sequence[tuple[int, int]] | None = None
) -> list[torch.Tensor] | torch.Tensor:
    """Float32 logits of an image batch; with ``out_sizes``, one (C, h, w) tensor per image, bilinearly resized."""
    with torch.no_grad(), autocast(device):
        logits = model(to_device(x, device))
    logits = logits.float()
    if out_sizes is None:
        return logits
    return [
        F.interpolate(logits[j : j + 1], size=tuple(s), mode="bilinear", align_corners=False)[0]
        for j, s in enumerate(out_sizes)
    ]
