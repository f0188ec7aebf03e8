"""A validation split that keeps every source recording on one side, with each class's share about the same.

UrbanSound8K slices several clips from one Freesound recording (``fsID``) and ESC-50 cuts several takes
from one ``src_file``; both datasets keep a recording inside one fold so that a test fold never scores a
recording the model trained on (Salamon, Jacoby & Bello 2014; Piczak 2015). A validation split drawn
at random by clip breaks that rule: takes of one recording land on both sides, validation accuracy is
inflated and the best epoch is chosen on near-duplicates of training clips. Here whole recordings go
to validation, class by class, until the class's share reaches ``fraction`` of its clips.
"""

from __future__ import annotations

import numpy as np


def _trains_every_class(groups: np.ndarray, labels: np.ndarray, taken: set[str], candidate: str) -> bool:
    """Whether every class of ``candidate``'s clips keeps a training recording once ``candidate`` validates."""
    out = taken | {candidate}
    for label in np.unique(labels[groups == candidate]):
        if np.isin(groups[labels == label], list(out)).all():
            return False
    return True


def _pick_for_class(
    label: object,
    labels: np.ndarray,
    groups: np.ndarray,
    fraction: float,
    taken: set[str],
    rng: np.random.Generator,
) -> None:
    """Add recordings of class ``label`` to ``taken`` (in a random order) while they fit its target share.

    The target is ``round(fraction x clips of the class)``, at least one clip. Recordings that would take the
    class past its target are passed over; if none fits, the smallest one goes (a class with two or more
    recordings always has some validation clips). A recording is never taken if it would leave a class of its
    clips without a training recording.
    """
    in_class = labels == label
    target = max(1, round(fraction * int(in_class.sum())))
    candidates = [str(g) for g in rng.permutation(np.unique(groups[in_class])) if str(g) not in taken]
    sizes = {g: int((in_class & (groups == g)).sum()) for g in candidates}
    count = int((in_class & np.isin(groups, list(taken))).sum())
    for g in candidates:
        if count + sizes[g] <= target and _trains_every_class(groups, labels, taken, g):
            taken.add(g)
            count += sizes[g]
    if count == 0:
        for g in sorted(candidates, key=lambda g: sizes[g]):  # stable: ties keep the random order
            if _trains_every_class(groups, labels, taken, g):
                taken.add(g)
                return


def grouped_validation_mask(
    labels: np.ndarray, groups: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask of the validation clips among ``labels``/``groups`` (one entry per clip).

    Every clip of a recording (``groups``) is on the same side. Classes are visited in sorted order; a class
    with a single recording cannot be split and trains. The draw depends only on ``rng`` and the inputs.
    """
    labels, groups = np.asarray(labels), np.asarray(groups).astype(str)
    if labels.shape != groups.shape:
        raise ValueError(f"labels and groups differ in length ({len(labels)} vs {len(groups)})")
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
    taken: set[str] = set()
    for label in np.unique(labels):
        _pick_for_class(label, labels, groups, fraction, taken, rng)
    return np.isin(groups, list(taken))
