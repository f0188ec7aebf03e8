"""Inference with a trained AED classifier: batched chunk probabilities over a loader, per-file pooling.

Evaluation and the training's validation both use these, so they compute the same thing; this module imports
no training code. Loading a checkpoint and classifying chunks is :mod:`tasks.features.chunk_classifier`,
shared with the localisation workflow's pseudo-labels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from soundflow.devices import autocast


@torch.no_grad()
def predict_rows(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, float]:
    """Softmax probabilities of every chunk of ``loader`` and the mean cross-entropy."""
    model.eval()
    probs, loss_sum, n = [], 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device)
        with autocast(device):
            logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        n += len(y)
        probs.append(torch.softmax(logits, 1).cpu().numpy())
    return np.concatenate(probs), loss_sum / max(n, 1)


def pool_by_file(chunk_probs: np.ndarray, chunk_file: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(file ids, mean of each file's chunk probabilities): the per-file prediction."""
    files, inv = np.unique(chunk_file, return_inverse=True)
    pooled = np.zeros((len(files), chunk_probs.shape[1]))
    np.add.at(pooled, inv, chunk_probs)
    return files, pooled / np.bincount(inv)[:, None]


def file_level_accuracy(chunk_probs: np.ndarray, chunk_file: np.ndarray, file_label: np.ndarray) -> float:
    """Accuracy of the per-file predictions (:func:`pool_by_file`) against each file's label."""
    files, pooled = pool_by_file(chunk_probs, chunk_file)
    return float(np.mean(pooled.argmax(1) == file_label[files]))
