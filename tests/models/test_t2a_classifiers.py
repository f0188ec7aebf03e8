import pytest
import torch

import models

SHAPE = (126, 64)  # 4 s at 16 kHz, hop 512, 64 mel bands


@pytest.mark.parametrize("name", ["salamon_cnn", "crnn"])
def test_output_shape_and_one_step_lowers_the_loss(name: str, one_torch_thread: None) -> None:
    torch.manual_seed(0)
    net = models.get(name)(n_classes=10, input_shape=SHAPE, dropout=0.0)
    x, y = torch.randn(8, 1, *SHAPE), torch.arange(8) % 10
    assert net(x).shape == (8, 10)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad()
    before.backward()
    opt.step()
    assert torch.nn.functional.cross_entropy(net(x), y).item() < before.item()


def test_salamon_cnn_layers() -> None:
    net = models.get("salamon_cnn")(n_classes=10, input_shape=SHAPE)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(24, (5, 5)), (48, (5, 5)), (48, (5, 5))]
    dense = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    # 126 x 64 -> two (2, 4) pools -> 31 x 4 with 48 filters -> 64 -> 10
    assert [(d.in_features, d.out_features) for d in dense] == [(48 * 31 * 4, 64), (64, 10)]


def test_crnn_has_a_two_layer_bidirectional_gru_of_128() -> None:
    net = models.get("crnn")(n_classes=10, input_shape=SHAPE, channels=16)
    assert (net.gru.num_layers, net.gru.bidirectional, net.gru.hidden_size) == (2, True, 128)
    with pytest.raises(ValueError, match="too small"):
        models.get("crnn")(n_classes=10, input_shape=(126, 16))


@pytest.mark.parametrize("name", ["salamon_cnn", "crnn"])
def test_checkpoint_round_trip(name: str, tmp_path) -> None:
    net = models.get(name)(n_classes=5, input_shape=SHAPE).eval()
    torch.save(net.state_dict(), tmp_path / "m.pt")
    other = models.get(name)(n_classes=5, input_shape=SHAPE).eval()
    other.load_state_dict(torch.load(tmp_path / "m.pt"))
    x = torch.randn(2, 1, *SHAPE)
    assert torch.equal(net(x), other(x))
