"""UrbanSound8K's fold rotation and the four kinds of training set of Ronchini et al. (DCASE 2024).

Rotation: test fold ``k``, validation fold ``k + 1`` (cyclically: the next fold present, the first after the
last), every other fold trains. Validation and test are always real clips. Training sets:

- ``real``: the real clips of the training folds;
- ``generated``: the generated clips of the training folds, ``multiplier`` per real clip of a class;
- ``real_generated``: both;
- ``replaced``: the real clips of the training folds, except that the first ``replace_folds`` of them (in
  rotation order after the validation fold) hold their generated clips instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.text_to_audio.generate import clips_for_multiplier


@dataclass(frozen=True)
class Rotation:
    test: int
    val: int
    train: tuple[int, ...]  # in rotation order: val + 1, val + 2, ...


def rotation(test_fold: int, folds: list[int]) -> Rotation:
    """Test ``test_fold``, validation the next fold (cyclically), the rest train, in that order."""
    ordered = sorted(set(int(f) for f in folds))
    if len(ordered) < 3:
        raise ValueError(f"the rotation needs at least 3 folds (test, validation, training); found {ordered}")
    if test_fold not in ordered:
        raise ValueError(f"test fold {test_fold} is not among the dataset's folds {ordered}")
    i = ordered.index(test_fold)
    n = len(ordered)
    return Rotation(ordered[i], ordered[(i + 1) % n], tuple(ordered[(i + j) % n] for j in range(2, n)))


def generated_index(names: np.ndarray) -> np.ndarray:
    """Clip index ``k`` within its class from a generated file name ``<fsID>-<classID>-<k>-0.wav``."""
    return np.array([int(str(n).split("-")[2]) for n in names], dtype=np.int64)


def generated_mask(label: np.ndarray, index: np.ndarray, real_label: np.ndarray, multiplier: float) -> np.ndarray:
    """Generated clips a multiplier uses: ``k < round(real count of the class x multiplier)``."""
    counts = {c: int((real_label == c).sum()) for c in np.unique(real_label)}
    limit = np.array([clips_for_multiplier(counts.get(int(c), 0), multiplier) for c in label])
    return index < limit


@dataclass(frozen=True)
class TrainingRows:
    real: np.ndarray  # row numbers into the real clips
    generated: np.ndarray  # row numbers into the generated clips


def training_rows(
    kind: str,
    rot: Rotation,
    real_fold: np.ndarray,
    gen_fold: np.ndarray,
    gen_used: np.ndarray,
    replace_folds: int,
) -> TrainingRows:
    """The rows of each source that train, for training set ``kind`` under ``rot``."""
    train = np.array(rot.train)
    if kind == "replaced" and replace_folds >= len(train):
        raise ValueError(f"replace_folds {replace_folds} would replace all {len(train)} training fold(s)")
    real_folds = {"real": train, "real_generated": train, "replaced": train[replace_folds:], "generated": []}[kind]
    gen_folds = {"real": [], "real_generated": train, "replaced": train[:replace_folds], "generated": train}[kind]
    return TrainingRows(
        np.flatnonzero(np.isin(real_fold, real_folds)),
        np.flatnonzero(np.isin(gen_fold, gen_folds) & gen_used),
    )
