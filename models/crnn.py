"""A convolutional recurrent network for environmental sound classification on log-mel spectrograms.

Cakir et al., "Convolutional recurrent neural networks for polyphonic sound event detection", IEEE/ACM
TASLP 25(6), 2017, in the form Ronchini et al. (DCASE 2024) used as their second classifier: convolution
blocks (3x3 conv with ``channels`` filters, 64 by default, batch norm, ReLU, max-pool: by 4, 4 and 2 along
frequency, by 2 in the first two blocks along time, leaving the recurrent layers steps of about 130 ms),
then a 2-layer bidirectional GRU of 128 units per direction over the steps, its outputs averaged over time,
dropout and a linear class layer. Input ``(batch, 1, frames, bands)``.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register_model

FREQ_POOLS = (4, 4, 2)  # 64 mel bands -> 4 x 4 x 2 = 32 times fewer
TIME_POOLS = (2, 2, 1)  # 126 frames (4 s) -> 31 steps of ~130 ms for the GRU


@register_model("crnn")
class CRNN(nn.Module):
    def __init__(
        self,
        n_classes: int,
        input_shape: tuple[int, int] = (126, 64),
        channels: int = 64,
        hidden: int = 128,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        frames, bands = input_shape
        if frames < 4:
            raise ValueError(f"input {input_shape} too small: fewer than 4 frames for the time pools")
        pooled = bands
        for p in FREQ_POOLS:
            pooled //= p
        if pooled < 1:
            raise ValueError(f"input {input_shape} too small: fewer than 32 bands for the frequency pools")
        blocks, c_in = [], 1
        for t, f in zip(TIME_POOLS, FREQ_POOLS):
            conv = nn.Conv2d(c_in, channels, 3, padding=1)
            blocks += [conv, nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d((t, f))]
            c_in = channels
        self.conv = nn.Sequential(*blocks)
        self.gru = nn.GRU(c_in * pooled, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, frames, bands) log-mel -> (batch, n_classes) logits."""
        h = self.conv(x)  # (batch, channels, frames / 4, bands / 32)
        h = h.permute(0, 2, 1, 3).flatten(2)  # (batch, frames, channels x bands)
        out, _ = self.gru(h)
        return self.head(out.float().mean(dim=1))
