"""Google's YAMNet TF weights (``yamnet_weights.npz``) into our YAMNet: the key map and the strict loading, on npz
files written here in TensorFlow's names and layouts (shared/data/yamnet/README.md) from random weights."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint_format import CheckpointError
from models.yamnet import YAMNet, load_yamnet, load_yamnet_npz

WIDTH = 0.25  # the published layout at a quarter of the channels: same 110 variables, small arrays


def _tf_arrays(model: YAMNet) -> dict[str, np.ndarray]:
    """``model``'s weights as TF's export names and lays them out, written from the README's table."""
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    out = {}

    def bn(tf: str, ours: str) -> None:
        out[f"{tf}/bn/beta"] = sd[f"{ours}.bn.bias"]
        out[f"{tf}/bn/moving_mean"] = sd[f"{ours}.bn.running_mean"]
        out[f"{tf}/bn/moving_variance"] = sd[f"{ours}.bn.running_var"]

    out["layer1/conv/kernel"] = sd["layer1.fused.conv.weight"].transpose(2, 3, 1, 0)  # (out,in,kh,kw) -> [kh,kw,in,out]
    bn("layer1/conv", "layer1.fused")
    for n in range(2, 15):
        dw = sd[f"layer{n}.depthwise_conv.conv.weight"]  # (C, 1, kh, kw) -> [kh, kw, C, 1]
        out[f"layer{n}/depthwise_conv/depthwise_kernel"] = dw.transpose(2, 3, 0, 1)
        bn(f"layer{n}/depthwise_conv", f"layer{n}.depthwise_conv")
        pw = sd[f"layer{n}.pointwise_conv.conv.weight"]  # (F, C, 1, 1) -> [1, 1, C, F]
        out[f"layer{n}/pointwise_conv/kernel"] = pw.transpose(2, 3, 1, 0)
        bn(f"layer{n}/pointwise_conv", f"layer{n}.pointwise_conv")
    out["dense/kernel"] = sd["classifier.weight"].T
    out["dense/bias"] = sd["classifier.bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _random_tf_model(seed: int = 0) -> YAMNet:
    """A random YAMNet as TF's could be: BN gamma fixed at 1 (``scale=False``), random statistics and betas."""
    torch.manual_seed(seed)
    model = YAMNet(width=WIDTH)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[YAMNet, dict[str, np.ndarray], Path]:
    model = _random_tf_model()
    arrays = _tf_arrays(model)
    path = tmp_path_factory.mktemp("yamnet") / "yamnet_weights.npz"
    np.savez(path, **arrays)
    return model, arrays, path


def test_the_export_has_yamnets_110_variables(exported) -> None:
    _, arrays, _ = exported
    assert len(arrays) == 110  # 27 convs x (kernel + 3 BN) + dense kernel and bias


def test_round_trip_gives_the_same_weights_and_outputs(exported, one_torch_thread: None) -> None:
    model, _, path = exported
    loaded = load_yamnet_npz(YAMNet(width=WIDTH), path).eval()
    ours, theirs = loaded.state_dict(), model.state_dict()
    assert ours.keys() == theirs.keys()
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k
    x = torch.randn(2, 96, 64)
    assert torch.equal(loaded(x), model(x))
    assert torch.equal(
        load_yamnet(YAMNet(width=WIDTH), path).state_dict()["classifier.bias"], theirs["classifier.bias"]
    )


def test_gamma_is_set_to_one_whatever_the_model_held(exported) -> None:
    _, _, path = exported
    fresh = YAMNet(width=WIDTH)
    with torch.no_grad():
        fresh.layer3.pointwise_conv.bn.weight.fill_(7.0)
    load_yamnet_npz(fresh, path)
    gammas = [m.weight for m in fresh.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(gammas) == 27 and all(bool((g == 1).all()) for g in gammas)


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


CHANGES = {
    "missing": (lambda a: a.pop("layer7/pointwise_conv/bn/moving_mean"), "missing TF variables layer7/pointwise_conv"),
    "unexpected": (lambda a: a.update({"layer15/conv/kernel": np.zeros((3, 3, 1, 1), np.float32)}), "unexpected TF"),
    "transposed": (lambda a: a.update({"dense/kernel": a["dense/kernel"].T}), "dense/kernel"),
    "rank": (lambda a: a.update({"layer2/depthwise_conv/depthwise_kernel": np.zeros((3, 3, 8), np.float32)}), "rank"),
    "integer": (lambda a: a.update({"dense/bias": a["dense/bias"].astype(np.int32)}), "dense/bias is int32"),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_a_mismatched_file_is_refused_naming_it_and_the_problem(exported, tmp_path: Path, case: str) -> None:
    change, says = CHANGES[case]
    _, arrays, _ = exported
    bad = dict(arrays)
    change(bad)
    path = _write(tmp_path / "bad.npz", bad)
    with pytest.raises(CheckpointError) as err:
        load_yamnet_npz(YAMNet(width=WIDTH), path)
    assert str(path) in str(err.value) and says in str(err.value)


def test_the_published_width_refuses_a_quarter_width_file(exported) -> None:
    _, _, path = exported
    with pytest.raises(CheckpointError, match="layer1/conv/kernel"):
        load_yamnet_npz(YAMNet(), path)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "yamnet_weights.npz"
    text.write_text("not a zip")
    with pytest.raises(CheckpointError, match=re.escape(f"{text}: not a readable .npz")):
        load_yamnet_npz(YAMNet(width=WIDTH), text)
    with pytest.raises(CheckpointError, match="not found"):
        load_yamnet_npz(YAMNet(width=WIDTH), tmp_path / "absent.npz")
