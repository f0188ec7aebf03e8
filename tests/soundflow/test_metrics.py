import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, label_ranking_average_precision_score
from sklearn.metrics import confusion_matrix as sk_confusion

from soundflow import metrics


def test_accuracy_and_map_hand_computed() -> None:
    scores = np.array(
        [
            [0.7, 0.2, 0.1],  # true 0: rank 1
            [0.5, 0.3, 0.2],  # true 1: rank 2
            [0.6, 0.3, 0.1],  # true 2: rank 3
            [0.1, 0.1, 0.8],  # true 2: rank 1
        ]
    )
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
        label_ranking_average_precision_score(onehot, scores)
    )


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 50 + 25 * seed, 3 + 4 * seed
    y = rng.integers(0, k, n)
    scores = rng.random((n, k))
    scores[rng.random(n) < 0.4, :] *= 0.1  # damp some rows...
    hit = rng.random(n) < 0.5
    scores[hit, y[hit]] = 2.0  # ...and make about half of them right, so the score is far from chance
    expected = accuracy_score(y, scores.argmax(axis=1))
    assert 0.4 < expected < 0.9
    assert metrics.accuracy(y, scores) == pytest.approx(expected)


def test_accuracy_extremes_and_lists() -> None:
    scores = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]
    assert metrics.accuracy([1, 0, 1], scores) == 1.0
    assert metrics.accuracy([0, 1, 0], scores) == 0.0
    assert metrics.accuracy(np.array([1, 1, 1]), np.array(scores)) == pytest.approx(2 / 3)


def test_map_default_cut_off_is_top_10() -> None:
    # the AED workflow's MAP: 1/rank of the true class when it is among the 10 best, else 0
    scores = np.tile(-np.arange(12.0), (3, 1))  # class c ranked c + 1 in every row
    y = np.array([9, 10, 0])  # ranks 10, 11, 1
    assert metrics.true_class_ranks(y, scores).tolist() == [10, 11, 1]
    assert metrics.mean_average_precision(y, scores) == pytest.approx((1 / 10 + 0 + 1) / 3)
    assert metrics.mean_average_precision(y, scores, top_k=11) == pytest.approx((1 / 10 + 1 / 11 + 1) / 3)
    assert metrics.mean_average_precision(y, scores, top_k=9) == pytest.approx((0 + 0 + 1) / 3)


def test_map_of_an_empty_set_is_an_error() -> None:
    with pytest.raises(ValueError, match="^MAP of an empty set is undefined$"):
        metrics.mean_average_precision(np.array([], dtype=int), np.zeros((0, 10)))
    with pytest.raises(ValueError, match="^accuracy of an empty set is undefined$"):
        metrics.accuracy([], np.zeros((0, 10)))


def test_ranks_with_ties_among_several_classes() -> None:
    scores = np.array([[0.2, 0.5, 0.5, 0.5, 0.1], [0.9, 0.1, 0.1, 0.3, 0.1]])
    # a three-way tie for first place ranks each tied class 3rd; row 1's class 1 is tied with 2 and 4 behind 0 and 3
    assert metrics.true_class_ranks(np.array([2, 1]), scores).tolist() == [3, 5]
    assert metrics.true_class_ranks(np.array([0, 0]), scores).tolist() == [4, 1]
    assert metrics.true_class_ranks(np.array([4, 3]), scores).tolist() == [5, 2]


def test_confusion_matrix_counts_repeated_pairs() -> None:
    cm = metrics.confusion_matrix([0, 0, 0, 2, 1], [1, 1, 1, 2, 1], 3)
    assert cm.dtype == np.int64
    assert cm.tolist() == [[0, 3, 0], [0, 1, 0], [0, 0, 1]]
    assert metrics.per_class_accuracy(cm).tolist() == [0.0, 1.0, 1.0]


def test_class_without_items_is_nan_without_a_warning() -> None:
    cm = np.array([[2, 1, 0], [0, 0, 0], [1, 0, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 / 0 for the empty class is expected, not worth a RuntimeWarning
        acc = metrics.per_class_accuracy(cm)
    assert acc[0] == pytest.approx(2 / 3) and np.isnan(acc[1]) and acc[2] == 0.75
