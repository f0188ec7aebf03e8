"""The real dataset's clips, optionally the first few of each class in each fold (a small default run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.text_to_audio.params import RealDataParams


def real_clips(root: Path, p: RealDataParams) -> pd.DataFrame:
    """Rows ``path, label, class, fold`` (path order); at most ``clips_per_class_per_fold`` per class and fold."""
    t = read_labelled_audio(Path(root), p.format)
    if p.clips_per_class_per_fold is not None:
        t = t.groupby(["label", "fold"], sort=False).head(p.clips_per_class_per_fold).sort_values("path")
    return t.reset_index(drop=True)
