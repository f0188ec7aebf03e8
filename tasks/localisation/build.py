"""Pairs -> one audiovisual feature store per split (Qian et al.'s HDF5 layout; docs/methods.md#sound-localisation)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soundflow.metric_files import write_metrics
from tasks.features.audiovisual import AudioVisualFeatures
from tasks.features.store import extract_features, read_manifest
from tasks.localisation.params import LocDataParams

SPLITS = ("train", "val", "test")
PSEUDO_SPLITS = ("train", "val")  # what the training reads; the test split is scored against its annotations


def representation(data: LocDataParams, n_classes: int) -> AudioVisualFeatures:
    return AudioVisualFeatures(data.frame_side, data.clip_seconds, n_classes, data.max_boxes)


def build_split_stores(
    pairs_root: Path,
    out_dir: Path,
    summary_json: Path,
    data: LocDataParams,
    categories: list[str],
    *,
    pseudo_root: Path | None = None,
    workers: int = 2,
) -> dict:
    """Every split listed as ``<pairs_root>/<split>/pairs.csv`` (``path`` = pair record relative to
    ``pairs_root``) into ``<out_dir>/<split>/`` (sharded, resumable, atomic); a summary of the counts.
    With ``data.labels: pseudo`` the training splits' records come from ``pseudo_root`` (the same pairs,
    labelled by a classifier: :mod:`tasks.localisation.relabel`); the test split keeps its annotations."""
    rep = representation(data, len(categories))
    summary: dict = {"categories": list(categories), "frame_side": data.frame_side, "labels": data.labels, "splits": {}}
    for split in SPLITS:
        pseudo = data.labels == "pseudo" and split in PSEUDO_SPLITS
        if pseudo and pseudo_root is None:
            raise ValueError("localisation.data.labels is 'pseudo' but no pseudo-labelled records were given")
        root = Path(pseudo_root) if pseudo else Path(pairs_root)
        table_path = root / split / "pairs.csv"
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
            base_dir=root,
            extra={"categories": list(categories), "split": split, "labels": "pseudo" if pseudo else "annotated"},
        )
        m = read_manifest(store)
        summary["splits"][split] = {"pairs": m["n_clips"], "skipped": m["n_skipped"]}
    # categories and labels are parameters (dvc.lock) and in each store's manifest: not numbers
    write_metrics(summary_json, {k: summary[k] for k in ("frame_side", "splits")})
    return summary
