"""The two stages' losses (Qian et al., ECCV 2020; docs/methods.md#sound-localisation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def correspondence_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every (audio i, frame j) pair, class 1 = matched (i == j): averaged separately over
    the matched and the mismatched pairs, then the two averages averaged (so the N - 1 mismatches per
    clip do not drown the one match)."""
    n = logits.shape[0]
    target = torch.eye(n, dtype=torch.long, device=logits.device)
    ce = F.cross_entropy(logits.reshape(-1, 2).float(), target.reshape(-1), reduction="none").view(n, n)
    matched = target.bool()
    return 0.5 * (ce[matched].mean() + ce[~matched].mean())


def stage1_loss(model, out: dict, audio_label: torch.Tensor, visual_label: torch.Tensor) -> dict[str, torch.Tensor]:
    """BCE of the audio classes + BCE of the visual classes + the audiovisual correspondence loss."""
    a_bce = F.binary_cross_entropy_with_logits(out["a_logits"].float(), audio_label.float())
    v_bce = F.binary_cross_entropy_with_logits(out["v_logits"].float(), visual_label.float())
    avc = correspondence_loss(model.correspondence(out["vmap"].mean((2, 3)), out["amap"].mean((2, 3))))
    return {"loss": a_bce + v_bce + avc, "audio_bce": a_bce, "visual_bce": v_bce, "avc": avc}


def distance_loss(
    a_emb: torch.Tensor, v_emb: torch.Tensor, a_prob: torch.Tensor, v_prob: torch.Tensor, gate: float, margin: float
) -> torch.Tensor:
    """Stage 2: d = 2 - 2 cos between class-k embeddings of audio i and frame j; a (k, i, j) counts only when
    audio i's and frame j's class-k probabilities both exceed ``gate``; loss = mean d over matched pairs
    (i == j) + mean relu(margin - sqrt(d))^2 over mismatched ones. Zero when no pair passes the gate."""
    d = (2 - 2 * torch.einsum("ikd,jkd->kij", a_emb.float(), v_emb.float())).clamp_min(0)
    used = (a_prob.T[:, :, None] > gate) & (v_prob.T[:, None, :] > gate)  # (K, N, N)
    eye = torch.eye(d.shape[1], dtype=torch.bool, device=d.device)[None]
    pos, neg = used & eye, used & ~eye
    loss = d.new_zeros(())
    if pos.any():
        loss = loss + d[pos].mean()
    if neg.any():
        loss = loss + F.relu(margin - torch.sqrt(d[neg] + 1e-8)).pow(2).mean()
    return loss
