import pytest
import torch

import models


def _expected_params(n_classes: int, width: int, dense: int, flat: int) -> int:
    convs = [
        (1, width, 7),
        (width, 2 * width, 5),
        (2 * width, 4 * width, 3),
        (4 * width, 8 * width, 3),
        (8 * width, 16 * width, 3),
    ]
    n = sum(ci * co * k * k + 2 * co for ci, co, k in convs)  # bias-free convs + BN scale/shift
    n += flat * dense + 2 * dense + dense * dense + 2 * dense  # bias-free dense layers + BN
    return n + dense * n_classes + n_classes


def test_paper_size_output_shape_and_parameter_count() -> None:
    net = models.get("aed_cnn")(n_classes=10)  # 1x256x512 input, width 64, dense 512
    # 256x512 -> stride-2 conv 128x256 -> five 2x2 pools -> 4x8 with 1024 channels
    assert sum(p.numel() for p in net.parameters()) == _expected_params(10, 64, 512, 1024 * 4 * 8) == 23_451_594
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 256, 512)).shape == (2, 10)


def test_width_and_input_shape_are_parameters() -> None:
    net = models.get("aed_cnn")(n_classes=7, input_shape=(64, 64), width=4, dense=32)
    assert sum(p.numel() for p in net.parameters()) == _expected_params(7, 4, 32, 64 * 1 * 1)
    assert net(torch.randn(3, 1, 64, 64)).shape == (3, 7)
    with pytest.raises(ValueError, match="too small"):
        models.get("aed_cnn")(n_classes=2, input_shape=(32, 64))


def test_registry() -> None:
    assert "aed_cnn" in models.available()
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        models.get("nope")


def test_he_normal_init() -> None:
    torch.manual_seed(0)
    net = models.get("aed_cnn")(n_classes=10, width=16)
    w = net.features[2][0].weight  # 3x3 conv, fan_in = 32 * 9
    assert w.std().item() == pytest.approx((2 / (32 * 9)) ** 0.5, rel=0.05)
