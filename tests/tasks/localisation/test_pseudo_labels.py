"""Pseudo-labels: classifier probabilities mapped to the categories through the repository's table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.localisation.pseudo_labels import pseudo_labels, read_mapping
from tasks.procedural.urban_sounds import CLASSES
from tests.helpers.paths import ROOT

CATS = ["car_horn", "dog_bark", "siren", "jackhammer", "street_music"]


def test_the_repository_table_maps_every_urban_class() -> None:
    mapping = read_mapping(ROOT / "configs/localisation_categories.yaml", list(CLASSES), CATS)
    assert mapping["drilling"] == "jackhammer" and mapping["gun_shot"] is None
    probs = np.zeros((2, len(CLASSES)))
    probs[0, CLASSES.index("drilling")] = 0.8  # counts for jackhammer
    probs[1, CLASSES.index("air_conditioner")] = 0.9  # maps to nothing
    probs[1, CLASSES.index("siren")] = 0.2  # below the threshold
    labels = pseudo_labels(probs, list(CLASSES), CATS, mapping, threshold=0.3)
    assert labels.tolist() == [[0, 0, 0, 1, 0], [0, 0, 0, 0, 0]]


def test_a_table_with_an_unknown_category_or_a_missing_class_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("car_horn: horn\n")
    with pytest.raises(ValueError, match="unknown categories \\['horn'\\]"):
        read_mapping(tmp_path / "m.yaml", ["car_horn", "siren"], CATS)
