"""Spectrogram chunks of labelled audio in a feature store (docs/methods.md#spectrogram-chunks).

The chunking and the spectrogram are :mod:`tasks.features.stft_chunks`; the storage is the sharded
store of :mod:`tasks.features.store` with the ``stft_chunks`` representation (one item per chunk,
HDF5-chunked one spectrogram at a time for random reads), so extraction reads clips in parallel,
skips and lists unreadable ones, writes each shard atomically and resumes after a kill. The class
names and each clip's source recording travel in the manifest's ``extra``; :func:`read_index` gives
training and evaluation the chunk -> file -> label/fold/source index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundflow.io import atomic_path, write_json
from tasks.datasets.labelled_audio import class_names
from tasks.features.params import AedFeatureParams
from tasks.features.representations import StftChunkFeatures
from tasks.features.store import SKIPPED, FeatureStore, extract_features, read_manifest


@dataclass(frozen=True)
class ExtractionReport:
    store: Path
    summary: Path
    skipped: Path
    n_files: int
    n_chunks: int
    n_skipped: int


def extract_chunks(
    table: pd.DataFrame,
    out_dir: Path,
    summary_json: Path,
    skipped_csv: Path,
    p: AedFeatureParams,
    max_bad_fraction: float,
    progress: bool = True,
    shard_size: int = 256,
    base_dir: Path | None = None,
) -> ExtractionReport:
    """Spectrogram chunks of every clip of ``table`` (rows ``path, label, class, fold``, optionally ``source``:
    the recording, each clip its own without it) into the store ``out_dir`` (relative paths are relative to
    ``base_dir``).

    Undecodable, empty or non-finite clips are skipped and listed in ``skipped_csv``; the stage fails
    (TooManyBadInputs, no manifest) only if more than ``max_bad_fraction`` of the clips are bad.
    """
    if len(table) == 0:
        raise ValueError("no clips to extract: the dataset table is empty")
    out_dir = Path(out_dir)
    table = table.reset_index(drop=True)
    sources = table["source"] if "source" in table.columns else table["path"]
    try:
        extract_features(
            table[["path", "label", "fold"]],
            out_dir,
            StftChunkFeatures(p),
            shard_size=shard_size,
            workers=p.workers or os.cpu_count() or 1,
            max_bad_fraction=max_bad_fraction,
            progress=progress,
            base_dir=base_dir,
            # per extraction-table row (the store's ``row``): the validation split keeps a recording on one side
            extra={"classes": class_names(table), "sources": [str(v) for v in sources]},
        )
    finally:
        if (out_dir / SKIPPED).is_file():
            with atomic_path(skipped_csv) as tmp:
                shutil.copyfile(out_dir / SKIPPED, tmp)
    manifest = read_manifest(out_dir)
    summary = {
        "n_files": manifest["n_clips"],
        "n_chunks": manifest["n_items"],
        "n_skipped": manifest["n_skipped"],
        "skipped_fraction": manifest["n_skipped"] / len(table),
        "n_classes": len(manifest["extra"]["classes"]),
    }
    write_json(summary_json, summary)
    return ExtractionReport(
        out_dir, Path(summary_json), Path(skipped_csv), manifest["n_clips"], manifest["n_items"], manifest["n_skipped"]
    )


def open_chunks(store_dir: Path) -> FeatureStore:
    """The chunk store at ``store_dir`` (complete, made by :func:`extract_chunks`)."""
    manifest = read_manifest(store_dir)
    if manifest.get("representation") != StftChunkFeatures.name or "classes" not in manifest.get("extra", {}):
        raise ValueError(
            f"{store_dir}: not a soundflow AED chunk store (representation {manifest.get('representation')!r})"
        )
    return FeatureStore(store_dir, manifest)


def fingerprint(store_dir: Path) -> str:
    """Identity of the stored data: the manifest holds the parameters, the counts and every shard's input hash."""
    return hashlib.sha256(json.dumps(read_manifest(store_dir), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ChunkIndex:
    """The index part of a chunk store, read into memory (the spectrograms stay on disk)."""

    classes: list[str]
    params: dict[str, object]
    chunk_file: np.ndarray
    chunk_label: np.ndarray
    file_path: np.ndarray
    file_label: np.ndarray
    file_fold: np.ndarray
    file_source: np.ndarray  # the recording each file was cut from (its own path in stores without sources)

    @property
    def input_shape(self) -> tuple[int, int]:
        return int(self.params["n_freq_bins"]), int(self.params["n_frames"])  # type: ignore[call-overload]


def read_index(store_dir: Path) -> ChunkIndex:
    with open_chunks(store_dir) as st:
        counts = st.item_counts
        file_label = st.table["label"].to_numpy(dtype=np.int64)
        paths = np.asarray(st.table["path"].astype(str))
        sources = st.manifest["extra"].get("sources")
        return ChunkIndex(
            classes=list(st.manifest["extra"]["classes"]),
            params={k: v for k, v in st.params.items() if k in AedFeatureParams.model_fields},
            chunk_file=np.repeat(np.arange(len(st)), counts),
            chunk_label=np.repeat(file_label, counts),
            file_path=paths,
            file_label=file_label,
            file_fold=st.table["fold"].to_numpy(dtype=np.int64),
            file_source=paths if sources is None else np.asarray(sources, dtype=str)[st.table["row"].to_numpy()],
        )
