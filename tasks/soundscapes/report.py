"""The ``soundscapes`` stage's work: soundscapes for every segmented image, and what the log says of them.

An image can get no soundscape at all (no mapped class in it, say); the summary's note says why. Those
notes are printed one per image, so that a run that made fewer soundscapes than images explains itself
in the stage's log without opening ``summary.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from tasks.soundscapes.params import SoundscapeParams
from tasks.soundscapes.synthesis import synthesize_all


def summary_lines(summary: pd.DataFrame, out_label: str) -> list[str]:
    """The count of soundscapes made into ``out_label``, then each image that got none, with its note."""
    made = int(summary["n_soundscapes"].sum())
    lines = [f"soundscapes: {made} soundscape(s) for {len(summary)} image(s) in {out_label}"]
    for row in summary.itertuples():
        if row.n_soundscapes == 0:
            lines.append(f"  {Path(str(row.image)).name}: {row.note}")
    return lines


def synthesize_and_report(
    fractions_csv: Path, mapping: Path, library: Path, out_dir: Path, params: SoundscapeParams, *, root: Path
) -> pd.DataFrame:
    """:func:`synthesize_all` into ``out_dir``, and :func:`summary_lines` printed (``out_dir`` named from ``root``)."""
    summary = synthesize_all(fractions_csv, mapping, library, out_dir, params)
    for line in summary_lines(summary, os.path.relpath(out_dir, root)):
        print(line)
    return summary
