"""cIoU and AUC of sound localisation (Senocak et al., CVPR 2018; docs/methods.md#sound-localisation).

- Annotator consensus: g = min(1, boxes covering the pixel / ``annotators``) (2 in the SoundNet-Flickr
  protocol: a pixel one of three annotators covers weighs 0.5).
- Binarisation, two conventions: (a) ``fraction``: pixels above ``tau`` x the map's max (Qian et al.,
  tau 0.5); (b) ``relative_area``: the LVS / EZ-VSL code's rule: min-max normalise, take the value at
  sorted position ``int(keep * pixels)`` as threshold, set pixels above it to 1 and pixels below 1 to 0
  (so a constant map keeps every pixel).
- cIoU = sum(g over predicted pixels) / (sum(g) + predicted pixels where g = 0).
- Success rate at t: fraction of images with cIoU >= t; AUC: trapezoid over t = 0, 1/(n-1), ..., 1
  (21 points); ``ciou_at_0.5`` is the success rate at 0.5, the number papers call "cIoU".
"""

from __future__ import annotations

import numpy as np


def consensus_map(boxes: np.ndarray, side: int, annotators: int = 2) -> np.ndarray:
    """g for (B, 4) boxes x0, y0, x1, y1 in pixels (rows with x1 <= x0 are padding) on a side x side frame."""
    count = np.zeros((side, side), np.float64)
    for x0, y0, x1, y1 in np.asarray(boxes, float).reshape(-1, 4):
        if x1 > x0 and y1 > y0:
            count[max(0, int(y0)) : max(0, int(y1)), max(0, int(x0)) : max(0, int(x1))] += 1
    return np.minimum(1.0, count / annotators)


def binarise_fraction(m: np.ndarray, tau: float) -> np.ndarray:
    """Convention (a): pixels above ``tau`` x max (an all-zero map predicts nothing)."""
    peak = float(m.max())
    return (m > tau * peak) if peak > 0 else np.zeros(m.shape, bool)


def binarise_relative_area(m: np.ndarray, keep: float = 0.5) -> np.ndarray:
    """Convention (b), the LVS / EZ-VSL evaluation code's rule (see the module docstring)."""
    m = np.asarray(m, np.float64)
    lo, hi = m.min(), m.max()
    p = (m - lo) / (hi - lo) if hi > lo else m.copy()
    thr = np.sort(p.ravel())[min(p.size - 1, int(p.size * keep))]
    p[p > thr] = 1
    p[p < 1] = 0
    return p.astype(bool)


def ciou(pred: np.ndarray, g: np.ndarray) -> float:
    """Consensus IoU of a binary prediction against a consensus map g."""
    pred = np.asarray(pred, bool)
    denom = g.sum() + (pred & (g == 0)).sum()
    return float((g * pred).sum() / denom) if denom > 0 else 0.0


def success_curve(cious: np.ndarray, points: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds 0..1 in ``points`` steps, fraction of images with cIoU >= each)."""
    t = np.linspace(0, 1, points)
    c = np.asarray(cious, float)
    return t, np.array([(c >= x).mean() if len(c) else 0.0 for x in t])


def auc(cious: np.ndarray, points: int = 21) -> float:
    t, s = success_curve(cious, points)
    return float(np.sum((s[1:] + s[:-1]) / 2 * np.diff(t)))


def summary(cious: np.ndarray, points: int = 21) -> dict[str, float]:
    """``ciou_at_0.5``, ``mean_ciou`` and ``auc`` of per-image cIoUs."""
    c = np.asarray(cious, float)
    return {"ciou_at_0.5": float((c >= 0.5).mean()), "mean_ciou": float(c.mean()), "auc": auc(c, points)}


def multi_source_ciou(
    class_maps: dict[int, np.ndarray], boxes: np.ndarray, box_class: np.ndarray, tau: float, annotators: int
) -> float:
    """Mean over the sounding classes of cIoU(class map > tau x its max, that class's consensus map)."""
    scores = [
        ciou(binarise_fraction(m, tau), consensus_map(boxes[box_class == k], m.shape[0], annotators))
        for k, m in class_maps.items()
    ]
    return float(np.mean(scores)) if scores else 0.0
