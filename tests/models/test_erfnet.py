import pytest
import torch
import torch.nn.functional as F

import models

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _expected_params(num_classes: int) -> int:
    """Parameter count from the architecture description (every conv with a bias, BN scale + shift)."""

    def down(ci: int, co: int) -> int:
        return (co - ci) * ci * 9 + (co - ci) + 2 * co

    def nb1d(c: int) -> int:
        return 4 * (3 * c * c + c) + 2 * 2 * c

    def up(ci: int, co: int) -> int:
        return ci * co * 9 + co + 2 * co

    encoder = down(3, 16) + down(16, 64) + 5 * nb1d(64) + down(64, 128) + 8 * nb1d(128)
    decoder = up(128, 64) + 2 * nb1d(64) + up(64, 16) + 2 * nb1d(16) + 16 * num_classes * 4 + num_classes
    return encoder + decoder


def test_parameter_count_matches_the_paper() -> None:
    net = models.get("erfnet")(num_classes=20)
    n = sum(p.numel() for p in net.parameters())
    assert n == _expected_params(20) == 2_064_256
    assert abs(n - 2.06e6) / 2.06e6 < 0.01  # the paper: 2.06 M


def test_output_shape_and_registry() -> None:
    assert "erfnet" in models.available()
    net = models.get("erfnet")(num_classes=19).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 128)).shape == (1, 19, 64, 128)
        assert net(torch.randn(2, 3, 24, 40)).shape == (2, 19, 24, 40)
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.randn(1, 3, 30, 64))


def test_dropout_rates_and_dilations() -> None:
    net = models.get("erfnet")(num_classes=19)
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout2d)]
    assert drops == pytest.approx([0.03] * 5 + [0.3] * 8)  # decoder blocks have p=0: no dropout layer
    dil = [m.dilation[0] for m in net.encoder.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 1)]
    assert dil == [1, 1] * 5 + [x for d in (2, 4, 8, 16) for x in (1, d)] * 2
    assert not any(isinstance(m, torch.nn.Dropout2d) for m in models.get("erfnet")(dropout_scale=0.0).modules())


def test_eval_mode_is_deterministic() -> None:
    torch.manual_seed(0)
    net = models.get("erfnet")(num_classes=19)
    x = torch.randn(2, 3, 32, 64)
    net.train()
    with torch.no_grad():
        net(x)  # moves the BN running statistics away from their init
        a_train, b_train = net(x), net(x)
    assert not torch.equal(a_train, b_train)  # dropout on in training
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_one_adamw_step_reduces_the_loss() -> None:
    torch.manual_seed(0)
    net = models.get("erfnet")(num_classes=5, dropout_scale=0.0)
    x, y = torch.randn(2, 3, 32, 64), torch.randint(0, 5, (2, 32, 64))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    net.train()
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = F.cross_entropy(net(x), y).item()
    assert final < losses[0]
