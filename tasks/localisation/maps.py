"""Localisation maps (Qian et al., 2020) and the three baselines (docs/methods.md#sound-localisation).

Model map: per class k, ReLU of the dot product between the audio class-k embedding (L2-normalised) and
each pixel's class-k visual embedding: the visual projection of the pixel's feature, L2-normalised as
the authors' code does, weighted by class k's ReLU'd activation there (``evaluate.class_aware``; stage
2's class-aware features are the feature maps weighted so). Class k's map is thus the activation of
class k (where the visual stream sees it) times the agreement of each pixel with the audio (the cosine),
so the audio's predicted classes select the visual class-aware maps. Bilinearly upsampled to the frame;
the classes whose audio probability exceeds ``class_threshold`` are combined, weighted by that
probability, and the sum divided by its max. The probability is the sigmoid of the audio logit, applied
once (the original applied it twice, so that every class passed its test). Baselines: the whole image, a
centred box, and the audio-free map (the visual class activations alone, weighted by the visual class
probabilities). Stage 1's category-level map (the visual activations of the audible classes, weighted by
their audio probability) is reported beside the model's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _upsample(x: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(x.float(), size=(side, side), mode="bilinear", align_corners=False)


def _max_normalise(m: torch.Tensor) -> torch.Tensor:
    peak = m.flatten(1).max(1).values.clamp_min(1e-12)
    return m / peak[:, None, None]


def class_maps(model, out: dict, side: int, normalise_pixels: bool = False, class_aware: bool = False) -> torch.Tensor:
    """(N, K, side, side): ReLU(audio class-k embedding . pixel embedding), upsampled; ``normalise_pixels``
    L2-normalises the pixel embeddings (a cosine). ``class_aware``: the pixel embedding is class k's own, the
    pixel's embedding weighted by class k's activation there (stage 2's class-aware features, per pixel), so
    class k's map lies where the visual stream sees class k, highest where that object agrees with the audio;
    otherwise one embedding per pixel for every class."""
    a_emb, _ = model.class_embeddings(out)
    if class_aware:
        pix = model.class_pixel_embeddings(out, normalise=normalise_pixels)
        return _upsample(F.relu(torch.einsum("nkd,nkdhw->nkhw", a_emb, pix)), side)
    pix = model.pixel_embeddings(out["vmap"], normalise=normalise_pixels)
    return _upsample(F.relu(torch.einsum("nkd,ndhw->nkhw", a_emb, pix)), side)


def localisation_map(class_map: torch.Tensor, a_prob: torch.Tensor, class_threshold: float) -> torch.Tensor:
    """(N, side, side) in [0, 1]: class maps of the audible classes weighted by their probability, / max."""
    w = a_prob * (a_prob > class_threshold)
    return _max_normalise(torch.einsum("nk,nkhw->nhw", w, class_map))


def audio_guided_cam(out: dict, a_prob: torch.Tensor, side: int, class_threshold: float) -> torch.Tensor:
    """Stage 1's map: the visual class activations of the audible classes, weighted by their audio
    probability (the category-level localisation the stage-2 embeddings refine), / max."""
    return localisation_map(_upsample(F.relu(out["v_cam"]), side), a_prob, class_threshold)


def audio_free_map(out: dict, side: int) -> torch.Tensor:
    """The visual stream's class activations alone (no audio), weighted by the visual class probabilities."""
    cam = _upsample(F.relu(out["v_cam"]), side)
    return _max_normalise(torch.einsum("nk,nkhw->nhw", torch.sigmoid(out["v_logits"].float()), cam))


def whole_image_map(n: int, side: int) -> torch.Tensor:
    return torch.ones(n, side, side)


def centre_box_map(n: int, side: int, box_side: float) -> torch.Tensor:
    """Ones in a centred square of ``box_side`` x the frame side, zeros elsewhere."""
    m = torch.zeros(n, side, side)
    s = int(round(box_side * side))
    lo = (side - s) // 2
    m[:, lo : lo + s, lo : lo + s] = 1
    return m
