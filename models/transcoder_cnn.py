"""The spectral transcoder's CNN (Tailleur et al., DCASE 2023, "Spectral transcoder: using pretrained urban
sound classifiers on undersampled spatial representations"; docs/methods.md#spectral-transcoder).

It refines the PINV estimate of a log-mel spectrogram: ``layers`` convolutions (paper: 5) of ``channels``
channels (paper: 64), kernel ``kernel`` = (time, mel) = 3 x 5 with replication padding, ReLU between
layers and none after the last; the output is the *residual* ``x - cnn(x)``. Inputs ``(batch, frames,
mels)`` are standardised with the ``offset``/``scale`` buffers (set from the training data, saved in the
state dict) before the convolutions and the correction is scaled back, so the same network fits dB
(PANN) and natural-log (YAMNet) spectrograms.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register_model


@register_model("transcoder_cnn")
class TranscoderCNN(nn.Module):
    def __init__(self, channels: int = 64, layers: int = 5, kernel: tuple[int, int] = (3, 5)) -> None:
        super().__init__()
        if layers < 2:
            raise ValueError(f"layers must be >= 2, got {layers}")
        kt, kf = kernel
        if kt % 2 == 0 or kf % 2 == 0:
            raise ValueError(f"kernel must be odd in both axes (same-size output), got {tuple(kernel)}")
        pad = (kf // 2, kf // 2, kt // 2, kt // 2)  # (left, right) on mels, (top, bottom) on frames
        mods: list[nn.Module] = []
        for i in range(layers):
            c_in, c_out = (1 if i == 0 else channels), (1 if i == layers - 1 else channels)
            mods += [nn.ReplicationPad2d(pad), nn.Conv2d(c_in, c_out, (kt, kf))]
            if i < layers - 1:
                mods.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*mods)
        self.register_buffer("offset", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    def forward(self, pinv_logmel: torch.Tensor) -> torch.Tensor:
        z = ((pinv_logmel - self.offset) / self.scale).unsqueeze(1)
        return pinv_logmel - self.scale * self.net(z).squeeze(1)


@register_model("deep_head")
class DeepHead(nn.Module):
    """The paper's "deep" classification head on a teacher's class probabilities: linear n -> hidden -> classes
    (ReLU between; logits out, sigmoid + BCE in training)."""

    def __init__(self, n_inputs: int, n_classes: int, hidden: int = 100) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
