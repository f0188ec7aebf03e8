"""Pairs -> one audiovisual feature store per split (Qian et al.'s HDF5 layout; docs/methods.md#sound-localisation)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soundflow.io import write_json
from tasks.features.audiovisual import AudioVisualFeatures
from tasks.features.store import extract_features, read_manifest
from tasks.localisation.params import LocDataParams

SPLITS = ("train", "val", "test")


def representation(data: LocDataParams, n_classes: int) -> AudioVisualFeatures:
    return AudioVisualFeatures(data.frame_side, data.clip_seconds, n_classes, data.max_boxes)


def build_split_stores(
    pairs_root: Path, out_dir: Path, summary_json: Path, data: LocDataParams, categories: list[str], *, workers: int = 2
) -> dict:
    """Every split listed as ``<pairs_root>/<split>/pairs.csv`` (``path`` = pair record relative to
    ``pairs_root``) into ``<out_dir>/<split>/`` (sharded, resumable, atomic); a summary of the counts."""
    rep = representation(data, len(categories))
    summary: dict = {"categories": list(categories), "frame_side": data.frame_side, "splits": {}}
    for split in SPLITS:
        table_path = Path(pairs_root) / split / "pairs.csv"
        if not table_path.is_file():
            raise FileNotFoundError(f"{table_path}: no pair table for split {split!r}")
        table = pd.read_csv(table_path, dtype={"label": str}, keep_default_na=False)
        store = extract_features(
            table,
            Path(out_dir) / split,
            rep,
            shard_size=data.shard_size,
            workers=workers,
            max_bad_fraction=data.max_bad_fraction,
            base_dir=Path(pairs_root),
            extra={"categories": list(categories), "split": split},
        )
        m = read_manifest(store)
        summary["splits"][split] = {"pairs": m["n_clips"], "skipped": m["n_skipped"]}
    write_json(summary_json, summary)
    return summary
