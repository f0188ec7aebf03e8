import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, jaccard_score

from tasks.segmentation.iou import IGNORE_INDEX, ConfusionMatrix


def test_hand_made_two_class_case() -> None:
    target = torch.tensor([[0, 0], [1, 255]])
    pred = torch.tensor([[0, 1], [1, 0]])  # the ignored pixel's prediction must count nowhere
    cm = ConfusionMatrix(2)
    cm.update(pred, target)
    assert cm.matrix.tolist() == [[1, 1], [0, 1]]
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: TP 1, FP 1, FN 0 -> 1/2
    assert cm.iou_per_class().tolist() == [0.5, 0.5]
    assert cm.mean_iou() == 0.5
    assert cm.pixel_accuracy() == pytest.approx(2 / 3)


def test_absent_class_is_nan_and_left_out_of_the_mean() -> None:
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))
    iou = cm.iou_per_class()
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3) and np.isnan(iou[2])
    assert cm.mean_iou() == pytest.approx((0.5 + 2 / 3) / 2)
    # a class predicted but absent from the ground truth scores 0, not NaN
    cm.update(torch.tensor([2]), torch.tensor([0]))
    assert cm.iou_per_class()[2] == 0.0


def test_matches_sklearn_over_a_split_with_ignore_pixels() -> None:
    rng = np.random.default_rng(0)
    n, shape = 19, (4, 24, 40)
    cm = ConfusionMatrix(n)
    all_t, all_p = [], []
    for _ in range(3):  # three batches of a split: one matrix, not per-image means
        t = rng.integers(0, n, shape)
        t[rng.random(shape) < 0.2] = IGNORE_INDEX
        # mostly right, so IoUs are far from 0, with classes 17 and 18 never occurring at all
        p = np.where(rng.random(shape) < 0.6, t, rng.integers(0, n, shape))
        t[(t == 17) | (t == 18)] = 0
        p[(p == 17) | (p == 18) | (p == IGNORE_INDEX)] = 1
        cm.update(torch.from_numpy(p), torch.from_numpy(t))
        all_t.append(t.ravel())
        all_p.append(p.ravel())
    t, p = np.concatenate(all_t), np.concatenate(all_p)
    keep = t != IGNORE_INDEX
    assert np.array_equal(cm.matrix, confusion_matrix(t[keep], p[keep], labels=range(n)))
    iou = cm.iou_per_class()
    assert np.isnan(iou[17:]).all()
    present = list(range(17))
    assert iou[:17] == pytest.approx(jaccard_score(t[keep], p[keep], labels=present, average=None))
    assert cm.mean_iou() == pytest.approx(jaccard_score(t[keep], p[keep], labels=present, average="macro"))
    assert cm.pixel_accuracy() == pytest.approx(np.mean(t[keep] == p[keep]))


def test_inputs_and_errors() -> None:
    cm = ConfusionMatrix(3)
    assert np.isnan(cm.mean_iou()) and np.isnan(cm.pixel_accuracy()) and cm.matrix.sum() == 0
    cm.update(torch.tensor([[0, 2]], dtype=torch.uint8), torch.tensor([[0, 2]]))  # any integer dtype
    assert cm.matrix.dtype == np.int64 and cm.mean_iou() == 1.0
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="outside"):
        cm.update(torch.tensor([0]), torch.tensor([7]))
    cm.reset()
    assert cm.matrix.sum() == 0


def test_prediction_outside_the_classes_is_an_error_and_counts_nowhere() -> None:
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]))
    # class n would land in the next row of the flattened matrix (target * n + n): it must be refused
    for bad in (3, -1, IGNORE_INDEX):
        with pytest.raises(ValueError, match=r"predicted labels outside \[0, 3\)"):
            cm.update(torch.tensor([0, bad]), torch.tensor([0, 0]))
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_ground_truth_outside_the_classes_is_an_error_naming_the_labels() -> None:
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"outside \[0, 3\) and != 255: \[-2, 3, 9\]"):
        cm.update(torch.zeros(5, dtype=torch.long), torch.tensor([9, 3, -2, 3, 0]))
    with pytest.raises(ValueError, match=r"num_classes must be >= 1, got 0"):
        ConfusionMatrix(0)
    assert ConfusionMatrix(1).num_classes == 1


