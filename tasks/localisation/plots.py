"""Localisation figures: heat-map overlays with the annotators' boxes, success rate against threshold."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from soundflow.io import atomic_path  # noqa: E402
from tasks.localisation.metrics import success_curve  # noqa: E402


def _save(fig, path: Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return Path(path)


def overlay_grid(frames: np.ndarray, maps: np.ndarray, boxes: np.ndarray, path: Path, categories, audio_label) -> Path:
    """Each frame with its map (jet, alpha 0.5) and the annotators' boxes (white), titled by its sounds."""
    n = max(1, len(frames))
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(len(frames)):
        ax = axes.ravel()[i]
        ax.imshow(frames[i])
        ax.imshow(maps[i], cmap="jet", alpha=0.5, vmin=0, vmax=1)
        for x0, y0, x1, y1 in boxes[i]:
            if x1 > x0:
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=0.8))
        ax.set_title(", ".join(categories[k] for k in np.flatnonzero(audio_label[i])), fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def success_plot(cious: dict[str, np.ndarray], points: int, path: Path) -> Path:
    """Success rate (images with cIoU >= t) against t, per method and binarisation convention."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, conv in zip(axes, ("fraction", "relative_area")):
        for key, c in cious.items():
            method, k_conv = key.split("/")
            if k_conv == conv:
                t, s = success_curve(c, points)
                ax.plot(t, s, marker=".", label=method)
        ax.set(xlabel="cIoU threshold t", ylabel="success rate", title=f"binarisation: {conv}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
