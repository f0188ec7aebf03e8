"""AVE: Audio-Visual Event dataset (Tian et al., ECCV 2018).

4,143 annotated ten-second clips of 4,097 distinct YouTube videos (a subset of AudioSet) covering 28
event categories, each annotated with the one-second segments in which the event is both audible and
visible. ``AVE_Dataset.zip`` (about 5.7 GB) holds ``AVE/<video_id>.mp4``, ``Annotations.txt``
(``Category&VideoID&Quality&StartTime&EndTime``) and the official splits ``trainSet.txt`` /
``valSet.txt`` / ``testSet.txt`` (same format).

Source: the Google Drive file id 1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK linked from
https://github.com/YapengTian/AVE-ECCV18. Google Drive publishes no checksum and no stable size, so
``md5``/``size`` are None and the zip is checked by its content (zip magic bytes, a listing that
opens). The download goes through Drive's direct URL with ``confirm=t`` and, if Drive still answers
with its "virus scan warning" page, through that page's form (:mod:`tasks.datasets.gdrive`); a page
that is not the zip (e.g. a quota notice) is refused, kept as ``AVE_Dataset.zip.rejected.html``, and
nothing is marked downloaded. A zip downloaded by hand (in a browser) and put at
``<root>/ave/downloads/AVE_Dataset.zip`` is kept when it passes the same check.

Licence: none stated by the authors; the videos are YouTube content (AudioSet-derived), for
research use. ``duration`` is 10.0 (every AVE video is 10 s); ``start``/``end`` bound the event.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = "Y. Tian, J. Shi, B. Li, Z. Duan, C. Xu. Audio-Visual Event Localization in Unconstrained Videos. ECCV 2018."
_COLS = ["label", "video_id", "quality", "start", "end"]


def _read(path: Path) -> pd.DataFrame:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    rows = [ln.split("&") for ln in lines if not ln.startswith("Category&")]
    return pd.DataFrame(rows, columns=_COLS)


def prepare(root: Path) -> pd.DataFrame:
    """``path, label, split, start, end, duration``; one row per video of the official splits."""
    ann = find_one(Path(root), "**/Annotations.txt")
    parts = []
    for split, fname in (("train", "trainSet.txt"), ("val", "valSet.txt"), ("test", "testSet.txt")):
        df = _read(ann.parent / fname)
        df["split"] = split
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(
        {
            "path": [str(ann.parent / "AVE" / f"{v}.mp4") for v in df["video_id"]],
            "label": df["label"],
            "split": df["split"],
            "start": df["start"].astype(float),
            "end": df["end"].astype(float),
            "duration": 10.0,
        }
    )


INFO = register(
    DatasetInfo(
        name="ave",
        description="AVE: 4143 ten-second clips (4097 videos), 28 audio-visual event classes with time bounds",
        homepage="https://github.com/YapengTian/AVE-ECCV18",
        licence="not stated by the authors (YouTube videos; research use)",
        citation=CITATION,
        files=(
            RemoteFile(
                "https://drive.google.com/uc?export=download&id=1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK",
                "AVE_Dataset.zip",
                None,
                None,
            ),
        ),
        login=None,
        folder="ave",
        prepare=prepare,
    )
)