def test_ignored_pixels_count_nowhere_whatever_their_prediction() -> None:
    cm = ConfusionMatrix(2)
    # the prediction at an ignored pixel may be anything, even a label no class has
    cm.update(torch.tensor([1, 0, 7, 255]), torch.tensor([1, 0, 255, 255]))
    assert cm.matrix.tolist() == [[1, 0], [0, 1]]
    assert cm.pixel_accuracy() == 1.0 and cm.mean_iou() == 1.0


def test_all_pixels_ignored_leaves_every_score_undefined() -> None:
    cm = ConfusionMatrix(2)
    assert cm.matrix.dtype == np.int64 and cm.matrix.shape == (2, 2)  # counts, even before the first update
    cm.update(torch.tensor([[0, 1]]), torch.full((1, 2), IGNORE_INDEX))
    assert cm.matrix.tolist() == [[0, 0], [0, 0]]
    assert np.isnan(cm.iou_per_class()).all() and np.isnan(cm.mean_iou()) and np.isnan(cm.pixel_accuracy())


def test_undefined_scores_are_nan_without_warnings() -> None:
    # 0 / 0 for a class or a split with no pixels is expected: NaN, and no RuntimeWarning in the stage log
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm = ConfusionMatrix(3)
        assert np.isnan(cm.mean_iou()) and np.isnan(cm.pixel_accuracy())
        cm.update(torch.tensor([0, 1]), torch.tensor([IGNORE_INDEX, IGNORE_INDEX]))
        assert np.isnan(cm.iou_per_class()).all() and np.isnan(cm.mean_iou()) and np.isnan(cm.pixel_accuracy())
        cm.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
        assert np.isnan(cm.iou_per_class()[2]) and cm.mean_iou() == 1.0 and cm.pixel_accuracy() == 1.0


def test_custom_ignore_index() -> None:
    cm = ConfusionMatrix(3, ignore_index=-1)
    cm.update(np.array([0, 2, 1, 1]), np.array([0, 2, -1, 1]))
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="!= -1"):  # 255 is an ordinary (here: invalid) label once -1 is the ignore
        cm.update(np.array([0]), np.array([IGNORE_INDEX]))


def test_numpy_and_torch_inputs_agree_with_sklearn() -> None:
    rng = np.random.default_rng(3)
    n = 5
    t = rng.integers(0, n, (2, 16, 16))
    p = np.where(rng.random(t.shape) < 0.5, t, rng.integers(0, n, t.shape))
    t[rng.random(t.shape) < 0.1] = IGNORE_INDEX
    from_numpy, from_torch, mixed = ConfusionMatrix(n), ConfusionMatrix(n), ConfusionMatrix(n)
    from_numpy.update(p.astype(np.int32), t.astype(np.uint8))
    from_torch.update(torch.from_numpy(p), torch.from_numpy(t))
    mixed.update(torch.from_numpy(p[:1]), t[:1])
    mixed.update(p[1:], torch.from_numpy(t[1:]))  # two updates add up to one matrix
    keep = t != IGNORE_INDEX
    expected = confusion_matrix(t[keep], p[keep], labels=range(n))
    for cm in (from_numpy, from_torch, mixed):
        assert cm.matrix.dtype == np.int64 and np.array_equal(cm.matrix, expected)
        assert cm.iou_per_class() == pytest.approx(jaccard_score(t[keep], p[keep], average=None))
        assert cm.pixel_accuracy() == pytest.approx(np.mean(t[keep] == p[keep]))
