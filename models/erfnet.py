"""ERFNet: efficient residual factorised ConvNet for real-time semantic segmentation.

Romera, Alvarez, Bergasa and Arroyo, "ERFNet: Efficient Residual Factorized
ConvNet for Real-time Semantic Segmentation", IEEE Transactions on Intelligent
Transportation Systems 19(1), 2018 (IV 2017 conference version). The numbers are
those of the paper (docs/methods.md#erfnet) and of the authors' reference
PyTorch implementation (``erfnet_pytorch``):

- downsampler block: a 3x3 stride-2 conv with (out - in) channels concatenated
  with a 2x2 max-pool of the input, batch norm (eps 1e-3), ReLU;
- non-bottleneck-1D block: 3x1 conv, ReLU, 1x3 conv, BN, ReLU, 3x1 and 1x3
  convs dilated by d (ReLU between them), BN, spatial dropout p, residual
  add, ReLU; every conv has a bias, as in the reference;
- encoder: down 3->16, down 16->64, 5 x nb1d(64, d=1, p=0.03), down 64->128,
  2 x [nb1d(128, d) for d in 2, 4, 8, 16] with p=0.3;
- decoder: upsampler (3x3 stride-2 transposed conv + BN + ReLU) 128->64,
  2 x nb1d(64), upsampler 64->16, 2 x nb1d(16), then a 2x2 stride-2
  transposed conv 16->num_classes.

With ``num_classes=20`` (the paper's 19 Cityscapes classes + void) the model has
2,064,256 parameters (the paper: "2.06 M"). The reference implementation also
builds a 1x1 conv head on the encoder for its encoder-only pre-training stage
(128*20 + 20 = 2,580 more parameters), unused by the full network; it is not
built here. Output logits have the input's resolution when both sides of the
input are multiples of 8.

``dropout_scale`` multiplies every block's dropout probability (1.0 = the
paper's; 0.0 turns spatial dropout off).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register_model

_BN_EPS = 1e-3


class DownsamplerBlock(nn.Module):
    """Concat(3x3 stride-2 conv with ``c_out - c_in`` channels, 2x2 max-pool) -> BN -> ReLU; halves H and W."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out <= c_in:
            raise ValueError(f"a downsampler block needs c_out > c_in, got {c_in} -> {c_out}")
        self.conv = nn.Conv2d(c_in, c_out - c_in, 3, stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(c_out, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class NonBottleneck1d(nn.Module):
    """Residual block of two factorised (3x1 then 1x3) conv pairs, the second pair dilated by ``dilation``."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        d = dilation
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0), bias=True)
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1), bias=True)
        self.bn1 = nn.BatchNorm2d(channels, eps=_BN_EPS)
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), padding=(d, 0), dilation=(d, 1), bias=True)
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), padding=(0, d), dilation=(1, d), bias=True)
        self.bn2 = nn.BatchNorm2d(channels, eps=_BN_EPS)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv3x1_1(x))
        out = F.relu(self.bn1(self.conv1x3_1(out)))
        out = F.relu(self.conv3x1_2(out))
        out = self.dropout(self.bn2(self.conv1x3_2(out)))
        return F.relu(out + x)


class UpsamplerBlock(nn.Module):
    """3x3 stride-2 transposed conv (doubles H and W exactly) -> BN -> ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=True)
        self.bn = nn.BatchNorm2d(c_out, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _encoder(dropout_scale: float) -> nn.Sequential:
    layers: list[nn.Module] = [DownsamplerBlock(3, 16), DownsamplerBlock(16, 64)]
    layers += [NonBottleneck1d(64, 1, 0.03 * dropout_scale) for _ in range(5)]
    layers.append(DownsamplerBlock(64, 128))
    layers += [NonBottleneck1d(128, d, 0.3 * dropout_scale) for _ in range(2) for d in (2, 4, 8, 16)]
    return nn.Sequential(*layers)


def _decoder(num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        UpsamplerBlock(128, 64),
        NonBottleneck1d(64, 1, 0.0),
        NonBottleneck1d(64, 1, 0.0),
        UpsamplerBlock(64, 16),
        NonBottleneck1d(16, 1, 0.0),
        NonBottleneck1d(16, 1, 0.0),
        nn.ConvTranspose2d(16, num_classes, 2, stride=2, padding=0, output_padding=0, bias=True),
    )


@register_model("erfnet")
class ERFNet(nn.Module):
    """Encoder-decoder segmentation network; returns per-pixel logits (batch, num_classes, H, W)."""

    def __init__(self, num_classes: int = 20, dropout_scale: float = 1.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if dropout_scale < 0:
            raise ValueError(f"dropout_scale must be >= 0, got {dropout_scale}")
        self.num_classes = num_classes
        self.encoder = _encoder(dropout_scale)
        self.decoder = _decoder(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, 3, H, W) with H and W multiples of 8 -> logits (batch, num_classes, H, W)."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"ERFNet needs input sides that are multiples of 8, got {tuple(x.shape[-2:])}")
        return self.decoder(self.encoder(x))
