"""Classification metrics, as the papers define them (pure numpy)."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Top-1 accuracy: the fraction of items whose highest score is the true class."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(np.argmax(scores, axis=1) == y_true))


def true_class_ranks(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of the true class in each row of ``scores`` (ties count against it)."""
    scores = np.asarray(scores)
    y_true = np.asarray(y_true)
    true_scores = scores[np.arange(len(y_true)), y_true]
    return 1 + (scores > true_scores[:, None]).sum(axis=1) + ((scores == true_scores[:, None]).sum(axis=1) - 1)


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray, top_k: int = 10) -> float:
    """MAP of the AED workflow: mean over items of 1/rank of the true class if rank <= top_k, else 0.

    With one relevant class per item this is the mean reciprocal rank, cut at ``top_k``.
    """
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        raise ValueError("MAP of an empty set is undefined")
    ranks = true_class_ranks(y_true, scores)
    return float(np.mean(np.where(ranks <= top_k, 1.0 / ranks, 0.0)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix; NaN for a class with no items."""
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)
