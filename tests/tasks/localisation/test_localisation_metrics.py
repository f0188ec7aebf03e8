"""cIoU, consensus, binarisation and AUC: hand cases and an independent recomputation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc as sk_auc

from tasks.localisation import metrics

SIDE = 20


def test_map_equal_to_the_truth_scores_one() -> None:
    boxes = np.array([[2, 3, 10, 12]] * 2, float)  # two annotators agree: g = 1 inside
    g = metrics.consensus_map(boxes, SIDE)
    pred = metrics.binarise_fraction(g, 0.5)
    assert metrics.ciou(pred, g) == 1.0


def test_disjoint_map_scores_zero() -> None:
    g = metrics.consensus_map(np.array([[0, 0, 5, 5]] * 3, float), SIDE)
    m = np.zeros((SIDE, SIDE))
    m[10:, 10:] = 1
    assert metrics.ciou(metrics.binarise_fraction(m, 0.5), g) == 0.0


def test_one_of_two_annotators_weighs_half() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 5, 10]], float)  # columns 5..9 covered by one annotator only
    g = metrics.consensus_map(boxes, SIDE)
    assert g[0, 0] == 1.0 and g[0, 7] == 0.5 and g[15, 15] == 0.0
    pred = np.zeros((SIDE, SIDE), bool)
    pred[:10, 5:10] = True  # exactly the half-weight pixels
    assert metrics.ciou(pred, g) == pytest.approx(50 * 0.5 / (g.sum() + 0))
    assert metrics.ciou(pred, g) == pytest.approx(25 / 75)


def test_auc_of_a_known_success_curve() -> None:
    # cIoUs all equal to 0.5: success 1 for t <= 0.5 (11 points), 0 after -> trapezoid area 0.5 + 0.025
    assert metrics.auc(np.full(7, 0.5)) == pytest.approx(0.525)
    assert metrics.summary(np.array([0.2, 0.6]))["ciou_at_0.5"] == 0.5
    t, s = metrics.success_curve(np.array([1.0, 0.0]))
    assert len(t) == 21 and s[0] == 1.0 and s[-1] == 0.5


def test_relative_area_rule_keeps_the_top_half_and_a_constant_map_whole() -> None:
    m = np.arange(100, dtype=float).reshape(10, 10)
    kept = metrics.binarise_relative_area(m, 0.5)
    assert kept.sum() == 49  # the values above the one at sorted position 50 (51 .. 99)
    assert kept[-1, -1] and not kept[5, 0]
    assert metrics.binarise_relative_area(np.ones((4, 4))).all()
    assert not metrics.binarise_fraction(np.zeros((4, 4)), 0.5).any()


def _reference_ciou(pred: np.ndarray, boxes: np.ndarray) -> float:
    """The LVS code's formula, pixel by pixel in plain loops."""
    g = np.zeros(pred.shape)
    for y in range(pred.shape[0]):
        for x in range(pred.shape[1]):
            n = sum(1 for x0, y0, x1, y1 in boxes if x0 <= x < x1 and y0 <= y < y1)
            g[y, x] = min(1.0, n / 2)
    inter = sum(g[y, x] for y in range(pred.shape[0]) for x in range(pred.shape[1]) if pred[y, x])
    outside = sum(1 for y in range(pred.shape[0]) for x in range(pred.shape[1]) if pred[y, x] and g[y, x] == 0)
    return inter / (g.sum() + outside)


def test_independent_recomputation_on_random_maps_and_boxes() -> None:
    rng = np.random.default_rng(0)
    cious = []
    for _ in range(25):
        boxes = []
        for _ in range(3):
            x0, y0 = rng.integers(0, 14, 2)
            boxes.append([x0, y0, x0 + rng.integers(2, 7), y0 + rng.integers(2, 7)])
        boxes = np.array(boxes)
        m = rng.random((16, 16))
        pred = m > 0.5 * m.max()
        c = metrics.ciou(metrics.binarise_fraction(m, 0.5), metrics.consensus_map(boxes, 16))
        assert c == pytest.approx(_reference_ciou(pred, boxes))
        cious.append(c)
    t = np.linspace(0, 1, 21)
    assert metrics.auc(np.array(cious)) == pytest.approx(sk_auc(t, [np.mean(np.array(cious) >= x) for x in t]))


def test_multi_source_averages_the_classes_own_boxes() -> None:
    boxes = np.array([[0, 0, 5, 5]] * 2 + [[10, 10, 15, 15]] * 2, float)
    box_class = np.array([0, 0, 3, 3])
    right = np.zeros((SIDE, SIDE))
    right[:5, :5] = 1
    wrong = np.zeros((SIDE, SIDE))
    wrong[:5, :5] = 1  # class 3's map points at class 0's object
    assert metrics.multi_source_ciou({0: right, 3: wrong}, boxes, box_class, 0.1, 2) == pytest.approx(0.5)
