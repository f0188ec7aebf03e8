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
