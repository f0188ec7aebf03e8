"""The generators' README: one layout, and each generator's text unchanged (it is part of the hashed data)."""

from __future__ import annotations

import hashlib

import pytest

from soundflow.io import CC0_README_SECTION
from tasks.procedural.readme import generator_readme
from tasks.procedural.sound_library import writer as sound_library
from tasks.procedural.street_scenes import writer as street_scenes
from tasks.procedural.urban_sounds import writer as urban_sounds

PARAMS = {"seed": 3, "n_train": 4, "size": [32, 64], "durations": (0.5, 1.0)}


def test_the_layout() -> None:
    text = generator_readme("# T", ["About."], "`g` (version 1)", {"seed": 3}, ["- Items: 2"], ["Seeded."])
    body = ["# T", "", "About.", "", "- Generator: `g` (version 1)", "- seed: `3`", "- Items: 2", "", "Seeded.", ""]
    assert text == "\n".join([*body, *CC0_README_SECTION])


# sha256 of each README as written before the generators shared their layout. A README is part of the bytes
# DVC hashes, so a change here reruns every stage downstream: change these only with the generator's version.
@pytest.mark.parametrize(
    ("readme", "sha256"),
    [
        (
            lambda: street_scenes._readme_text(PARAMS, {"train": 4, "val": 1, "test": 0}),
            "e15c98064b3ebf92a1504432599f99a5592300f6ee63f61cdd39e8f2a1518426",
        ),
        (
            lambda: urban_sounds._readme_text(PARAMS, 17),
            "4657fe09fb34b938504d97e15b1f43c682a64625f75332b9c497dbfebd2a0dae",
        ),
        (
            lambda: sound_library._readme_text(PARAMS, 5),
            "42f3ff4e31310b57713a1ad3d7d38b709e81bef1ac1996167836f89ddf577f66",
        ),
    ],
    ids=["street_scenes", "urban_sounds", "sound_library"],
)
def test_each_generators_readme_is_unchanged(readme, sha256: str) -> None:
    assert hashlib.sha256(readme().encode()).hexdigest() == sha256
