"""Feature sets of the pipeline: which inputs of which dataset go into which store, and a summary.

A *feature set* is one (dataset, representation) pair; its store is
``<out_root>/<dataset>/<representation>/`` (:mod:`tasks.features.store`). Input tables come from
three kinds of source, each normalised to ``path, label, fold``:

- labelled audio folders (UrbanSound8K or ESC-50 layout, :mod:`tasks.datasets.labelled_audio`):
  label = class index, fold = fold;
- Cityscapes-layout image folders (:func:`tasks.datasets.cityscapes.find_pairs`): label = the
  image's labelIds path, fold = split;
- a downloaded dataset's ``metadata.csv`` (:func:`tasks.datasets.registry.prepare`): label = its
  ``label`` (or ``label_path``) column, fold = ``fold`` (or ``split``).

Paths under the project root are kept relative to it, so the stores do not depend on where the
project lives.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from soundflow.io import write_json
from tasks.features.representations import IMAGE_NAMES, Representation

IMAGE_SPLITS = ("train", "val", "test")


def relative_paths(paths: pd.Series, root: Path) -> pd.Series:
    """Paths under ``root`` relative to it (POSIX); others absolute."""
    root = root.resolve()

    def rel(p: Any) -> str:
        path = Path(str(p))
        path = path if path.is_absolute() else (root / path)
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return str(path)

    return paths.map(rel)


def labelled_audio_table(folder: Path, layout: str, root: Path) -> pd.DataFrame:
    from tasks.datasets.labelled_audio import read_labelled_audio

    t = read_labelled_audio(folder, layout)
    return pd.DataFrame({"path": relative_paths(t["path"], root), "label": t["label"], "fold": t["fold"]})


def image_folder_table(folder: Path, root: Path) -> pd.DataFrame:
    from tasks.datasets.cityscapes import find_pairs

    rows = []
    for split in IMAGE_SPLITS:
        if (Path(folder) / "leftImg8bit" / split).is_dir():
            rows += [{"path": img, "label": lab, "fold": split} for img, lab in find_pairs(Path(folder), split)]
    if not rows:
        raise FileNotFoundError(f"{folder}: no images under leftImg8bit/{{{','.join(IMAGE_SPLITS)}}}/<city>/")
    t = pd.DataFrame(rows)
    return pd.DataFrame(
        {"path": relative_paths(t["path"], root), "label": relative_paths(t["label"], root), "fold": t["fold"]}
    )


def metadata_table(csv: Path, root: Path) -> pd.DataFrame:
    t = pd.read_csv(csv)
    if "path" not in t.columns:
        raise ValueError(f"{csv}: no 'path' column; has {list(t.columns)}")
    label = next((c for c in ("label", "labels", "label_path") if c in t.columns), None)
    fold = next((c for c in ("fold", "split") if c in t.columns), None)
    base = Path(csv).parent
    paths = t["path"].map(lambda p: str(p) if Path(str(p)).is_absolute() else str(base / str(p)))
    return pd.DataFrame(
        {
            "path": relative_paths(paths, root),
            "label": t[label].astype(str) if label else "",
            "fold": t[fold] if fold else "all",
        }
    )


@dataclass(frozen=True)
class FeatureSet:
    dataset: str
    representation: str

    @property
    def folder(self) -> str:
        return f"{self.dataset}/{self.representation}"


def check_modality(fs: FeatureSet, table: pd.DataFrame) -> None:
    """A clear error for image inputs to an audio representation and the reverse."""
    images = table["path"].astype(str).str.lower().str.endswith((".png", ".jpg", ".jpeg")).mean() > 0.5
    if images != (fs.representation in IMAGE_NAMES):
        kind = "images" if images else "audio"
        raise ValueError(
            f"features.sets: {fs.dataset} holds {kind}, which representation {fs.representation!r} "
            f"cannot use ({'frames' if not images else 'an audio representation'} expected)"
        )


def set_summary(out_dir: Path, seconds: float) -> dict[str, Any]:
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return {
        "n_inputs": manifest["n_rows"],
        "n_clips": manifest["n_clips"],
        "n_items": manifest["n_items"],
        "n_skipped": manifest["n_skipped"],
        "skipped_fraction": manifest["n_skipped"] / max(1, manifest["n_rows"]),
        "n_shards": len(manifest["shards"]),
        "seconds": seconds,
    }


def extract_set(
    table: pd.DataFrame,
    out_dir: Path,
    rep: Representation,
    *,
    root: Path,
    shard_size: int,
    workers: int,
    device: str,
    max_bad_fraction: float,
    runner: str,
) -> dict[str, Any]:
    """One store, in this process (``runner="local"``) or over Dask (``"dask"``); returns its summary."""
    t0 = time.perf_counter()
    kwargs = dict(
        shard_size=shard_size, workers=workers, device=device, max_bad_fraction=max_bad_fraction, base_dir=root
    )
    if runner == "dask":
        from tasks.features.dask_shards import extract_features_dask

        extract_features_dask(table, out_dir, rep, **kwargs)
    else:
        from tasks.features.store import extract_features

        extract_features(table, out_dir, rep, **kwargs)
    return set_summary(out_dir, time.perf_counter() - t0)


def write_summary(path: Path, summaries: dict[str, dict[str, Any]]) -> Path:
    """``{dataset/representation: {n_clips, n_items, n_skipped, ...}}`` as the stage's metrics JSON."""
    return write_json(path, summaries)
