"""Pair records (the audiovisual store's inputs): prepared (image, clip) tables, videos at 1 fps, and SoundNet-Flickr's
test pairs -> HDF5 with boxes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from soundflow.io import atomic_path, write_json
from tasks.datasets.soundnet_flickr import FLICKR_SIDE
from tasks.features.store import extract_features
from tasks.features.video import video_seconds
from tasks.localisation.build import representation
from tasks.localisation.params import LocDataParams


def write_pair_records(table: pd.DataFrame, out_dir: Path, split: str, box_side: int = FLICKR_SIDE) -> Path:
    """One record per row of a prepared table (``path`` image, ``audio_path``, ``label_path`` XML or NaN,
    optional ``audio_labels`` / ``visual_labels`` lists) under ``out_dir/split``, and its ``pairs.csv``.
    Rows without an image or a clip are left out (and counted in the returned table's absence)."""
    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, r in table.iterrows():
        if not isinstance(r["path"], str) or not isinstance(r["audio_path"], str):
            continue
        name = Path(r["path"]).stem
        record = {
            "image": str(Path(r["path"]).resolve()),
            "audio": str(Path(r["audio_path"]).resolve()),
            "annotation": str(Path(r["label_path"]).resolve()) if isinstance(r.get("label_path"), str) else None,
            "box_frame": [box_side, box_side],
            "audio_labels": list(r.get("audio_labels", []) or []),
            "visual_labels": list(r.get("visual_labels", []) or []),
        }
        rows.append(_write_record(folder, split, name, record))
    return _write_pairs_table(folder, rows)


def _write_record(folder: Path, split: str, name: str, record: dict) -> tuple[str, str, str]:
    """One pair record as ``<name>.json``; its row of ``pairs.csv`` (path, audio labels, split)."""
    write_json(folder / f"{name}.json", record)
    return f"{split}/{name}.json", ";".join(map(str, record["audio_labels"])), split


def _write_pairs_table(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    with atomic_path(folder / "pairs.csv") as tmp:
        pd.DataFrame(rows, columns=["path", "label", "fold"]).to_csv(tmp, index=False)
    return folder / "pairs.csv"


def write_video_records(table: pd.DataFrame, out_dir: Path, split: str) -> Path:
    """Videos -> one pair record per second (its frame at 1 fps and the matching audio, read by the store:
    :mod:`tasks.features.video`) under ``out_dir/split``, and its ``pairs.csv``. ``table``: ``video`` (a
    path), optional ``audio_labels`` / ``visual_labels`` lists (each second gets its video's labels)."""
    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, r in table.iterrows():
        video = Path(r["video"]).resolve()
        for second in range(video_seconds(video)):
            name = f"{video.stem}_s{second:05d}"
            record = {
                "video": os.path.relpath(video, folder.resolve()),
                "second": second,
                "audio_labels": list(r.get("audio_labels", []) or []),
                "visual_labels": list(r.get("visual_labels", []) or []),
            }
            rows.append(_write_record(folder, split, name, record))
    return _write_pairs_table(folder, rows)


def flickr_test_store(dataset_root: Path, work_dir: Path, out_dir: Path, data: LocDataParams, n_classes: int) -> Path:
    """SoundNet-Flickr's evaluation pairs (its registry ``prepare``) -> pair records -> one audiovisual
    store with the annotators' boxes (``out_dir``, the layout of every split store)."""
    from tasks.datasets.corpora.soundnet_flickr import prepare

    table = prepare(Path(dataset_root))
    missing = int((table["path"].isna() | table["audio_path"].isna()).sum())
    if missing == len(table):
        raise FileNotFoundError(f"{dataset_root}: none of the {len(table)} test pairs' image and audio were found")
    pairs = write_pair_records(table, work_dir, "test")
    rows = pd.read_csv(pairs, dtype={"label": str}, keep_default_na=False)
    extra = {"dataset": "soundnet_flickr", "pairs_missing_media": missing, "n_categories": int(n_classes)}
    return extract_features(
        rows,
        Path(out_dir),
        representation(data, n_classes),
        shard_size=data.shard_size,
        max_bad_fraction=data.max_bad_fraction,
        base_dir=Path(work_dir),
        extra=extra,
    )
