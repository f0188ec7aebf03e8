import numpy as np
import pytest

from tasks.text_to_audio.folds import generated_index, generated_mask, rotation, training_rows


def test_urbansound8k_rotation_wraps_around() -> None:
    folds = list(range(1, 11))
    r = rotation(3, folds)
    assert (r.test, r.val, r.train) == (3, 4, (5, 6, 7, 8, 9, 10, 1, 2))
    r = rotation(10, folds)
    assert (r.test, r.val) == (10, 1) and set(r.train) == set(range(2, 10))


def test_rotation_over_the_folds_present() -> None:
    r = rotation(5, [1, 2, 3, 4, 5])
    assert (r.val, r.train) == (1, (2, 3, 4))
    with pytest.raises(ValueError, match="not among"):
        rotation(7, [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="at least 3 folds"):
        rotation(1, [1, 2])


def test_the_four_training_sets() -> None:
    r = rotation(1, [1, 2, 3, 4, 5])  # val 2, train 3 4 5
    real_fold = np.array([1, 2, 3, 4, 5, 3])
    gen_fold = np.array([1, 2, 3, 4, 5, 3])
    used = np.array([True, True, True, True, True, False])
    kinds = ("real", "generated", "real_generated", "replaced")
    rows = {k: training_rows(k, r, real_fold, gen_fold, used, 1) for k in kinds}
    assert rows["real"].real.tolist() == [2, 3, 4, 5] and rows["real"].generated.tolist() == []
    assert rows["generated"].real.tolist() == [] and rows["generated"].generated.tolist() == [2, 3, 4]
    both = rows["real_generated"]
    assert both.real.tolist() == [2, 3, 4, 5] and both.generated.tolist() == [2, 3, 4]
    # fold 3 (the first training fold after validation) is replaced by its generated clips
    assert rows["replaced"].real.tolist() == [3, 4] and rows["replaced"].generated.tolist() == [2]
    with pytest.raises(ValueError, match="replace all 3"):
        training_rows("replaced", r, real_fold, gen_fold, used, 3)


def test_a_multiplier_uses_the_first_clips_of_each_class() -> None:
    names = np.array([f"90000000-0-{k}-0.wav" for k in range(4)] + [f"90100000-1-{k}-0.wav" for k in range(4)])
    index = generated_index(names)
    label = np.array([0] * 4 + [1] * 4)
    real_label = np.array([0, 0, 1])  # 2 real clips of class 0, 1 of class 1
    assert generated_mask(label, index, real_label, 1.0).tolist() == [1, 1, 0, 0, 1, 0, 0, 0]
    assert generated_mask(label, index, real_label, 2.0).tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
