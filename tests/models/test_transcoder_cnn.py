"""The transcoder CNN and the deep head: shapes, residual form, one step lowering each loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import models


def test_shapes_residual_and_replication_padding() -> None:
    cnn = models.get("transcoder_cnn")(channels=8, layers=5, kernel=(3, 5))
    x = torch.randn(3, 101, 64)
    assert cnn(x).shape == x.shape
    convs = [m for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and convs[1].kernel_size == (3, 5) and convs[1].out_channels == 8
    assert sum(isinstance(m, torch.nn.ReplicationPad2d) for m in cnn.modules()) == 5
    for c in convs:
        torch.nn.init.zeros_(c.weight)
        torch.nn.init.zeros_(c.bias)
    assert torch.equal(cnn(x), x)  # output = input - correction
    assert models.get("deep_head")(527, 8, hidden=100)(torch.rand(4, 527)).shape == (4, 8)


def test_one_step_lowers_the_mel_loss_and_the_teacher_loss(one_torch_thread: None) -> None:
    torch.manual_seed(0)
    x, target = torch.randn(4, 101, 64), torch.randn(4, 101, 64)
    teacher = models.get("pann_cnn14")(n_classes=5, width=4).requires_grad_(False)
    with torch.no_grad():  # batch-norm statistics of the data, or an untrained teacher's ReLUs all stay at 0
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
        teacher(torch.cat([x, target]))
    teacher.eval()
    soft = torch.sigmoid(teacher(target))
    losses = {
        "mels": lambda m: F.mse_loss(m(x), target),
        "logits": lambda m: F.binary_cross_entropy_with_logits(teacher(m(x)), soft),
    }
    for name, loss_of in losses.items():
        cnn = models.get("transcoder_cnn")(channels=8)
        opt = torch.optim.Adam(cnn.parameters(), lr=1e-3)
        before = loss_of(cnn)
        opt.zero_grad()
        before.backward()
        opt.step()
        assert loss_of(cnn).item() < before.item(), name
