"""CNN for acoustic event classification on magnitude-spectrogram chunks.

The architecture of the "AED" research code that soundflow's workflow 2
reproduces (numbers in docs/methods.md#aed-cnn), in the
tradition of Piczak, "Environmental sound classification with convolutional
neural networks", MLSP 2015: five conv blocks (conv + batch norm + ReLU +
2x2 max-pool) with 7x7/64 stride 2, 5x5/128, then 3x3 convs of 256, 512 and
1024 channels, followed by two dense layers of 512 units with batch norm and
dropout 0.5, and a linear classifier. Weights use He-normal initialisation.

``width`` scales every conv's channel count (64 is the paper's); the dense
input size follows from ``input_shape``, so the same class serves the paper's
1x256x512 chunks and the pipeline's smaller default configurations.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register_model

# (kernel, stride, channel multiple of width) per conv block
_BLOCKS = ((7, 2, 1), (5, 1, 2), (3, 1, 4), (3, 1, 8), (3, 1, 16))


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def _dense_block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out), nn.ReLU(inplace=True), nn.Dropout(dropout)
    )


@register_model("aed_cnn")
class AedCNN(nn.Module):
    """Spectrogram-chunk classifier; returns logits (softmax or sigmoid is the caller's choice)."""

    def __init__(
        self,
        n_classes: int,
        input_shape: tuple[int, int] = (256, 512),
        width: int = 64,
        dense: int = 512,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        blocks, c_in = [], 1
        for kernel, stride, mult in _BLOCKS:
            blocks.append(_conv_block(c_in, width * mult, kernel, stride))
            c_in = width * mult
        self.features = nn.Sequential(*blocks)
        h, w = input_shape
        for _, stride, _ in _BLOCKS:
            # conv with padding k//2 keeps size/stride (ceil), then the pool halves (floor)
            h, w = -(-h // stride) // 2, -(-w // stride) // 2
        if h < 1 or w < 1:
            raise ValueError(f"input_shape {input_shape} is too small for five conv+pool blocks")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            _dense_block(c_in * h * w, dense, dropout),
            _dense_block(dense, dense, dropout),
            nn.Linear(dense, n_classes),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, 1, freq, time) -> logits (batch, n_classes)."""
        return self.classifier(self.features(x))
