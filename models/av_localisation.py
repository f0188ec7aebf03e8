"""Two-stage audiovisual sound localisation network (Qian, Hu, Zhang, Lin, Wang, Zhu, Zhou:
"Multiple Sound Sources Localization from Coarse to Fine", ECCV 2020; docs/methods.md#sound-localisation).

Two torchvision ResNet-18 backbones: vision on RGB frames with layer4 at stride 1 (512 x 16 x 16 maps
at 256 x 256; ImageNet weights loadable from a local torchvision state-dict file), audio on one-channel
log-mel spectrograms (N, 1, T, 64), trained from scratch. Stage 1 heads: a 1 x 1 conv per stream gives
K class activation maps, averaged into K logits, and the audiovisual correspondence MLP 1024 -> 128 -> 2
classifies (audio, frame) pairs of pooled features. Stage 2 heads: class-aware features (a stream's map
weighted by the class's ReLU'd activation, detached, divided by its sum) projected 512 -> 1024 -> 128
and L2-normalised; the visual projection is 1 x 1 convs, so it also embeds every pixel for the maps. Both
projections have no biases, as in the authors' code: they are then positively homogeneous, so a pixel's
class-aware feature (its feature weighted by the class's activation there) embeds to the activation times the
pixel's embedding, and a pixel where the class is not active embeds to zero (the maps' class-aware pixels).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register_model

FEATURE_DIM = 512  # ResNet-18's last stage


def _trunk(in_channels: int, layer4_stride: int) -> nn.Sequential:
    # imported here: torchvision's import (its ops pull in torch._dynamo) costs every stage that lists the
    # models about 1.2 s, and only this architecture needs it
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if layer4_stride == 1:  # BasicBlock has no dilation: the first block's strides are set to 1
        net.layer4[0].conv1.stride = (1, 1)
        net.layer4[0].downsample[0].stride = (1, 1)
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


def load_imagenet_weights(trunk: nn.Sequential, path: str | Path) -> None:
    """Load torchvision's ``resnet18`` ImageNet state dict (``conv1.weight`` ... ``layer4.*``; ``fc.*``
    ignored) into the visual trunk; a file in another format fails naming the missing keys."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    mapped = {}
    for key, value in state.items():
        head = key.split(".", 1)[0]
        if head in names:
            mapped[f"{names.index(head)}.{key.split('.', 1)[1]}"] = value
    missing, _ = trunk.load_state_dict(mapped, strict=False)
    if missing:
        raise ValueError(f"{path}: not a torchvision resnet18 state dict (missing {missing[:4]}...)")


def class_pooled(fmap: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """(N, C, ...) features pooled per class by the detached ReLU'd activations (N, K, ...): (N, K, C)."""
    w = F.relu(cam.detach()).flatten(2)
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-6)
    return torch.einsum("nkp,ncp->nkc", w, fmap.flatten(2))


@register_model("av_localisation")
class AVLocalisation(nn.Module):
    def __init__(self, n_classes: int, embed_dim: int = 128, proj_hidden: int = 1024, avc_hidden: int = 128) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.visual = _trunk(3, layer4_stride=1)
        self.audio = _trunk(1, layer4_stride=2)
        self.v_cls = nn.Conv2d(FEATURE_DIM, n_classes, 1)
        self.a_cls = nn.Conv2d(FEATURE_DIM, n_classes, 1)
        self.avc = nn.Sequential(nn.Linear(2 * FEATURE_DIM, avc_hidden), nn.ReLU(), nn.Linear(avc_hidden, 2))
        self.v_proj = nn.Sequential(
            nn.Conv2d(FEATURE_DIM, proj_hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(proj_hidden, embed_dim, 1, bias=False),
        )
        self.a_proj = nn.Sequential(
            nn.Linear(FEATURE_DIM, proj_hidden, bias=False), nn.ReLU(), nn.Linear(proj_hidden, embed_dim, bias=False)
        )
        self.fixed_trunks = False

    def fix_trunks(self) -> None:
        """Keep both backbones and class heads as they are (no gradients, batch norm in eval mode): only the
        stage-2 projections learn."""
        self.fixed_trunks = True
        for part in (self.visual, self.audio, self.v_cls, self.a_cls):
            part.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> AVLocalisation:
        super().train(mode)
        if self.fixed_trunks:
            for part in (self.visual, self.audio, self.v_cls, self.a_cls):
                part.eval()
        return self

    def forward(self, frames: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames (N, 3, H, W) normalised, audio (N, 1, T, 64): maps, activations and logits of both streams."""
        vmap, amap = self.visual(frames), self.audio(audio)
        v_cam, a_cam = self.v_cls(vmap), self.a_cls(amap)
        return {
            "vmap": vmap,
            "amap": amap,
            "v_cam": v_cam,
            "a_cam": a_cam,
            "v_logits": v_cam.mean((2, 3)),
            "a_logits": a_cam.mean((2, 3)),
        }

    def correspondence(self, v_feat: torch.Tensor, a_feat: torch.Tensor) -> torch.Tensor:
        """Logits (N_audio, N_frames, 2) of every (audio i, frame j) pair of pooled features."""
        n, m = len(a_feat), len(v_feat)
        pairs = torch.cat([a_feat[:, None].expand(n, m, -1), v_feat[None].expand(n, m, -1)], -1)
        return self.avc(pairs)

    def class_embeddings(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 2's L2-normalised class-aware embeddings: audio (N, K, D), visual (N, K, D)."""
        a = self.a_proj(class_pooled(out["amap"], out["a_cam"]))
        v_pooled = class_pooled(out["vmap"], out["v_cam"])  # (N, K, C): the 1x1 convs act on it as a linear map
        v = self.v_proj(v_pooled.permute(0, 2, 1)[..., None]).squeeze(-1).permute(0, 2, 1)
        return F.normalize(a, dim=-1), F.normalize(v, dim=-1)

    def pixel_embeddings(self, vmap: torch.Tensor, normalise: bool = True) -> torch.Tensor:
        """Every pixel's visual embedding (N, D, h, w), L2-normalised unless ``normalise`` is False."""
        e = self.v_proj(vmap)
        return F.normalize(e, dim=1) if normalise else e

    def class_pixel_embeddings(self, out: dict[str, torch.Tensor], normalise: bool = True) -> torch.Tensor:
        """Every pixel's class-aware visual embedding (N, K, D, h, w): the pixel's embedding (L2-normalised
        unless ``normalise`` is False) weighted by class k's ReLU'd activation there (detached), as stage 2
        weights the features it pools; zero where class k is not active. Unnormalised, it is the projection
        of the pixel's class-aware feature itself (the projections are positively homogeneous)."""
        pix = self.pixel_embeddings(out["vmap"], normalise=normalise)
        return F.relu(out["v_cam"].detach())[:, :, None] * pix[:, None]
