"""The transcoder's data sources as one kind of table, their split by clip, and each 1 s chunk's labels.

A source table has one row per clip: ``path`` (relative to the project root when under it), ``labels``
(``;``-joined class names of the clip), ``events`` (``label@onset-offset;...`` when the source annotates
event times, else empty) and ``group`` (a fold number or a split name). Sources:

- ``soundscapes``: the Scaper soundscapes of :mod:`tasks.transcoder.soundscapes` (fine UrbanSound8K-class
  labels with event times from their JAMS);
- ``urban_synth``: the procedural clips (UrbanSound8K layout; single label, its folds);
- any dataset of the ``datasets`` stage's index (its ``metadata.csv``): ``sonyc_ust`` (coarse labels),
  ``urbansound8k`` (class, fold), ``tau2020_mobile`` (scene label; unlabelled for the transcoder).

Splits are by *clip* (no chunk of a clip on two sides), drawn from a seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.features.sets import relative_paths

GENERATED = ("soundscapes", "urban_synth")
CHUNK_SECONDS = 1.0


def source_table(
    name: str, root: Path, soundscapes_dir: str, urban_synth_dir: str, datasets_index: str
) -> pd.DataFrame:
    """``path, labels, events, group`` of every clip of source ``name``."""
    root = Path(root)
    if name == "soundscapes":
        meta = root / soundscapes_dir / "metadata.csv"
        t = pd.read_csv(meta, keep_default_na=False)
        paths = relative_paths(t["path"].map(lambda p: str(meta.parent / p)), root)
        return pd.DataFrame({"path": paths, "labels": t["labels"], "events": t["events"], "group": "all"})
    if name == "urban_synth":
        from tasks.datasets.labelled_audio import read_labelled_audio

        t = read_labelled_audio(root / urban_synth_dir, "urbansound8k")
        return pd.DataFrame(
            {"path": relative_paths(t["path"], root), "labels": t["class"], "events": "", "group": t["fold"]}
        )
    return _registry_table(name, root, datasets_index)


def _registry_table(name: str, root: Path, datasets_index: str) -> pd.DataFrame:
    index_path = root / datasets_index
    entries = json.loads(index_path.read_text())["datasets"] if index_path.is_file() else []
    entry = next((d for d in entries if d["name"] == name), None)
    if entry is None:
        raise ValueError(
            f"transcoder.data: source {name!r} is neither one of {', '.join(GENERATED)} nor in {datasets_index}; "
            "list it in data.download.datasets and run the datasets stage"
        )
    csv = root / entry["metadata"]
    t = pd.read_csv(csv, keep_default_na=False)
    if "path" not in t.columns:
        raise ValueError(f"{csv}: no 'path' column; has {list(t.columns)}")
    labels = t["labels"] if "labels" in t.columns else t["class"] if "class" in t.columns else t.get("label", "")
    group = t["fold"] if "fold" in t.columns else t["split"] if "split" in t.columns else "all"
    paths = relative_paths(t["path"].map(lambda p: str(p) if Path(str(p)).is_absolute() else str(csv.parent / p)), root)
    return pd.DataFrame({"path": paths, "labels": pd.Series(labels).astype(str), "events": "", "group": group})


def split_by_clip(n_clips: int, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """``train`` / ``val`` / ``test`` per clip, a seeded random split (at least one clip each when n >= 3)."""
    if n_clips < 3:
        raise ValueError(f"{n_clips} clip(s): a train/val/test split by clip needs at least 3")
    order = np.random.default_rng(seed).permutation(n_clips)
    n_test = max(1, round(test_fraction * n_clips))
    n_val = max(1, round(val_fraction * n_clips))
    split = np.full(n_clips, "train", dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test : n_test + n_val]] = "val"
    return split


def parse_events(text: str) -> list[tuple[str, float, float]]:
    """``label@on-off;...`` -> [(label, on, off)]."""
    out = []
    for item in filter(None, str(text).split(";")):
        label, times = item.rsplit("@", 1)
        on, off = times.split("-")
        out.append((label, float(on), float(off)))
    return out


def chunk_labels(labels: str, events: str, second: int, min_overlap: float) -> set[str]:
    """Classes of the 1 s chunk ``second`` of a clip: its events overlapping it by ``min_overlap`` s or more,
    or, without event times, the clip's labels (SONYC-UST style clip-level truth)."""
    if not events:
        return set(filter(None, str(labels).split(";")))
    lo, hi = second * CHUNK_SECONDS, (second + 1) * CHUNK_SECONDS
    return {label for label, on, off in parse_events(events) if min(off, hi) - max(on, lo) >= max(min_overlap, 1e-9)}


def multi_hot(label_sets: list[set[str]], classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(label_sets), len(classes)), np.float32)
    for r, labels in enumerate(label_sets):
        for label in labels:
            if label in index:
                y[r, index[label]] = 1.0
    return y
