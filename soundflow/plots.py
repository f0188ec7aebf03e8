"""Figures people would rather look at than read: training curves and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from soundflow.io import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def training_curves(
    history: pd.DataFrame, path: Path, title: str = "training", panels: dict[str, list[str]] | None = None
) -> Path:
    """One panel per metric group, per epoch (default: loss and accuracy, train vs validation)."""
    panels = panels or {
        "cross-entropy": ["train_loss", "val_loss"],
        "accuracy (val per file)": ["train_accuracy", "val_accuracy"],
    }
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (ylabel, columns) in zip(axes[0], panels.items()):
        for col in columns:
            ax.plot(history["epoch"], history[col], marker="o", label=col)
        ax.set(xlabel="epoch", ylabel=ylabel, title=f"{title}: {ylabel}")
        if "accuracy" in ylabel or "IoU" in ylabel:
            ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def confusion_matrix(cm: np.ndarray, classes: list[str], path: Path, title: str = "confusion matrix") -> Path:
    """Row-normalised colours with the raw counts written in each cell."""
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.55 * n))
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = cm / cm.sum(axis=1, keepdims=True)
    ax.imshow(np.nan_to_num(norm), cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(n), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _save(fig, path)


def feature_examples(examples: dict[str, tuple[np.ndarray, str]], path: Path, title: str = "feature stores") -> Path:
    """One panel per store: ``{name: (items, caption)}``; 2-D items (frames x bins) as an image with time
    running right, (n, h, w, 3) uint8 as the picture, (chunks, freq, time) as the first chunk. Colours
    span the 5th-100th percentile, so an empty band at the floor does not wash the image out."""
    n = max(1, len(examples))
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.8), squeeze=False, layout="constrained")
    for ax, (name, (items, caption)) in zip(axes[0], examples.items()):
        if items.ndim == 4 and items.dtype == np.uint8:
            ax.imshow(items[0])
            ax.set_axis_off()
        else:
            img = items[0] if items.ndim == 3 else items.T
            im = ax.imshow(
                img,
                origin="lower",
                aspect="auto",
                cmap="magma",
                interpolation="nearest",
                vmin=float(np.percentile(img, 5)),
                vmax=float(img.max()),
            )
            ax.set_xlabel("frame")
            ax.set_ylabel("frequency bin" if items.ndim == 3 else "band")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        ax.set_title(f"{name}\n{caption}", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def table_figure(table: pd.DataFrame, path: Path, title: str = "results", digits: int = 3) -> Path:
    """A table of results drawn as a figure: one row per table row, headers wrapped."""
    rows = table.itertuples(index=False)
    cells = [[f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    headers = [c.replace(" (", "\n(") for c in table.columns]
    fig, ax = plt.subplots(figsize=(max(6, 1.55 * len(headers)), 0.5 * len(cells) + 1.4))
    ax.axis("off")
    t = ax.table(cellText=cells, colLabels=headers, loc="center", cellLoc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1, 2.2)
    ax.set_title(title)
    return _save(fig, path)
