"""UrbanSound8K's fold rotation and the four kinds of training set of Ronchini et al. (DCASE 2024).

Rotation: test fold ``k``, validation fold ``k + 1`` (cyclically: the next fold present, the first after the
last), every other fold trains (``experiment.validation: next_fold``). With ``by_source`` every fold but the
test fold trains and the validation clips are a share of the real training clips, whole source recordings at
a time (:mod:`tasks.datasets.splits`): the protocol for two folds, or for a held-out fold with every other
fold training. Validation and test are always real clips. Training sets:

- ``real``: the real clips of the training folds;
- ``generated``: the generated clips of the training folds, ``multiplier`` per real clip of a class;
- ``real_generated``: both;
- ``replaced``: the real clips of the training folds, except that the first ``replace_folds`` of them (in
  rotation order after the validation fold) hold their generated clips instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.datasets.splits import grouped_validation_mask
from tasks.text_to_audio.generate import clips_for_multiplier


@dataclass(frozen=True)
class Rotation:
    test: int
    val: int | None  # None: validation clips drawn from the training folds by source recording
    train: tuple[int, ...]  # in rotation order: val + 1, val + 2, ... (by source: test + 1, test + 2, ...)


def rotation(test_fold: int, folds: list[int], validation: str = "next_fold") -> Rotation:
    """Test ``test_fold``; ``next_fold``: validation the next fold (cyclically), the rest train, in that order;
    ``by_source``: every other fold trains (validation is split from them by :func:`validation_rows`)."""
    ordered = sorted(set(int(f) for f in folds))
    need = 3 if validation == "next_fold" else 2
    if len(ordered) < need:
        what = "test, validation, training" if need == 3 else "test, training"
        raise ValueError(
            f"the rotation with validation {validation!r} needs at least {need} folds ({what}); found {ordered}"
        )
    if test_fold not in ordered:
        raise ValueError(f"test fold {test_fold} is not among the dataset's folds {ordered}")
    i = ordered.index(test_fold)
    n = len(ordered)
    if validation == "by_source":
        return Rotation(ordered[i], None, tuple(ordered[(i + j) % n] for j in range(1, n)))
    return Rotation(ordered[i], ordered[(i + 1) % n], tuple(ordered[(i + j) % n] for j in range(2, n)))


def validation_rows(
    rot: Rotation, fold: np.ndarray, label: np.ndarray, source: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """Rows of the real clips that validate: the validation fold's, or (``rot.val`` None) about ``fraction`` of
    each class's real clips of the training folds, whole source recordings at a time, drawn from ``seed``."""
    if rot.val is not None:
        return np.flatnonzero(fold == rot.val)
    pool = np.flatnonzero(np.isin(fold, rot.train))
    picked = grouped_validation_mask(label[pool], source[pool], fraction, np.random.default_rng(seed))
    return pool[picked]


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
