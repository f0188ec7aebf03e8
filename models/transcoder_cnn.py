"""The spectral transcoder's CNN (Tailleur et al., DCASE 2023, "Spectral transcoder: using pretrained urban
sound classifiers on undersampled spatial representations"; docs/methods.md#spectral-transcoder).

It refines the PINV estimate of a log-mel spectrogram: ``layers`` convolutions (paper: 5) of ``channels``
channels (paper: 64), kernel ``kernel`` = (time, mel) = 3 x 5 with replication padding, ReLU between
layers and none after the last; the output is the *residual* ``x - cnn(x)``. Inputs ``(batch, frames,
mels)`` are standardised with the ``offset``/``scale`` buffers (set from the training data, saved in the
state dict) before the convolutions and the correction is scaled back, so the same network fits dB
(PANN) and natural-log (YAMNet) spectrograms.

The authors' trained checkpoints (``models.CNN`` of modantailleur/paperSpectralTranscoder: a plain state dict
``mod_conv.{i}.{weight,bias}``, with ``<file>_settings.yaml`` beside it) load into this class strictly with
:func:`load_authors_cnn`. Their network is this one with no input standardisation:

=================================================  =====================================================
theirs                                             ours
=================================================  =====================================================
``mod_conv`` = [ReplicationPad2d((k//2, k//2, 1,    ``net``, the same layout, so module ``i`` of one is
1)), Conv2d(1, 64, (3, k)), ReLU, ..., Pad, Conv2d  module ``i`` of the other: ``mod_conv.{i}.weight`` ->
(64, 1, (3, k))], no ReLU after the last            ``net.{i}.weight`` (i = 1, 4, 7, ...), same for bias
input PINV Mel as it is; ``y = x - conv(x)``        ``offset = 0``, ``scale = 1``: ``(x - 0) / 1``, and
                                                    ``x - 1 * net(x)``, the same function
``cnn_dilation`` (1 in the three published files)   no dilation: a file whose settings ask for one is refused
=================================================  =====================================================

Their CNN computes the PINV itself (``utils/pinv_transcoder.py``); ours takes the PINV output, which
``tasks.transcoder.pinv.PinvTranscoder(method="authors")`` reproduces.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from models.checkpoint_format import CheckpointError, load_strict, read_checkpoint
from models.registry import register_model

AUTHORS_PREFIX = "mod_conv."


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


class _SettingsLoader(yaml.SafeLoader):
    """Safe YAML plus the ``!!python/tuple`` tag the authors' settings files use for shapes."""


_SettingsLoader.add_constructor("tag:yaml.org,2002:python/tuple", lambda ld, node: tuple(ld.construct_sequence(node)))


def read_authors_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``<checkpoint>_settings.yaml`` of one of the authors' models (shapes, CNN size, ``mels_type``)."""
    try:
        settings = yaml.load(Path(path).read_text(), Loader=_SettingsLoader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as err:
        raise CheckpointError(f"{path}: cannot read the transcoder settings ({type(err).__name__}: {err})") from None
    if not isinstance(settings, dict):
        raise CheckpointError(f"{path}: expected a mapping of settings, found a {type(settings).__name__}")
    return settings


def _architecture(state: object, path: str | os.PathLike[str]) -> tuple[int, int, tuple[int, int]]:
    """(channels, layers, kernel) of an authors' state dict, from its conv weights."""
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: expected the authors' CNN state dict, found a {type(state).__name__}")
    foreign = sorted(k for k in state if not str(k).startswith(AUTHORS_PREFIX))
    if foreign:
        raise CheckpointError(f"{path}: not an authors' CNN state dict (keys {foreign[:4]} lack {AUTHORS_PREFIX!r})")
    weights = [v for k, v in state.items() if str(k).endswith(".weight")]
    if len(weights) < 2 or any(not isinstance(w, torch.Tensor) or w.dim() != 4 for w in weights):
        raise CheckpointError(f"{path}: expected at least two 4-D conv weights under {AUTHORS_PREFIX!r}")
    return int(weights[0].shape[0]), len(weights), (int(weights[0].shape[2]), int(weights[0].shape[3]))


def _check_settings(settings: dict[str, Any], arch: tuple[int, int, tuple[int, int]], path: Path) -> None:
    channels, layers, kernel = arch
    wanted = {
        "model_type": "cnn_pinv",
        "cnn_dilation": 1,
        "cnn_nb_channels": channels,
        "cnn_nb_layers": layers,
        "cnn_kernel_size": kernel[1],
    }
    wrong = [f"{k}={settings.get(k)!r} (needs {v!r})" for k, v in wanted.items() if settings.get(k) != v]
    if wrong:
        raise CheckpointError(f"{path}: its settings do not describe this CNN: {', '.join(wrong)}")


def load_authors_cnn(path: str | os.PathLike[str]) -> tuple[TranscoderCNN, dict[str, Any] | None]:
    """(the authors' checkpoint at ``path`` in a :class:`TranscoderCNN`, in eval mode; its settings, or None
    without ``<path>_settings.yaml``). Every key mapped and used, every shape checked (CheckpointError)."""
    path = Path(path)
    state = read_checkpoint(path)
    arch = _architecture(state, path)
    settings_path = path.with_name(path.name + "_settings.yaml")
    settings = read_authors_settings(settings_path) if settings_path.is_file() else None
    if settings is not None:
        _check_settings(settings, arch, settings_path)
    model = TranscoderCNN(channels=arch[0], layers=arch[1], kernel=arch[2])
    mapped = {"net." + k[len(AUTHORS_PREFIX) :]: v for k, v in state.items()}
    mapped.update(offset=torch.zeros(()), scale=torch.ones(()))  # their CNN sees the PINV Mel unscaled
    load_strict(model, mapped, path, what="authors' CNN state dict (mod_conv.* -> net.*)")
    return model.eval(), settings


@register_model("deep_head")
class DeepHead(nn.Module):
    """The paper's "deep" classification head on a teacher's class probabilities: linear n -> hidden -> classes
    (ReLU between; logits out, sigmoid + BCE in training)."""

    def __init__(self, n_inputs: int, n_classes: int, hidden: int = 100) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
