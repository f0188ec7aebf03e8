import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import label_ranking_average_precision_score

from soundflow import metrics


def test_accuracy_and_map_hand_computed() -> None:
    scores = np.array([
        [0.7, 0.2, 0.1],  # true 0: rank 1
        [0.5, 0.3, 0.2],  # true 1: rank 2
        [0.6, 0.3, 0.1],  # true 2: rank 3
        [0.1, 0.1, 0.8],  # true 2: rank 1
    ])
    y = np.array([0, 1, 2, 2])
    assert metrics.accuracy(y, scores) == 0.5
    assert metrics.mean_average_precision(y, scores, top_k=10) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1) / 4)
    # the cut-off: a true class ranked below top_k scores 0
    assert metrics.mean_average_precision(y, scores, top_k=2) == pytest.approx((1 + 1 / 2 + 0 + 1) / 4)


def test_ties_count_against_the_true_class() -> None:
    scores = np.array([[0.5, 0.5, 0.0]])
    assert metrics.true_class_ranks(np.array([1]), scores).tolist() == [2]
    assert metrics.true_class_ranks(np.array([0]), scores).tolist() == [2]


def test_map_equals_sklearn_lrap_for_single_label() -> None:
    # with one relevant label per item and no cut-off, MAP is sklearn's label ranking average precision
    rng = np.random.default_rng(0)
    scores = rng.random((200, 10))
    y = rng.integers(0, 10, 200)
    onehot = np.eye(10)[y]
    assert metrics.mean_average_precision(y, scores, top_k=10) == pytest.approx(
        label_ranking_average_precision_score(onehot, scores))


def test_confusion_and_per_class_accuracy_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    cm = metrics.confusion_matrix(y, pred, 6)  # class 5 never occurs
    assert (cm == sk_confusion(y, pred, labels=range(6))).all()
    acc = metrics.per_class_accuracy(cm)
    for c in range(5):
        assert acc[c] == pytest.approx(np.mean(pred[y == c] == c))
    assert np.isnan(acc[5])


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics.accuracy(np.array([], dtype=int), np.zeros((0, 3)))
