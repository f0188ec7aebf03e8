"""YAMNet (Plakal & Ellis, 2020, google/models research/audioset/yamnet; MobileNet-v1 of Howard et al.,
2017, arXiv:1704.04861): the second teacher of the spectral transcoder (Tailleur et al., DCASE 2023).

Input: ``(batch, 96, 64)`` patches of log-mel (the ``logmel_yamnet`` preset: 16 kHz, 25 ms / 10 ms,
125-7500 Hz, ln(mel + 0.001)). A 3x3 stride-2 conv (32 channels), then 13 depthwise-separable blocks
(3x3 depthwise + 1x1 pointwise, each conv + BN + ReLU) with the channel/stride plan below; global average
pooling; ``classifier`` (521 AudioSet classes). TensorFlow's SAME padding (the extra row/column at the
bottom/right when the total is odd) and batch-norm epsilon 1e-4, as the TF model, so ported weights
give the same outputs. ``width`` scales the channel counts (1.0 = the published network).

Checkpoint: the PyTorch port's plain state dict (``layer1.fused.{conv,bn}``, ``layerN.depthwise_conv.{conv,bn}``,
``layerN.pointwise_conv.{conv,bn}``, ``classifier``), loaded strictly by :func:`load_yamnet`.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint_format import CheckpointError, load_strict, read_checkpoint
from models.registry import register_model

BN_EPS = 1e-4
# (stride, output channels) of layer1 (a full conv) and layers 2..14 (separable)
PLAN = ((2, 32), (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)) + ((1, 512),) * 5 + ((2, 1024), (1, 1024))


class Conv2dSame(nn.Conv2d):
    """A 2-D convolution with TensorFlow's SAME padding (computed from the input size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class ConvBnRelu(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = Conv2dSame(c_in, c_out, kernel, stride=stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class FullConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.fused = ConvBnRelu(c_in, c_out, 3, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fused(x)


class SeparableConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.depthwise_conv = ConvBnRelu(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise_conv = ConvBnRelu(c_in, c_out, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


@register_model("yamnet")
class YAMNet(nn.Module):
    def __init__(self, n_classes: int = 521, width: float = 1.0, n_mels: int = 64) -> None:
        super().__init__()
        self.n_classes, self.width = n_classes, width
        c_in = 1
        for i, (stride, c) in enumerate(PLAN, start=1):
            c_out = max(1, round(c * width))
            setattr(self, f"layer{i}", (FullConv if i == 1 else SeparableConv)(c_in, c_out, stride))
            c_in = c_out
        self.classifier = nn.Linear(c_in, n_classes)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        if logmel.dim() != 3:
            raise ValueError(f"expected log-mel patches (batch, frames, mels), got {tuple(logmel.shape)}")
        x = logmel.unsqueeze(1)
        for i in range(1, len(PLAN) + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.classifier(x.mean(dim=(2, 3)))


def load_yamnet(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """The YAMNet PyTorch port's plain state dict from ``path`` into ``model``, strictly."""
    state = read_checkpoint(path)
    if isinstance(state, dict) and "model" in state and "layer1.fused.conv.weight" not in state:
        raise CheckpointError(f"{path}: a PANN-style checkpoint ({{'model': ...}}), not the YAMNet port's state dict")
    return load_strict(model, state, path, what="YAMNet state dict")
