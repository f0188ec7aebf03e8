"""The transcoder's metrics against scikit-learn and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, confusion_matrix, precision_recall_curve, roc_auc_score

from tasks.transcoder.metrics import (
    accuracy,
    auprc_dcase,
    auprc_trapezoid,
    average_precision,
    multilabel_scores,
    roc_auc,
    teacher_top1_agreement,
)


@pytest.mark.parametrize("seed", range(5))
def test_macro_and_micro_auprc_and_roc_auc_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random((60, 5)) < [0.1, 0.3, 0.5, 0.2, 0.05]).astype(int)
    y[0] = 1  # every class has a positive
    y[1] = 0  # and a negative
    score = np.round(rng.random((60, 5)) + 0.5 * y, 1)  # rounded: ties between items
    got = multilabel_scores(y, score, list("abcde"))
    assert got["macro_auprc"] == pytest.approx(average_precision_score(y, score, average="macro"))
    assert got["micro_auprc"] == pytest.approx(average_precision_score(y, score, average="micro"))
    assert got["macro_roc_auc"] == pytest.approx(roc_auc_score(y, score, average="macro"))
    assert got["per_class"]["c"]["auprc"] == pytest.approx(average_precision_score(y[:, 2], score[:, 2]))


def test_micro_and_macro_differ_where_a_rare_class_is_ranked_badly() -> None:
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.05], [0.1, 0.6], [0.7, 0.3], [0.2, 0.4]])
    got = multilabel_scores(y, s, ["common", "rare"])
    assert got["per_class"]["common"]["auprc"] == pytest.approx(1.0)
    assert got["per_class"]["rare"]["auprc"] == pytest.approx(1 / 6)  # its one positive ranked last of 6
    assert got["macro_auprc"] == pytest.approx((1 + 1 / 6) / 2)
    assert got["micro_auprc"] == pytest.approx(average_precision_score(y.ravel(), s.ravel()))
    assert got["micro_auprc"] != pytest.approx(got["macro_auprc"])


def test_hand_cases_and_undefined_classes() -> None:
    assert average_precision([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2]) == pytest.approx((1 + 2 / 3) / 2)  # ranks 1 and 3
    assert roc_auc([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts one half
    assert average_precision([0, 0], [0.1, 0.2]) is None and roc_auc([1, 1], [0.1, 0.2]) is None
    got = multilabel_scores(np.array([[1, 0], [0, 0]]), np.array([[0.9, 0.1], [0.1, 0.2]]), ["a", "none"])
    assert got["macro_auprc"] == pytest.approx(1.0) and got["per_class"]["none"]["auprc"] is None


def test_top1_agreement_is_averaged_over_the_classes_the_teacher_predicts_on_true_mel() -> None:
    ref = np.eye(4)[[0, 0, 0, 0, 1, 2]]  # top-1 on true Mel: class 0 four times, 1 once, 2 once, 3 never
    est = np.eye(4)[[0, 0, 0, 0, 3, 3]]  # the transcoded input always says 0 or 3
    got = teacher_top1_agreement(ref, est)
    assert got["teacher_top1_agreement"] == pytest.approx((1 + 0 + 0) / 3)  # per class 1, 0, 0
    assert got["teacher_top1_agreement_micro"] == pytest.approx(4 / 6)
    assert teacher_top1_agreement(ref, ref)["teacher_top1_agreement"] == 1.0


def test_the_papers_top1_agreement_averages_each_clips_chunk_scores_first() -> None:
    # clip 0: chunks say class 0 (0.6) and class 1 (0.9) on the true Mel, so the clip's mean says 1; the
    # transcoded chunks say 1 and 0 but their means also say 1 -> the clip agrees though no chunk does.
    ref = np.array([[0.6, 0.1], [0.2, 0.9], [0.9, 0.0]])
    est = np.array([[0.1, 0.8], [0.5, 0.3], [0.0, 0.7]])
    got = teacher_top1_agreement(ref, est, clips=np.array([0, 0, 1]))
    assert got["teacher_top1_agreement_micro"] == 0.0
    assert got["teacher_top1_agreement_clip"] == pytest.approx(1 / 2)  # clip 0 agrees, clip 1 does not
    assert "teacher_top1_agreement_clip" not in teacher_top1_agreement(ref, est)
    with pytest.raises(ValueError, match="score rows"):
        teacher_top1_agreement(ref, est, clips=np.array([0, 1]))


def test_accuracy_by_hand() -> None:
    assert accuracy(np.array([0, 1, 2]), np.array([[0.9, 0.1, 0], [0.2, 0.1, 0.7], [0, 0, 1]])) == pytest.approx(2 / 3)


def _dcase_by_loop(y: np.ndarray, score: np.ndarray) -> float:
    """The DCASE 2019 task 5 baseline's per-class area, one threshold at a time (its coarse-mode procedure).

    Thresholds: the distinct scores >= 0.01, then 1.0, taken highest first; a prediction is score > threshold;
    TP, FP, FN from scikit-learn's confusion matrix; P = TP / max(TP + FP, 0.5), R = TP / max(TP + FN, 0.5);
    the points sorted by recall (a stable sort: the baseline's unstable one may swap equal recalls), (0, 1)
    prepended, (1, 0) appended, scikit-learn's trapezoid ``auc``.
    """
    thresholds = np.append(np.unique(score[score >= 0.01]), 1.0)
    rows = []
    for t in thresholds[::-1]:
        (_, fp), (fn, tp) = confusion_matrix(y, score > t, labels=[0, 1])
        rows.append((tp / max(tp + fp, 0.5), tp / max(tp + fn, 0.5)))
    p, r = np.array(rows).T
    order = np.argsort(r, kind="stable")
    return auc(np.r_[0.0, r[order], 1.0], np.r_[1.0, p[order], 0.0])


@pytest.mark.parametrize("seed", range(6))
def test_dcase_and_trapezoid_areas_match_independent_computations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random((80, 4)) < [0.1, 0.3, 0.5, 0.05]).astype(int)
    y[0], y[1] = 1, 0
    score = np.clip(np.round(rng.random((80, 4)) * 0.8 + 0.3 * y, 2), 0, 1)  # ties, scores < 0.01 and = 1.0
    score[2] = [0.0, 0.004, 1.0, 0.01]
    got = multilabel_scores(y, score, list("abcd"), probabilities=True)
    dcase = [_dcase_by_loop(y[:, c], score[:, c]) for c in range(4)]
    trapezoid = [auc(*precision_recall_curve(y[:, c], score[:, c])[1::-1]) for c in range(4)]
    assert [got["per_class"][c]["auprc_dcase"] for c in "abcd"] == pytest.approx(dcase, abs=1e-12)
    assert [got["per_class"][c]["auprc_trapezoid"] for c in "abcd"] == pytest.approx(trapezoid, abs=1e-12)
    assert got["macro_auprc_dcase"] == pytest.approx(np.mean(dcase), abs=1e-12)
    assert got["macro_auprc_trapezoid"] == pytest.approx(np.mean(trapezoid), abs=1e-12)
    assert got["macro_auprc"] == pytest.approx(average_precision_score(y, score, average="macro"))


def test_dcase_and_trapezoid_areas_by_hand() -> None:
    y, s = [1, 0, 1, 0], [0.9, 0.8, 0.3, 0.005]
    # DCASE points (R, P) for thresholds 1.0, 0.9, 0.8, 0.3: (0, 0), (0, 0), (1/2, 1), (1/2, 1/2); with (0, 1)
    # before and (1, 0) after, the area is 1/2 * 1/2 + 1/2 * 1/4
    assert auprc_dcase(y, s) == pytest.approx(0.375)
    # scores >= threshold: (1/2, 1), (1/2, 1/2), (1, 2/3), (1, 1/2) after (0, 1): 1/2 + 1/2 * (1/2 + 2/3) / 2
    assert auprc_trapezoid(y, s) == pytest.approx(19 / 24)
    assert average_precision(y, s) == pytest.approx((1 + 2 / 3) / 2)
    for n in (1, 2, 5):  # a perfect ranking: the first positive earns half its share
        assert auprc_dcase([1] * n + [0], [*np.linspace(0.9, 0.5, n), 0.2]) == pytest.approx(1 - 1 / (2 * n))
    assert auprc_dcase([1, 1, 0], [0.9, 0.9, 0.2]) == pytest.approx(0.5)  # tied positives: one step of 2
    assert auprc_dcase([0, 0], [0.1, 0.2]) is None and auprc_trapezoid([0, 0], [0.1, 0.2]) is None


def test_dcase_area_needs_probabilities() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        auprc_dcase([1, 0], [1.5, -0.2])
    logits = multilabel_scores(np.array([[1], [0]]), np.array([[2.0], [-1.0]]), ["a"])  # the default: ranks only
    assert "macro_auprc_dcase" not in logits and logits["macro_auprc"] == 1.0
