"""PANN ResNet38 (Kong et al., 2020, "PANNs", IEEE/ACM TASLP 28): the paper's PANN teacher
(``ResNet38_mAP=0.434.pth``) of the spectral transcoder (Tailleur et al., DCASE 2023).

``bn0`` on the mel bands; ``conv_block1`` (a CNN14 conv block, 2x2 average pool, dropout 0.2); a ResNet of
basic blocks [3, 4, 6, 3] with 64-128-256-512 channels (``resnet.layer1..4``; a stride-2 block
average-pools its input before ``conv1`` and its shortcut is average pool + 1x1 conv + BN, as in the
official ``_ResNet``; dropout 0.1 inside each block); 2x2 average pool, dropout 0.2;
``conv_block_after1`` (512 -> 2048, no pooling), dropout 0.2; then CNN14's head (``fc1``,
``fc_audioset``). Logits out. ``width`` scales every channel count (64 = the paper's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.pann_cnn14 import ConvBlock, load_pann, mel_input, pooled_head
from models.registry import register_model

LAYERS = (3, 4, 6, 3)
__all__ = ["ResNet38", "load_pann"]


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
            )
        elif c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(x, 2) if self.stride == 2 else x
        out = F.relu_(self.bn1(self.conv1(out)))
        out = F.dropout(out, p=0.1, training=self.training)
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu_(out + identity)


class _ResNet(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        c_in = width
        for i, n in enumerate(LAYERS):
            c_out = width * 2**i
            blocks = [BasicBlock(c_in if j == 0 else c_out, c_out, 2 if (j == 0 and i > 0) else 1) for j in range(n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c_in = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


@register_model("pann_resnet38")
class ResNet38(nn.Module):
    def __init__(self, n_classes: int = 527, width: int = 64, n_mels: int = 64) -> None:
        super().__init__()
        self.n_classes, self.width = n_classes, width
        self.bn0 = nn.BatchNorm2d(n_mels)
        self.conv_block1 = ConvBlock(1, width)
        self.resnet = _ResNet(width)
        self.conv_block_after1 = ConvBlock(width * 8, width * 32)
        self.fc1 = nn.Linear(width * 32, width * 32)
        self.fc_audioset = nn.Linear(width * 32, n_classes)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = mel_input(self.bn0, logmel)
        x = F.dropout(self.conv_block1(x, (2, 2)), p=0.2, training=self.training)
        x = F.dropout(F.avg_pool2d(self.resnet(x), 2), p=0.2, training=self.training)
        x = F.dropout(self.conv_block_after1(x, (1, 1)), p=0.2, training=self.training)
        return pooled_head(self, x)
