"""Each stage's loss on a fixed batch: finite, and lowered by one optimisation step."""

from __future__ import annotations

import pytest
import torch

import models
from tasks.localisation.losses import correspondence_loss, distance_loss, stage1_loss


@pytest.fixture
def batch():
    torch.manual_seed(0)
    frames, audio = torch.randn(4, 3, 32, 32), torch.randn(4, 1, 16, 64)
    labels = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.float32)
    return frames, audio, labels


def _net():
    torch.manual_seed(1)
    return models.get("av_localisation")(n_classes=3, embed_dim=16, proj_hidden=32, avc_hidden=8)


def _stage2(net, frames, audio):
    out = net(frames, audio)
    a, v = net.class_embeddings(out)
    ones = torch.ones(len(frames), 3)  # every class passes the gate: the loss sees every pair
    return distance_loss(a, v, ones, ones, gate=0.3, margin=1.4)


@pytest.mark.parametrize("stage", [1, 2])
def test_one_step_lowers_the_loss(stage: int, batch, one_torch_thread) -> None:
    frames, audio, labels = batch
    net = _net().eval()  # fixed batch-norm statistics: the step's effect alone

    def loss():
        out = net(frames, audio)
        return stage1_loss(net, out, labels, labels)["loss"] if stage == 1 else _stage2(net, frames, audio)

    before = loss()
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        assert torch.isfinite(before) and loss() < before


def test_correspondence_averages_matched_and_mismatched_separately() -> None:
    logits = torch.zeros(3, 3, 2)
    logits[..., 1] = torch.eye(3) * 20 - 10  # confident and right everywhere
    assert correspondence_loss(logits) < 1e-3
    logits[0, 0] = torch.tensor([10.0, -10.0])  # one matched pair wrong: a third of the matched mean
    assert correspondence_loss(logits) == pytest.approx(0.5 * 20 / 3, rel=1e-3)


def test_distance_loss_gate_and_margin() -> None:
    e = torch.nn.functional.normalize(torch.randn(2, 1, 8), dim=-1)
    assert distance_loss(e, e, torch.zeros(2, 1), torch.ones(2, 1), 0.3, 1.4) == 0  # nothing passes the gate
    same = torch.ones(2, 1, 8) / 8**0.5  # every pair identical: positives 0, negatives pay (1.4 - 0)^2
    assert distance_loss(same, same, torch.ones(2, 1), torch.ones(2, 1), 0.3, 1.4) == pytest.approx(1.96, rel=1e-3)


@pytest.mark.gpu
def test_both_stages_train_a_step_under_bf16_on_cuda(batch) -> None:
    frames, audio, labels = (x.cuda() for x in batch)
    net = _net().cuda()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    for stage in (1, 2):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = net(frames, audio)
            loss = stage1_loss(net, out, labels, labels)["loss"] if stage == 1 else _stage2(net, frames, audio)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
