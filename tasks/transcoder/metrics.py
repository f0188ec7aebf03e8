"""The transcoder's evaluation metrics: scikit-learn's areas per class, the papers' conventions around them.

- ``average_precision`` (one class): scikit-learn's ``average_precision_score``, the area under the
  precision-recall curve as the step sum ``sum_n (R_n - R_(n-1)) P_n`` over the distinct score thresholds,
  highest first (no interpolation).
- ``macro_auprc``: the mean over classes of their average precision (``average_precision_score`` with
  ``average="macro"`` where every class has a positive); not a ROC area. Two other areas under the same
  precision-recall points are reported beside it, because the papers this workflow compares with use them:
- ``macro_auprc_trapezoid`` (``auprc_trapezoid`` per class): the trapezoid area through the points of every
  distinct threshold (an item is positive when its score >= the threshold) and the end point (recall 0,
  precision 1): scikit-learn's ``auc(recall, precision)`` of ``precision_recall_curve``, which is what the
  transcoder paper's code averages over classes as "mAUC" (exp_classif_eval/classif_utils.py,
  Tailleur et al., DCASE 2023).
- ``macro_auprc_dcase`` (``auprc_dcase`` per class): the SONYC-UST / DCASE 2019 task 5 baseline's area
  (urban-sound-tagging-baseline, metrics.py, ``macro_averaged_auprc`` of ``evaluate`` in coarse mode):
  thresholds are the distinct scores >= 0.01 and 1.0, an item is positive when its score is strictly above
  the threshold, precision = TP / max(TP + FP, 0.5) and recall = TP / max(TP + FN, 0.5), the points taken
  from the highest threshold down (ascending recall; the baseline sorts them by recall with numpy's unstable
  default sort, which may reorder points of equal recall and so move the area), (0, 1) prepended and (1, 0)
  appended, and the trapezoid area. Scores must be probabilities in [0, 1]. The threshold 1.0 puts (0, 0)
  on the curve after the prepended (0, 1), so the first positive earns half its share: n positives ranked
  above a negative that scores at least 0.01 give 1 - 1 / (2 n) where the average precision gives 1.
- ``micro_auprc``: the average precision of all (item, class) decisions pooled.
- ``macro_roc_auc``: the mean over classes of scikit-learn's ``roc_auc_score``, the probability that a
  positive outranks a negative, ties counting one half (Mann-Whitney).
- ``teacher_top1_agreement``: for each class the teacher predicts top-1 on at least one true-Mel input, the
  fraction of those inputs whose top-1 on the transcoded Mel is that class too; the mean over those classes
  (a transcoder cannot score by matching one frequent class; the authors' code logs it as
  ``ptopafc_weighted``). ``teacher_top1_agreement_micro`` is the plain fraction of inputs that agree.
- ``teacher_top1_agreement_clip``: **the paper's number** (``ptopafc`` of the authors'
  ``exp_train_model/experiment_manager.py::compute_metrics``): per clip, the teacher's scores averaged over
  its 1 s chunks, then the fraction of clips whose top-1 on the transcoded Mel is the top-1 on the true Mel.
- ``accuracy``: fraction of argmax predictions equal to the label.

A class without a positive (or, for ROC, without a negative) has no defined score: it is left out of the
macro means, and ``per_class`` reports it as None (the DCASE baseline's confusion matrix fails on a class
without a positive). This is why the means are taken here rather than by scikit-learn's ``average="macro"``,
which counts such a class as an AP of 0 and makes the ROC mean NaN (with a warning each).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score


def _binary(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y, bool).ravel(), np.asarray(score, float).ravel()


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    y, score = _binary(y, score)
    return float(average_precision_score(y, score)) if y.any() else None


def auprc_trapezoid(y: np.ndarray, score: np.ndarray) -> float | None:
    """Trapezoid area under the precision-recall points of every distinct score, from (recall 0, precision 1)."""
    y, score = _binary(y, score)
    if not y.any():
        return None
    precision, recall, _ = precision_recall_curve(y, score)
    return float(auc(recall, precision))


DCASE_MIN_THRESHOLD = 0.01  # the baseline skips lower thresholds ("the low-precision regime")


def auprc_dcase(y: np.ndarray, score: np.ndarray) -> float | None:
    """The SONYC-UST / DCASE 2019 task 5 baseline's area under the precision-recall curve of one class.

    Raises:
        ValueError: if a score is not a probability in [0, 1] (the baseline's thresholds assume it).
    """
    y, score = _binary(y, score)
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    if not np.all((score >= 0.0) & (score <= 1.0)):  # also refuses NaN
        raise ValueError("auprc_dcase needs probabilities in [0, 1] (apply the sigmoid to logits first)")
    thresholds = np.append(np.unique(score[score >= DCASE_MIN_THRESHOLD]), 1.0)[::-1]  # highest first
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    tp = n_pos - np.searchsorted(pos, thresholds, side="right")  # positive: score > threshold
    fp = len(neg) - np.searchsorted(neg, thresholds, side="right")
    precision = tp / np.maximum(tp + fp, 0.5)
    recall = tp / n_pos  # the baseline's max(TP + FN, 0.5): TP + FN = n_pos >= 1 at every threshold
    return float(auc(np.r_[0.0, recall, 1.0], np.r_[1.0, precision, 0.0]))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    y, score = _binary(y, score)
    return float(roc_auc_score(y, score)) if y.any() and not y.all() else None


def _macro(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def multilabel_scores(
    y: np.ndarray, score: np.ndarray, classes: list[str], *, probabilities: bool = False
) -> dict[str, object]:
    """macro/micro AUPRC, macro ROC-AUC and per-class AP / ROC-AUC of ``score`` (items, classes) vs 0/1 ``y``.

    With ``probabilities`` (scores in [0, 1]) the trapezoid and DCASE areas are added, macro and per class.
    """
    y, score = np.asarray(y), np.asarray(score)
    if y.shape != score.shape or y.ndim != 2 or y.shape[1] != len(classes):
        raise ValueError(f"truth {y.shape} and scores {score.shape} must both be (items, {len(classes)})")
    per_metric = {"auprc": average_precision, "roc_auc": roc_auc}
    if probabilities:
        per_metric |= {"auprc_trapezoid": auprc_trapezoid, "auprc_dcase": auprc_dcase}
    values = {k: [f(y[:, c], score[:, c]) for c in range(len(classes))] for k, f in per_metric.items()}
    out: dict[str, object] = {
        "macro_auprc": _macro(values["auprc"]),
        "micro_auprc": average_precision(y.ravel(), score.ravel()),
        "macro_roc_auc": _macro(values["roc_auc"]),
    }
    if probabilities:
        out |= {"macro_auprc_trapezoid": _macro(values["auprc_trapezoid"])}
        out |= {"macro_auprc_dcase": _macro(values["auprc_dcase"])}
    out["per_class"] = {c: {k: v[i] for k, v in values.items()} for i, c in enumerate(classes)}
    return out


def teacher_top1_agreement(
    reference: np.ndarray, transcoded: np.ndarray, clips: np.ndarray | None = None
) -> dict[str, float]:
    """Top-1 agreement of the teacher's outputs on transcoded vs true Mel, (items, classes) each; with ``clips``
    (the clip of each item) also the paper's per-clip agreement."""
    ref, est = np.asarray(reference).argmax(1), np.asarray(transcoded).argmax(1)
    per_class = [float(np.mean(est[ref == c] == c)) for c in np.unique(ref)]
    out = {
        "teacher_top1_agreement": float(np.mean(per_class)),
        "teacher_top1_agreement_micro": float(np.mean(ref == est)),
    }
    if clips is not None:
        out["teacher_top1_agreement_clip"] = clip_top1_agreement(reference, transcoded, clips)
    return out


def clip_top1_agreement(reference: np.ndarray, transcoded: np.ndarray, clips: np.ndarray) -> float:
    """The paper's top-1 agreement (``ptopafc``): scores averaged over each clip's chunks, then the fraction of
    clips whose top-1 class on the transcoded Mel is the top-1 on the true Mel. ``reference`` and
    ``transcoded`` are (chunks, classes) scores, ``clips`` (chunks,) the clip of each chunk."""
    clips = np.asarray(clips)
    if not (len(reference) == len(transcoded) == len(clips)) or len(clips) == 0:
        raise ValueError(f"{len(reference)} / {len(transcoded)} score rows for {len(clips)} chunks")
    ids = np.unique(clips)
    ref = np.stack([np.asarray(reference)[clips == c].mean(0) for c in ids])
    est = np.stack([np.asarray(transcoded)[clips == c].mean(0) for c in ids])
    return float(np.mean(ref.argmax(1) == est.argmax(1)))


def accuracy(labels: np.ndarray, score: np.ndarray) -> float:
    return float(np.mean(np.asarray(score).argmax(1) == np.asarray(labels)))
