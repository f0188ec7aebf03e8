"""PANN CNN14 (Kong et al., 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
Recognition", IEEE/ACM TASLP 28; docs/methods.md#spectral-transcoder): a teacher of the spectral transcoder.

Input: log-mel frames ``(batch, frames, 64)`` in dB (the ``logmel_pann`` preset: 32 kHz, window 1024, hop
320, 50-14000 Hz). ``bn0`` normalises each mel band; six conv blocks (two 3x3 conv + BN + ReLU each) with
2x2 average pooling (none after the sixth) and dropout 0.2; mean over frequency, max + mean over time,
dropout 0.5, ``fc1`` + ReLU, dropout 0.5, ``fc_audioset``. ``forward`` returns logits; the published
model's clip-wise output is their sigmoid. ``width`` is the first block's channel count (64 in the paper:
64-128-256-512-1024-2048); a smaller one gives the reduced teacher the pipeline trains offline.

The official checkpoint (``Cnn14_mAP=0.431.pth``) is ``{"model": state_dict, "iteration": ...}`` whose
state dict also holds the torchlibrosa front end (``spectrogram_extractor.*``, ``logmel_extractor.*``):
those are dropped (our front end is the feature store's log-mel), everything else must fit exactly.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint_format import CheckpointError, load_strict, read_checkpoint
from models.registry import register_model

FRONT_END = ("spectrogram_extractor.", "logmel_extractor.")  # torchlibrosa buffers in the official files


class ConvBlock(nn.Module):
    """Two 3x3 convolutions (no bias) with batch norm and ReLU, then pooling: PANN's ``ConvBlock``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, pool: tuple[int, int] = (2, 2)) -> torch.Tensor:
        x = F.relu_(self.bn1(self.conv1(x)))
        x = F.relu_(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool != (1, 1) else x


def mel_input(bn0: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """(batch, frames, mels) -> (batch, 1, frames, mels), each mel band batch-normalised (PANN's ``bn0``)."""
    if x.dim() != 3:
        raise ValueError(f"expected log-mel (batch, frames, mels), got {tuple(x.shape)}")
    x = x.unsqueeze(1).transpose(1, 3)  # (batch, mels, frames, 1): bn0 normalises each mel band
    return bn0(x).transpose(1, 3)


def pooled_head(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean over frequency, max + mean over time, dropout, ``fc1`` + ReLU, dropout, ``fc_audioset`` (logits)."""
    x = torch.mean(x, dim=3)
    x = torch.amax(x, dim=2) + torch.mean(x, dim=2)
    x = F.dropout(x, p=0.5, training=model.training)
    x = F.relu_(model.fc1(x))
    x = F.dropout(x, p=0.5, training=model.training)
    return model.fc_audioset(x)


@register_model("pann_cnn14")
class Cnn14(nn.Module):
    def __init__(self, n_classes: int = 527, width: int = 64, n_mels: int = 64) -> None:
        super().__init__()
        self.n_classes, self.width = n_classes, width
        chans = [width * 2**i for i in range(6)]
        self.bn0 = nn.BatchNorm2d(n_mels)
        ins = [1] + chans[:-1]
        for i, (a, b) in enumerate(zip(ins, chans), start=1):
            setattr(self, f"conv_block{i}", ConvBlock(a, b))
        self.fc1 = nn.Linear(chans[-1], chans[-1])
        self.fc_audioset = nn.Linear(chans[-1], n_classes)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = mel_input(self.bn0, logmel)
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, (2, 2) if i < 6 else (1, 1))
            x = F.dropout(x, p=0.2, training=self.training)
        return pooled_head(self, x)


def load_pann(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """An official PANN checkpoint file (``{"model": state_dict, "iteration": ...}``) into ``model``, strictly."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        keys = sorted(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: not a PANN checkpoint (expected a dict with 'model'; found {keys})")
    return load_strict(model, ckpt["model"], path, ignore_prefixes=FRONT_END, what="PANN state dict")
