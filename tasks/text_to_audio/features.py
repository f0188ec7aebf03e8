"""Log-mel features of the real and the generated clips, in the feature store (``logmel_t2a``).

Ronchini et al. (DCASE 2024): 16 kHz, each clip repeat-padded (or cropped) to 4 s, window 1024, hop 512,
64 mel bands over 0-8 kHz, ln(x + 0.001) (:data:`tasks.features.logmel.PRESETS` ``t2a``; 126 x 64 per
clip). Both datasets go through :func:`tasks.features.sets.extract_set` into sharded, resumable stores
``<out>/real`` and ``<out>/generated``. Per-spectrogram standardisation is applied when the clips are
loaded for training (:func:`load_clips`): each spectrogram minus its mean, divided by its *standard
deviation* (the original code divided by the variance).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundflow.devices import pick_device
from soundflow.io import write_json
from tasks.datasets.labelled_audio import class_names, read_labelled_audio
from tasks.features.logmel import PRESETS
from tasks.features.representations import RepeatPaddedLogMel
from tasks.features.sets import extract_set, relative_paths
from tasks.features.store import open_store
from tasks.text_to_audio.params import RealDataParams, T2aFeatureParams
from tasks.text_to_audio.real import real_clips

SOURCES = ("real", "generated")
STD_FLOOR = 1e-6  # a silent clip has a flat spectrogram: its standard deviation is 0


def representation(p: T2aFeatureParams) -> RepeatPaddedLogMel:
    return RepeatPaddedLogMel(PRESETS["t2a"], p.clip_seconds, name="logmel_t2a")


def _table(t: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, list[str]]:
    return pd.DataFrame({"path": relative_paths(t["path"], root), "label": t["label"], "fold": t["fold"]}), class_names(
        t
    )


def build_stores(
    real_root: Path,
    real_p: RealDataParams,
    generated_root: Path,
    p: T2aFeatureParams,
    out_dir: Path,
    summary_json: Path,
    *,
    root: Path,
) -> dict[str, dict]:
    """The two stores, then a summary JSON (clips, frames, skipped, seconds per store)."""
    summaries: dict[str, dict] = {}
    classes: dict[str, list[str]] = {}
    tables = (real_clips(real_root, real_p), read_labelled_audio(Path(generated_root), "urbansound8k"))
    for name, t in zip(SOURCES, tables):
        table, classes[name] = _table(t, Path(root))
        summaries[name] = extract_set(
            table,
            Path(out_dir) / name,
            representation(p),
            root=Path(root),
            shard_size=p.shard_size,
            workers=p.workers,
            device=str(pick_device(p.device)),
            max_bad_fraction=0.05,
            runner="local",
        )
    if classes["real"] != classes["generated"]:
        raise ValueError(f"{generated_root}: classes {classes['generated']} differ from the real {classes['real']}")
    write_json(Path(out_dir) / "classes.json", classes["real"])
    write_json(summary_json, summaries)
    return summaries


@dataclass(frozen=True)
class Clips:
    """Standardised spectrograms (clips, frames, bands) float16 with their labels, folds and file names."""

    x: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    name: np.ndarray


def standardise(spec: np.ndarray) -> np.ndarray:
    """Per spectrogram: minus its mean, over its standard deviation (Ronchini et al. divided by the variance)."""
    spec = spec.astype(np.float32)
    return (spec - spec.mean()) / max(float(spec.std()), STD_FLOOR)


def load_clips(store_dir: Path, p: T2aFeatureParams) -> Clips:
    with open_store(Path(store_dir), representation(p)) as st:
        x = np.stack([standardise(st[i][0]) for i in range(len(st))]).astype(np.float16)
        t = st.table
        names = np.array([Path(str(s)).name for s in t["path"]])
        return Clips(x, t["label"].to_numpy(np.int64), t["fold"].to_numpy(np.int64), names)
