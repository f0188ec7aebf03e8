"""YAMNet (Plakal & Ellis, 2020, google/models research/audioset/yamnet; MobileNet-v1 of Howard et al.,
2017, arXiv:1704.04861): the second teacher of the spectral transcoder (Tailleur et al., DCASE 2023).

Input: ``(batch, 96, 64)`` patches of log-mel (the ``logmel_yamnet`` preset: 16 kHz, 25 ms / 10 ms,
125-7500 Hz, ln(mel + 0.001)). A 3x3 stride-2 conv (32 channels), then 13 depthwise-separable blocks
(3x3 depthwise + 1x1 pointwise, each conv + BN + ReLU) with the channel/stride plan below; global average
pooling; ``classifier`` (521 AudioSet classes). TensorFlow's SAME padding (the extra row/column at the
bottom/right when the total is odd) and batch-norm epsilon 1e-4, as the TF model, so ported weights
give the same outputs. ``width`` scales the channel counts (1.0 = the published network).

Checkpoints, loaded strictly by :func:`load_yamnet`: Google's own weights exported from TensorFlow
(``yamnet_weights.npz``, :mod:`models.yamnet_tf_weights`), or a PyTorch state dict (``layer1.fused.{conv,bn}``,
``layerN.depthwise_conv.{conv,bn}``, ``layerN.pointwise_conv.{conv,bn}``, ``classifier``). With Google's
weights, :func:`yamnet_outputs` on a 16 kHz waveform gives TensorFlow YAMNet's scores, embeddings and
log-mel (front end: :mod:`models.yamnet_frontend`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint_format import CheckpointError, load_strict, read_checkpoint
from models.registry import register_model
from models.yamnet_frontend import YamnetFrontEnd, log_mel_and_patches
from models.yamnet_tf_weights import load_yamnet_npz

__all__ = ["YAMNet", "load_yamnet", "load_yamnet_npz", "pretrained_yamnet", "yamnet_outputs"]

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

    def embed(self, logmel: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) -> (batch, 1024): the globally average-pooled features before the classifier
        (YAMNet's "embeddings" output)."""
        if logmel.dim() != 3:
            raise ValueError(f"expected log-mel patches (batch, frames, mels), got {tuple(logmel.shape)}")
        x = logmel.unsqueeze(1)
        for i in range(1, len(PLAN) + 1):
            x = getattr(self, f"layer{i}")(x)
        return x.mean(dim=(2, 3))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) -> (batch, n_classes) logits (YAMNet's scores are their sigmoid)."""
        return self.classifier(self.embed(logmel))


def load_yamnet(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """YAMNet weights from ``path`` into ``model``, strictly: Google's TF export (a ``.npz`` file) or a
    PyTorch state dict (any other file)."""
    if Path(path).suffix == ".npz":
        return load_yamnet_npz(model, path)
    state = read_checkpoint(path)
    if isinstance(state, dict) and "model" in state and "layer1.fused.conv.weight" not in state:
        raise CheckpointError(f"{path}: a PANN-style checkpoint ({{'model': ...}}), not the YAMNet port's state dict")
    return load_strict(model, state, path, what="YAMNet state dict")


def pretrained_yamnet(path: str | os.PathLike[str]) -> YAMNet:
    """The published YAMNet (521 AudioSet classes) with the weights at ``path``, in eval mode."""
    return load_yamnet(YAMNet(), path).eval()


@torch.inference_mode()
def yamnet_outputs(
    model: YAMNet, wave: np.ndarray | torch.Tensor, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF YAMNet's three outputs for a 16 kHz mono waveform in [-1, 1]: ``(scores (patches, 521),
    embeddings (patches, 1024), log_mel (frames, 64))``, float32 numpy; scores are sigmoid probabilities.

    One row per 0.96 s patch every 0.48 s, after YAMNet's end padding (:mod:`models.yamnet_frontend`).
    """
    if model.training:
        raise ValueError("yamnet_outputs needs the model in eval mode (batch norm with its running statistics)")
    device = next(model.parameters()).device
    log_mel, patch = log_mel_and_patches(wave, YamnetFrontEnd().to(device))
    embeddings = torch.cat([model.embed(p) for p in patch.split(batch_size)])
    scores = torch.sigmoid(model.classifier(embeddings))
    return scores.cpu().numpy(), embeddings.cpu().numpy(), log_mel.cpu().numpy()
