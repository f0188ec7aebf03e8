"""The validation split by source recording (tasks/datasets/splits.py) and the readers' ``source`` column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.datasets.splits import grouped_validation_mask


def _mask(labels: list, groups: list, fraction: float, seed: int = 0) -> np.ndarray:
    return grouped_validation_mask(np.array(labels), np.array(groups), fraction, np.random.default_rng(seed))


def _no_source_on_both_sides(groups: np.ndarray, val: np.ndarray) -> bool:
    return set(groups[val]).isdisjoint(groups[~val])


def test_whole_recordings_up_to_the_class_share() -> None:
    # class 0: five recordings of two takes; 0.2 of 10 clips = 2: exactly one recording
    groups = [g for g in "abcde" for _ in range(2)]
    val = _mask([0] * 10, groups, 0.2)
    assert val.sum() == 2 and len(set(np.array(groups)[val])) == 1
    assert _no_source_on_both_sides(np.array(groups), val)


def test_recordings_past_the_target_are_passed_over_for_ones_that_fit() -> None:
    # target round(0.3 x 10) = 3: the 6-take recording never fits; 1 + 2 clips do, whatever the order
    groups = ["big"] * 6 + ["one"] + ["two"] * 2 + ["last"]
    for seed in range(10):
        val = _mask([0] * 10, groups, 0.3, seed)
        assert "big" not in set(np.array(groups)[val])
        assert 1 <= val.sum() <= 3
        assert _no_source_on_both_sides(np.array(groups), val)


def test_when_no_recording_fits_the_smallest_validates() -> None:
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 4  # target round(0.1 x 12) = 1: none fits
    val = _mask([0] * 12, groups, 0.1)
    assert set(np.array(groups)[val]) == {"b"}


def test_a_class_of_one_recording_trains() -> None:
    labels = [0, 0, 0, 1, 1, 1, 1]
    groups = ["only", "only", "only", "x", "y", "z", "w"]
    val = _mask(labels, groups, 0.25)
    assert not val[:3].any()  # class 0 cannot be split: all of it trains
    assert val[3:].sum() == 1  # class 1: round(0.25 x 4) = 1


def test_a_recording_of_two_classes_never_takes_a_class_s_last_training_recording() -> None:
    # "shared" holds clips of class 0 and of class 1, and is class 1's only recording: class 0 (visited
    # first) must never validate it, or class 1 would have no training clip
    labels = [0, 0, 0, 0, 1, 1]
    groups = ["shared", "a1", "a2", "a3", "shared", "shared"]
    seen = set()
    for seed in range(20):
        val = _mask(labels, groups, 0.5, seed)
        assert _no_source_on_both_sides(np.array(groups), val)
        assert not val[[0, 4, 5]].any(), f"seed {seed}: the shared recording validates"
        seen |= set(np.array(groups)[val])
    assert seen == {"a1", "a2", "a3"}
    # with a second class-1 recording, "shared" may validate and class 1 keeps "b1" for training
    labels, groups = [0, 0, 0, 0, 1, 1], ["shared", "a1", "a2", "a3", "shared", "b1"]
    for seed in range(20):
        val, lab = _mask(labels, groups, 0.5, seed), np.array(labels)
        assert all((~val & (lab == c)).any() for c in (0, 1)), f"seed {seed}: a class lost every training clip"


def test_random_datasets_keep_every_recording_on_one_side() -> None:
    rng = np.random.default_rng(7)
    for trial in range(25):
        n = int(rng.integers(20, 200))
        groups = rng.integers(0, max(2, n // 4), size=n).astype(str)
        labels = np.array([int(g) % 5 for g in groups.astype(int)])  # one class per recording, as in UrbanSound8K
        val = grouped_validation_mask(labels, groups, 0.2, np.random.default_rng(trial))
        assert _no_source_on_both_sides(groups, val)
        for c in np.unique(labels):
            if len(set(groups[labels == c])) >= 2:  # a splittable class validates and trains
                assert val[labels == c].any() and (~val[labels == c]).any()


def test_the_draw_depends_on_the_seed_only() -> None:
    labels, groups = [0] * 12, [str(i // 2) for i in range(12)]
    assert (_mask(labels, groups, 0.34, 3) == _mask(labels, groups, 0.34, 3)).all()
    draws = {tuple(_mask(labels, groups, 0.34, s)) for s in range(10)}
    assert len(draws) > 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        _mask([0, 0], ["a"], 0.2)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        _mask([0, 0], ["a", "b"], 1.0)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_readers_give_each_clip_its_recording(tmp_path: Path) -> None:
    us = tmp_path / "us8k"
    _write(
        us / "metadata" / "UrbanSound8K.csv",
        "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
        "100-3-0-0.wav,100,0,4,1,1,3,dog_bark\n100-3-0-1.wav,100,4,8,1,1,3,dog_bark\n"
        "200-8-0-0.wav,200,0,4,1,2,8,siren\n",
    )
    t = read_labelled_audio(us, "urbansound8k")
    assert t["source"].tolist() == ["100", "100", "200"]
    esc = tmp_path / "esc"
    _write(
        esc / "meta.csv",
        "filename,fold,target,category,src_file,take\n1-17-A-0.wav,1,0,dog,17,A\n1-17-B-0.wav,1,0,dog,17,B\n",
    )
    assert read_labelled_audio(esc, "esc50")["source"].tolist() == ["17", "17"]
    bare = tmp_path / "bare"  # no src_file column: each clip is its own recording
    _write(bare / "meta.csv", "filename,fold,category\n1-1-A-0.wav,1,dog\n1-2-A-0.wav,1,dog\n")
    assert read_labelled_audio(bare, "esc50")["source"].tolist() == ["1-1-A-0.wav", "1-2-A-0.wav"]
