"""The transcoder's metrics against scikit-learn and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tasks.transcoder.metrics import (
    accuracy,
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


def test_accuracy_by_hand() -> None:
    assert accuracy(np.array([0, 1, 2]), np.array([[0.9, 0.1, 0], [0.2, 0.1, 0.7], [0, 0, 1]])) == pytest.approx(2 / 3)
