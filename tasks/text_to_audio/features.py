"""Log-mel features of the real and the generated clips, in the feature store (``logmel_t2a``).

Ronchini et al. (DCASE 2024): 16 kHz, each clip repeat-padded (or cropped) to 4 s, window 1024, hop 512,
64 mel bands over 0-8 kHz, ln(x + 0.001) (:data:`tasks.features.logmel.PRESETS` ``t2a``; 126 x 64 per
clip). Both datasets go through :func:`tasks.features.sets.extract_set` into sharded, resumable stores
``<out>/real`` and ``<out>/generated``. Per-spectrogram standardisation is applied when the clips are
loaded for training (:func:`load_clips`): each spectrogram minus its mean, divided by its *standard
deviation* (the original code divided by the variance).

The real clips may be in any layout of :mod:`tasks.datasets.labelled_audio` (UrbanSound8K, ESC-50); the
generated ones are in UrbanSound8K's, as ``t2a_generate`` writes them. When no training set uses generated
clips, ``t2a_generate`` lists none and there is no ``generated`` store (:func:`has_store`).
``<out>/sources.json`` keeps each clip's source recording (by stored path), for a validation split that
keeps a recording on one side (``experiment.validation: by_source``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundflow.devices import pick_device
from soundflow.io import remove_path, write_json
from tasks.datasets.labelled_audio import class_names, read_labelled_audio
from tasks.features.logmel import PRESETS
from tasks.features.representations import RepeatPaddedLogMel
from tasks.features.sets import extract_set, relative_paths
from tasks.features.store import MANIFEST, open_store, read_manifest
from tasks.text_to_audio.clip_record import verify_clips
from tasks.text_to_audio.params import RealDataParams, T2aFeatureParams
from tasks.text_to_audio.real import real_clips

SOURCES = ("real", "generated")
STD_FLOOR = 1e-6  # a silent clip has a flat spectrogram: its standard deviation is 0


def representation(p: T2aFeatureParams) -> RepeatPaddedLogMel:
    return RepeatPaddedLogMel(PRESETS["t2a"], p.clip_seconds, name="logmel_t2a")


SOURCES_JSON = "sources.json"


def _table(t: pd.DataFrame, root: Path) -> pd.DataFrame:
    return pd.DataFrame({"path": relative_paths(t["path"], root), "label": t["label"], "fold": t["fold"]})


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
    """The stores (no ``generated`` one when no clip was generated), the clips' sources and the classes, then a
    summary JSON (clips, frames, skipped, seconds per store)."""
    out_dir = Path(out_dir)
    summaries: dict[str, dict] = {}
    # t2a_generate writes UrbanSound8K's layout; a real-only experiment's lists no clip
    generated = read_labelled_audio(Path(generated_root), "urbansound8k", allow_empty=True)
    # each listed clip must hold the bytes t2a_generate recorded: an altered clip is refused, not featurised
    verify_clips(Path(generated_root), [Path(x).relative_to(generated_root).as_posix() for x in generated["path"]])
    tables = {"real": real_clips(real_root, real_p), "generated": generated}
    if len(tables["generated"]) and class_names(tables["generated"]) != class_names(tables["real"]):
        raise ValueError(
            f"{generated_root}: classes {class_names(tables['generated'])} differ from the real "
            f"{class_names(tables['real'])}"
        )
    sources: dict[str, dict[str, str]] = {}
    for name, t in tables.items():
        if len(t) == 0:  # t2a_generate made no clip: no training set uses generated ones
            if (out_dir / name).exists():
                remove_path(out_dir / name)  # a store of earlier clips would be taken for these
            summaries[name] = {"n_inputs": 0, "n_clips": 0, "n_items": 0, "n_skipped": 0}
            continue
        table = _table(t, Path(root))
        sources[name] = dict(zip(table["path"].astype(str), t["source"].astype(str)))
        summaries[name] = extract_set(
            table,
            out_dir / name,
            representation(p),
            root=Path(root),
            shard_size=p.shard_size,
            workers=p.workers,
            device=str(pick_device(p.device)),
            max_bad_fraction=0.05,
            runner="local",
        )
    write_json(out_dir / SOURCES_JSON, sources)
    write_json(out_dir / "classes.json", class_names(tables["real"]))
    write_json(summary_json, summaries)
    return summaries


@dataclass(frozen=True)
class Clips:
    """Standardised spectrograms (clips, frames, bands) float16 with their labels, folds, file names and sources."""

    x: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    name: np.ndarray
    source: np.ndarray  # the recording each clip was cut from (its own path when the stores record none)

    def none(self) -> Clips:
        """No clip, in this one's shape: the generated clips when none were generated."""
        return Clips(self.x[:0], self.label[:0], self.fold[:0], self.name[:0], self.source[:0])


def standardise(spec: np.ndarray) -> np.ndarray:
    """Per spectrogram: minus its mean, over its standard deviation (Ronchini et al. divided by the variance)."""
    spec = spec.astype(np.float32)
    return (spec - spec.mean()) / max(float(spec.std()), STD_FLOOR)


def _sources(store_dir: Path) -> dict[str, str]:
    file = Path(store_dir).parent / SOURCES_JSON
    return json.loads(file.read_text()).get(Path(store_dir).name, {}) if file.is_file() else {}


def load_clips(store_dir: Path, p: T2aFeatureParams) -> Clips:
    with open_store(Path(store_dir), representation(p)) as st:
        x = np.stack([standardise(st[i][0]) for i in range(len(st))]).astype(np.float16)
        t = st.table
        paths = [str(s) for s in t["path"]]
        names = np.array([Path(s).name for s in paths])
        known = _sources(store_dir)
        source = np.array([known.get(s, s) for s in paths])
        return Clips(x, t["label"].to_numpy(np.int64), t["fold"].to_numpy(np.int64), names, source)


def has_store(store_dir: Path) -> bool:
    """Whether ``build_stores`` made this store (it makes none for a source without clips)."""
    return (Path(store_dir) / MANIFEST).is_file()


def store_shards(stores: Path) -> list[object]:
    """The shard records of each store of ``stores`` (None for an absent one): what a trained model depends on."""
    return [read_manifest(Path(stores) / s)["shards"] if has_store(Path(stores) / s) else None for s in SOURCES]
