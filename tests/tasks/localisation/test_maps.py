from __future__ import annotations

import torch
import torch.nn.functional as F

import models
from tasks.localisation import maps


def test_class_maps_are_relu_of_audio_embedding_dot_pixel_embedding(one_torch_thread) -> None:
    torch.manual_seed(0)
    net = models.get("av_localisation")(n_classes=3, embed_dim=8, proj_hidden=16, avc_hidden=4).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 64))
        a_emb, _ = net.class_embeddings(out)
        for normalise in (False, True):
            pix = net.v_proj(out["vmap"])
            pix = F.normalize(pix, dim=1) if normalise else pix
            expected = F.relu(torch.einsum("nkd,ndhw->nkhw", a_emb, pix))
            got = maps.class_maps(net, out, side=out["vmap"].shape[-1], normalise_pixels=normalise)
            assert torch.allclose(got, expected, atol=1e-5)
            if normalise:  # a cosine map: at most 1
                assert got.max() <= 1 + 1e-5


def test_class_aware_maps_are_the_class_activation_times_the_audio_pixel_agreement(one_torch_thread) -> None:
    torch.manual_seed(1)
    net = models.get("av_localisation")(n_classes=3, embed_dim=8, proj_hidden=16, avc_hidden=4).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 64))
        a_emb, _ = net.class_embeddings(out)
        cam = F.relu(out["v_cam"])
        cos = F.relu(torch.einsum("nkd,ndhw->nkhw", a_emb, F.normalize(net.v_proj(out["vmap"]), dim=1)))
        got = maps.class_maps(net, out, side=out["vmap"].shape[-1], normalise_pixels=True, class_aware=True)
        assert torch.allclose(got, cam * cos, atol=1e-5)
        assert (got[cam == 0] == 0).all()  # nothing where the visual stream does not see the class
        # unnormalised, class k's pixel embedding is the projection of the class-aware feature itself
        n, c, h, w = out["vmap"].shape
        feats = (out["vmap"][:, None] * cam[:, :, None]).reshape(n * 3, c, h, w)
        literal = net.v_proj(feats).reshape(n, 3, -1, h, w)
        assert torch.allclose(net.class_pixel_embeddings(out, normalise=False), literal, atol=1e-4)
