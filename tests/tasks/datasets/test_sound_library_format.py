"""Tests for reading a Scaper sound library's labels (tasks.datasets.sound_library)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tasks.datasets.sound_library import LIBRARY_LABELS, library_labels

SR = 16000


def test_vocabulary_is_the_original_library_labels() -> None:
    assert LIBRARY_LABELS == (
        "bicycle",
        "bus",
        "car",
        "motorcycle",
        "person",
        "road",
        "traffic light",
        "train",
        "truck",
        "vegetation",
    )  # in this order: a label's index is part of every procedural clip's seed


def test_library_labels_reads_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="foreground"):
        library_labels(tmp_path)
    for role, label in (("foreground", "dog"), ("foreground", "cat"), ("background", "rain")):
        (tmp_path / role / label).mkdir(parents=True)
        sf.write(tmp_path / role / label / "a.wav", np.zeros(160), SR)
    (tmp_path / "foreground" / "empty").mkdir()  # nothing to draw from: not a label
    (tmp_path / "foreground" / ".hidden").mkdir()
    sf.write(tmp_path / "foreground" / ".hidden" / "a.wav", np.zeros(160), SR)
    assert library_labels(tmp_path) == {"foreground": ["cat", "dog"], "background": ["rain"]}
    assert library_labels(str(tmp_path))["background"] == ["rain"]
