"""The transcoder's evaluation metrics, written out from their definitions (tests compare with scikit-learn).

- ``average_precision`` (one class): the area under the precision-recall curve as the step sum
  ``sum_n (R_n - R_(n-1)) P_n`` over the distinct score thresholds, highest first (scikit-learn's
  ``average_precision_score``; no interpolation).
- ``macro_auprc``: the mean over classes of their average precision. This is what the transcoder paper
  (and the SONYC-UST baseline before it) reports as "mAUC"; it is not a ROC area.
- ``micro_auprc``: the average precision of all (item, class) decisions pooled.
- ``macro_roc_auc``: the mean over classes of the area under the ROC curve, i.e. the probability that a
  positive outranks a negative, ties counting one half (Mann-Whitney).
- ``teacher_top1_agreement``: for each class the teacher predicts top-1 on at least one true-Mel input, the
  fraction of those inputs whose top-1 on the transcoded Mel is that class too; the mean over those classes
  (the paper's definition: a transcoder cannot score by matching one frequent class).
  ``teacher_top1_agreement_micro`` is the plain fraction of inputs that agree.
- ``accuracy``: fraction of argmax predictions equal to the label.

A class without a positive (or, for ROC, without a negative) has no defined score: it is left out of the
macro means, and ``per_class`` reports it as None.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    y, score = np.asarray(y, bool).ravel(), np.asarray(score, float).ravel()
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-score, kind="mergesort")
    y, score = y[order], score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # thresholds: each distinct score
    tp = np.cumsum(y)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    y, score = np.asarray(y, bool).ravel(), np.asarray(score, float).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)  # ties get their mean rank: a tie counts one half
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _macro(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def multilabel_scores(y: np.ndarray, score: np.ndarray, classes: list[str]) -> dict[str, object]:
    """macro/micro AUPRC, macro ROC-AUC and per-class AP / ROC-AUC of ``score`` (items, classes) vs 0/1 ``y``."""
    y, score = np.asarray(y), np.asarray(score)
    if y.shape != score.shape or y.ndim != 2 or y.shape[1] != len(classes):
        raise ValueError(f"truth {y.shape} and scores {score.shape} must both be (items, {len(classes)})")
    ap = [average_precision(y[:, c], score[:, c]) for c in range(len(classes))]
    auc = [roc_auc(y[:, c], score[:, c]) for c in range(len(classes))]
    return {
        "macro_auprc": _macro(ap),
        "micro_auprc": average_precision(y.ravel(), score.ravel()),
        "macro_roc_auc": _macro(auc),
        "per_class": {c: {"auprc": a, "roc_auc": r} for c, a, r in zip(classes, ap, auc)},
    }


def teacher_top1_agreement(reference: np.ndarray, transcoded: np.ndarray) -> dict[str, float]:
    """Top-1 agreement of the teacher's outputs on transcoded vs true Mel, (items, classes) each."""
    ref, est = np.asarray(reference).argmax(1), np.asarray(transcoded).argmax(1)
    per_class = [float(np.mean(est[ref == c] == c)) for c in np.unique(ref)]
    return {
        "teacher_top1_agreement": float(np.mean(per_class)),
        "teacher_top1_agreement_micro": float(np.mean(ref == est)),
    }


def accuracy(labels: np.ndarray, score: np.ndarray) -> float:
    return float(np.mean(np.asarray(score).argmax(1) == np.asarray(labels)))
