"""The Salamon-style CNN for environmental sound classification on log-mel spectrograms.

Salamon and Bello, "Deep convolutional neural networks and data augmentation for environmental sound
classification", IEEE Signal Processing Letters 24(3), 2017 (SB-CNN), as Ronchini et al. (DCASE 2024)
trained it on real, generated and mixed UrbanSound8K data: three 5x5 convolutions with 24, 48 and 48
filters, the first two each followed by a (4, 2) max-pool (4 along frequency, 2 along time), ReLUs,
then dropout 0.5, a dense layer of 64 units, dropout 0.5 and the class layer. Convolutions are padded
("same"), so the dense input follows from ``input_shape`` = (frames, mel bands) of the input
``(batch, 1, frames, mel bands)``.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register_model

FILTERS = (24, 48, 48)
POOL = (2, 4)  # (time, frequency): the paper's (4, 2) over (frequency, time)


@register_model("salamon_cnn")
class SalamonCNN(nn.Module):
    def __init__(
        self, n_classes: int, input_shape: tuple[int, int] = (128, 128), dense: int = 64, dropout: float = 0.5
    ) -> None:
        super().__init__()
        frames, bands = input_shape
        if frames < POOL[0] ** 2 or bands < POOL[1] ** 2:
            raise ValueError(f"input {input_shape} too small for two {POOL} max-pools")
        c1, c2, c3 = FILTERS
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2),
            nn.MaxPool2d(POOL),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 5, padding=2),
            nn.MaxPool2d(POOL),
            nn.ReLU(),
            nn.Conv2d(c2, c3, 5, padding=2),
            nn.ReLU(),
        )
        flat = c3 * (frames // POOL[0] // POOL[0]) * (bands // POOL[1] // POOL[1])
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat, dense),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, frames, bands) log-mel -> (batch, n_classes) logits."""
        return self.classifier(self.features(x))
