"""The ``soundscapes`` stage's log: the count, then every image that got no soundscape and why."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.soundscapes.report import summary_lines
from tasks.soundscapes.synthesis import SUMMARY_COLUMNS


@pytest.mark.slow
def test_images_without_a_soundscape_are_named_with_their_note() -> None:
    summary = pd.DataFrame(
        [
            ["data/x/a_leftImg8bit.png", 3, "road", "car;person", ""],
            ["data/x/b_leftImg8bit.png", 0, "", "", "no mapped class covers any pixel."],
            ["/abs/c_leftImg8bit.png", 2, "vegetation", "", ""],
            ["d_leftImg8bit.png", 0, "", "", "the library has no background sound."],
        ],
        columns=list(SUMMARY_COLUMNS),
    )
    assert summary_lines(summary, "data/soundscapes") == [
        "soundscapes: 5 soundscape(s) for 4 image(s) in data/soundscapes",
        "  b_leftImg8bit.png: no mapped class covers any pixel.",
        "  d_leftImg8bit.png: the library has no background sound.",
    ]
    assert summary_lines(summary.iloc[:0], "out") == ["soundscapes: 0 soundscape(s) for 0 image(s) in out"]
