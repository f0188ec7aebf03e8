"""The two-stage localisation network: shapes, the ImageNet loader's format, checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

import models
from models.av_localisation import load_imagenet_weights


@pytest.fixture
def net(one_torch_thread) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.get("av_localisation")(n_classes=5, embed_dim=16, proj_hidden=32, avc_hidden=8).eval()


def test_visual_maps_are_16x16_at_256_and_heads_have_k_outputs(net: torch.nn.Module) -> None:
    with torch.no_grad():
        out = net(torch.randn(1, 3, 256, 256), torch.randn(1, 1, 64, 64))
        assert out["vmap"].shape == (1, 512, 16, 16)  # layer4 at stride 1
        assert out["v_cam"].shape == (1, 5, 16, 16) and out["a_logits"].shape == (1, 5)
        a_emb, v_emb = net.class_embeddings(out)
        assert a_emb.shape == v_emb.shape == (1, 5, 16)
        assert torch.allclose(a_emb.norm(dim=-1), torch.ones(1, 5), atol=1e-5)
        assert net.pixel_embeddings(out["vmap"]).shape == (1, 16, 16, 16)
        assert net.correspondence(torch.randn(3, 512), torch.randn(2, 512)).shape == (2, 3, 2)


def test_imagenet_weights_load_from_a_torchvision_state_dict(net: torch.nn.Module, tmp_path: Path) -> None:
    ref = resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "resnet18.pth")  # the format torchvision's hub files have
    load_imagenet_weights(net.visual, tmp_path / "resnet18.pth")
    assert torch.equal(net.visual[0].weight, ref.conv1.weight)
    assert torch.equal(net.visual[7][1].conv2.weight, ref.layer4[1].conv2.weight)
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvision resnet18 state dict"):
        load_imagenet_weights(net.visual, tmp_path / "other.pth")


def test_checkpoint_round_trips(net: torch.nn.Module, tmp_path: Path) -> None:
    torch.save(net.state_dict(), tmp_path / "m.pt")
    again = models.get("av_localisation")(n_classes=5, embed_dim=16, proj_hidden=32, avc_hidden=8)
    again.load_state_dict(torch.load(tmp_path / "m.pt"))
    x, a = torch.randn(1, 3, 32, 32), torch.randn(1, 1, 16, 64)
    with torch.no_grad():
        assert torch.equal(net(x, a)["v_logits"], again.eval()(x, a)["v_logits"])


def test_fixed_trunks_leave_backbones_and_class_heads_unchanged(net: torch.nn.Module) -> None:
    net.fix_trunks()
    net.train()
    assert not net.visual.training and not net.audio.training and net.v_proj.training
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD([q for q in net.parameters() if q.requires_grad], lr=0.1)
    out = net(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 64))
    a, v = net.class_embeddings(out)
    (a.sum() + v.sum() + net.pixel_embeddings(out["vmap"]).sum()).backward()
    opt.step()
    after = net.state_dict()
    fixed = ("visual.", "audio.", "v_cls.", "a_cls.")
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(fixed))
    assert not torch.equal(before["v_proj.0.weight"], after["v_proj.0.weight"])
