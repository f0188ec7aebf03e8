"""ESC-50: Dataset for Environmental Sound Classification (Piczak, 2015).

2000 five-second clips (44.1 kHz mono WAV) in 50 classes, 40 per class, from Freesound field
recordings, prearranged into 5 cross-validation folds. ``meta/esc50.csv`` has ``filename, fold,
target, category, esc10, src_file, take``; the ``esc10`` column marks the ESC-10 subset.

Source: the GitHub archive of the repository's master branch,
https://github.com/karoldvl/ESC-50/archive/master.zip (about 600 MB). GitHub publishes no checksum
for branch archives, and such archives are regenerated on demand, so ``md5`` and ``size`` are None:
the download is verified only by its content (a zip whose listing opens, not an error page).

Licence: Creative Commons Attribution-NonCommercial 3.0 Unported (CC BY-NC 3.0); the ESC-10 subset
is CC BY. Every clip is 5 s long, so ``duration`` is 5.0 without decoding.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "K. J. Piczak. ESC: Dataset for Environmental Sound Classification. Proceedings of the 23rd Annual "
    "ACM Conference on Multimedia, Brisbane, Australia, 2015, pp. 1015-1018. doi:10.1145/2733373.2806390"
)
CLIP_SECONDS = 5.0


def prepare(root: Path) -> pd.DataFrame:
    """``path, label, class, fold, source, duration`` of every clip (via :func:`read_labelled_audio`)."""
    data_root = find_one(Path(root), "**/meta/esc50.csv").parent.parent
    table = read_labelled_audio(data_root, "esc50")
    table["duration"] = CLIP_SECONDS
    return table


INFO = register(
    DatasetInfo(
        name="esc50",
        description="2000 environmental sound clips (5 s), 50 classes, 5 folds",
        homepage="https://github.com/karolpiczak/ESC-50",
        licence="CC BY-NC 3.0 (ESC-10 subset: CC BY)",
        citation=CITATION,
        files=(RemoteFile("https://github.com/karoldvl/ESC-50/archive/master.zip", "ESC-50-master.zip", None, None),),
        login=None,
        folder="esc50",
        prepare=prepare,
    )
)
