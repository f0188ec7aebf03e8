"""AudioSet musical-instrument subset: segment annotation CSVs (Gemmeke et al., 2017).

AudioSet labels 10-second YouTube segments with classes of the AudioSet ontology. This entry fetches
the segment lists (``eval_segments.csv``, ``balanced_train_segments.csv``,
``unbalanced_train_segments.csv``: three ``#`` header lines, then ``YTID, start_seconds,
end_seconds, "positive_labels"``), ``class_labels_indices.csv`` and the ontology, and keeps the
segments carrying at least one label under "Musical instrument" (``/m/04szw``). No audio is
downloaded (it lives on YouTube); ``path`` is where a clip would be stored, ``clips/<YTID>_<start>.wav``.

Source: Google's storage bucket (http://research.google.com/audioset/download.html) and the ontology
repository on GitHub. Neither publishes checksums, so every ``md5`` is None.

Licence: annotations CC BY 4.0 (Google); ontology CC BY-SA 4.0. ``duration`` is ``end - start``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "J. F. Gemmeke, D. P. W. Ellis, D. Freedman, A. Jansen, W. Lawrence, R. C. Moore, M. Plakal, M. Ritter. "
    "Audio Set: An ontology and human-labeled dataset for audio events. ICASSP 2017."
)
_CSV = "https://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/"
SPLITS = {
    "eval": "eval_segments.csv",
    "balanced_train": "balanced_train_segments.csv",
    "unbalanced_train": "unbalanced_train_segments.csv",
}
FILES = tuple(RemoteFile(_CSV + f, f, None, None) for f in (*SPLITS.values(), "class_labels_indices.csv")) + (
    RemoteFile("https://raw.githubusercontent.com/audioset/ontology/master/ontology.json", "ontology.json", None, None),
)
INSTRUMENT_ROOT = "/m/04szw"


def instrument_ids(ontology: list[dict], root_id: str = INSTRUMENT_ROOT) -> set[str]:
    """``root_id`` and every class below it in the ontology."""
    children = {c["id"]: c.get("child_ids", []) for c in ontology}
    out, todo = set(), [root_id]
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
            todo.extend(children.get(c, []))
    return out


def read_segments(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        comment="#",
        header=None,
        names=["youtube_id", "start", "end", "labels"],
        skipinitialspace=True,
        quotechar='"',
        dtype={"youtube_id": str},
    )


def prepare(root: Path) -> pd.DataFrame:
    """``path, youtube_id, labels`` (``;``-joined instrument names), ``split, start, end, duration``."""
    root = Path(root)
    keep = instrument_ids(json.loads(find_one(root, "ontology.json").read_text(encoding="utf-8")))
    names = dict(pd.read_csv(find_one(root, "class_labels_indices.csv"))[["mid", "display_name"]].values)
    parts = []
    for split, fname in SPLITS.items():
        df = read_segments(find_one(root, fname))
        mids = df["labels"].str.split(",").map(lambda ls: [m for m in ls if m in keep])
        df = df[mids.str.len() > 0].copy()
        df["labels"] = mids[mids.str.len() > 0].map(lambda ls: ";".join(names.get(m, m) for m in ls))
        df["split"] = split
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "path", [str(root / "clips" / f"{y}_{s:.3f}.wav") for y, s in zip(df["youtube_id"], df["start"])])
    df["duration"] = df["end"] - df["start"]
    return df


INFO = register(
    DatasetInfo(
        name="audioset_instruments",
        description="AudioSet segments labelled with a musical instrument (annotation CSVs only, no audio)",
        homepage="https://research.google.com/audioset/",
        licence="annotations CC BY 4.0; ontology CC BY-SA 4.0",
        citation=CITATION,
        files=FILES,
        login=None,
        folder="audioset_instruments",
        prepare=prepare,
    )
)
