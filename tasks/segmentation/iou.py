"""Intersection over union for semantic segmentation, the Cityscapes benchmark's way.

One confusion matrix is accumulated over the whole evaluation split (rows =
ground truth, columns = prediction); pixels whose ground truth is the ignore
label (255) count nowhere, neither as false positives nor as false negatives
(the original counted them as false positives). Per class
IoU_c = TP_c / (TP_c + FP_c + FN_c); mIoU is the mean over the classes, leaving
out a class absent from both ground truth and prediction (its IoU is 0/0). This
is cityscapesScripts' definition: one matrix for the split, not a mean of
per-image scores (Cordts et al., 2016; docs/methods.md#cityscapes).
"""

from __future__ import annotations

import numpy as np
import torch

IGNORE_INDEX = 255


class ConfusionMatrix:
    """``num_classes`` x ``num_classes`` int64 pixel counts, rows = ground truth, columns = prediction."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self._counts: torch.Tensor | None = None  # lives on the device of the first update

    def reset(self) -> None:
        self._counts = None

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predicted and ground-truth label maps (same shape, any device, integer classes)."""
        pred, target = torch.as_tensor(pred), torch.as_tensor(target)
        if pred.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
        pred, target = pred.reshape(-1).long(), target.reshape(-1).long().to(pred.device)
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        n = self.num_classes
        bad = (target < 0) | (target >= n)
        if bad.any():
            raise ValueError(
                f"ground-truth labels outside [0, {n}) and != {self.ignore_index}: "
                f"{sorted(set(target[bad].unique().tolist()))[:10]}"
            )
        if ((pred < 0) | (pred >= n)).any():
            raise ValueError(f"predicted labels outside [0, {n})")
        counts = torch.bincount(target * n + pred, minlength=n * n).reshape(n, n)
        self._counts = counts if self._counts is None else self._counts + counts.to(self._counts.device)

    @property
    def matrix(self) -> np.ndarray:
        """The accumulated counts as an int64 numpy array (zeros before any update)."""
        if self._counts is None:
            return np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        return self._counts.cpu().numpy().astype(np.int64)

    def iou_per_class(self) -> np.ndarray:
        """TP / (TP + FP + FN) per class; NaN for a class in neither ground truth nor prediction."""
        cm = self.matrix.astype(np.float64)
        tp = np.diag(cm)
        union = cm.sum(0) + cm.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def mean_iou(self) -> float:
        """Mean of :meth:`iou_per_class` over the classes that occur (NaN if none has occurred)."""
        iou = self.iou_per_class()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    def pixel_accuracy(self) -> float:
        """Correct pixels / pixels counted (ignore pixels excluded); NaN before any pixel."""
        cm = self.matrix
        total = cm.sum()
        return float(np.trace(cm) / total) if total else float("nan")
