"""The teachers' architectures and their official checkpoint formats, written here with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import models
from models.checkpoint_format import CheckpointError
from models.pann_cnn14 import load_pann
from models.yamnet import load_yamnet


def _randomised(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict of random values in the model's exact keys and shapes (BN statistics included)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            out[k] = (
                torch.rand(v.shape, generator=g) + 0.5
                if k.endswith("running_var")
                else torch.randn(v.shape, generator=g) * 0.1
            )
        else:
            out[k] = v.clone()
    return out


def _pann_file(path: Path, name: str, width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A file in the published PANN format: {"model": state dict + torchlibrosa front end, "iteration": ...}."""
    state = _randomised(models.get(name)(n_classes=527, width=width), seed)
    front = {
        "spectrogram_extractor.stft.conv_real.weight": torch.randn(513, 1, 1024),
        "spectrogram_extractor.stft.conv_imag.weight": torch.randn(513, 1, 1024),
        "logmel_extractor.melW": torch.randn(513, 64),
    }
    torch.save({"model": {**state, **front}, "iteration": 660000}, path)
    return state


@pytest.mark.parametrize(("name", "modules"), [
    ("pann_cnn14", ["bn0", *(f"conv_block{i}" for i in range(1, 7)), "fc1", "fc_audioset"]),
    ("pann_resnet38", ["bn0", "conv_block1", "resnet", "conv_block_after1", "fc1", "fc_audioset"]),
])  # fmt: skip
def test_pann_checkpoint_round_trips_through_the_official_format(
    tmp_path: Path, name: str, modules: list[str], one_torch_thread: None
) -> None:
    state = _pann_file(tmp_path / "ckpt.pth", name, width=8)
    assert {k.split(".")[0] for k in state} == set(modules)
    built = models.get(name)(n_classes=527, width=8)
    load_pann(built, tmp_path / "ckpt.pth")
    reference = models.get(name)(n_classes=527, width=8)
    reference.load_state_dict(state)
    x = torch.randn(2, 101, 64)
    assert torch.equal(built.eval()(x), reference.eval()(x))
    assert built(x).shape == (2, 527)


def test_full_size_teachers_have_the_published_sizes() -> None:
    n = {
        name: sum(p.numel() for p in models.get(name)().parameters())
        for name in ("pann_cnn14", "pann_resnet38", "yamnet")
    }
    assert n["pann_cnn14"] == 80_753_615  # PANNs' CNN14: 81 M parameters
    assert 73e6 < n["pann_resnet38"] < 75e6  # ResNet38: 74 M
    assert 3.7e6 < n["yamnet"] < 3.8e6  # YAMNet: 3.7 M


def test_resnet38_keys_follow_the_official_layout() -> None:
    keys = set(models.get("pann_resnet38")(width=8).state_dict())
    assert "resnet.layer2.0.downsample.1.weight" in keys and "resnet.layer2.0.downsample.2.running_mean" in keys
    assert not any(k.startswith("resnet.layer1.0.downsample") for k in keys)  # same width, stride 1: no shortcut conv
    assert "resnet.layer4.2.bn2.weight" in keys and "resnet.layer3.5.conv1.weight" in keys


def test_yamnet_port_state_dict_round_trips(tmp_path: Path, one_torch_thread: None) -> None:
    model = models.get("yamnet")(width=0.25)
    state = _randomised(model, 1)
    assert {k.split(".")[0] for k in state} == {f"layer{i}" for i in range(1, 15)} | {"classifier"}
    assert "layer1.fused.conv.weight" in state and "layer14.pointwise_conv.bn.running_var" in state
    torch.save(state, tmp_path / "yamnet.pth")
    loaded = load_yamnet(models.get("yamnet")(width=0.25), tmp_path / "yamnet.pth")
    model.load_state_dict(state)
    x = torch.randn(2, 96, 64)
    assert torch.equal(loaded.eval()(x), model.eval()(x))
    assert all(m.eps == 1e-4 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_yamnet_pads_like_tensorflow_same() -> None:
    from models.yamnet import Conv2dSame

    conv = Conv2dSame(1, 1, 3, stride=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    out = conv(torch.ones(1, 1, 4, 4))  # TF SAME, stride 2, even input: pad 0 before, 1 after
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0].tolist() == [[9.0, 6.0], [6.0, 4.0]]


def test_wrong_shapes_formats_and_files_are_refused_by_name(tmp_path: Path) -> None:
    _pann_file(tmp_path / "w8.pth", "pann_cnn14", width=8)
    with pytest.raises(CheckpointError, match=r"w8\.pth: does not fit Cnn14: .*conv_block1\.conv1\.weight has shape"):
        load_pann(models.get("pann_cnn14")(n_classes=527, width=16), tmp_path / "w8.pth")
    with pytest.raises(CheckpointError, match=r"w8\.pth: does not fit ResNet38: missing keys"):
        load_pann(models.get("pann_resnet38")(n_classes=527, width=8), tmp_path / "w8.pth")
    torch.save(models.get("pann_cnn14")(width=8).state_dict(), tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match=r"plain\.pth: not a PANN checkpoint"):
        load_pann(models.get("pann_cnn14")(width=8), tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match=r"w8\.pth: a PANN-style checkpoint"):
        load_yamnet(models.get("yamnet")(), tmp_path / "w8.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pth: not a readable torch checkpoint"):
        load_pann(models.get("pann_cnn14")(width=8), tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match=r"missing\.pth: checkpoint file not found"):
        load_yamnet(models.get("yamnet")(), tmp_path / "missing.pth")
