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
