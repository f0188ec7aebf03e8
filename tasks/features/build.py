"""The ``features`` stage's work: one HDF5 store per listed (dataset, representation) set, a summary, examples.

The stores' folder is kept between runs (a rerun resumes every finished shard that still matches), so
this module also removes the stores of sets taken off the list: the folder then holds exactly the listed
sets, which is what DVC records as the stage's output.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soundflow.devices import pick_device
from soundflow.io import remove_path
from soundflow.plots import feature_examples
from tasks.features import sets
from tasks.features.params import AedFeatureParams, FeatureParams
from tasks.features.representations import Representation, make_representation
from tasks.features.store import open_store


@dataclass(frozen=True)
class FeatureSources:
    """Where the inputs of each dataset name are found, as paths relative to the project ``root``.

    ``urban_synth`` and ``street_scenes`` are folders the pipeline generates; any other name must be
    in the ``datasets`` stage's index, which points at its ``metadata.csv``. The paths stay relative
    so that a missing dataset is named as the project knows it, not by this checkout's location.
    """

    root: Path
    urban_synth: str
    street_scenes: str
    datasets_index: str

    def table(self, dataset: str) -> pd.DataFrame:
        """The input table (``path, label, fold``, paths relative to ``root``) of ``dataset``."""
        if dataset == "urban_synth":
            return sets.labelled_audio_table(self.root / self.urban_synth, "urbansound8k", self.root)
        if dataset == "street_scenes":
            return sets.image_folder_table(self.root / self.street_scenes, self.root)
        index = json.loads((self.root / self.datasets_index).read_text())["datasets"]
        entry = next((d for d in index if d["name"] == dataset), None)
        if entry is None:
            raise ValueError(
                f"features: dataset {dataset!r} is not in {self.datasets_index}; run the datasets stage first"
            )
        return sets.metadata_table(self.root / entry["metadata"], self.root)


def remove_unlisted_stores(out_root: Path, wanted: Collection[str]) -> list[Path]:
    """Delete the ``<dataset>/<representation>`` folders under ``out_root`` not named in ``wanted``.

    Without this, a set taken off the list would leave its store in the persistent output forever.
    Files at that depth are not stores and are left alone. Returns the folders removed.
    """
    removed = []
    for folder in sorted(out_root.glob("*/*")):
        if folder.is_dir() and folder.relative_to(out_root).as_posix() not in wanted:
            remove_path(folder)
            removed.append(folder)
    return removed


def first_example(store_dir: Path, rep: Representation) -> tuple[np.ndarray, str] | None:
    """The first input's items and a caption (file name, label, fold) for the examples figure; None if empty."""
    with open_store(store_dir, rep) as store:
        if not len(store):
            return None
        items, label, fold = store[0]
        label = Path(str(label)).name if "/" in str(label) else label  # a label map's path: its name suffices
        return items, f"{Path(str(store.table.path[0])).name}\nlabel {label}, fold {fold}"


def build_set(
    fs: sets.FeatureSet,
    f: FeatureParams,
    aed_features: AedFeatureParams,
    sources: FeatureSources,
    out_root: Path,
    device: str,
) -> tuple[dict[str, Any], tuple[np.ndarray, str] | None]:
    """One set's store under ``out_root/<dataset>/<representation>``: its summary and its first example."""
    table = sources.table(fs.dataset)
    sets.check_modality(fs, table)
    rep = make_representation(fs.representation, clip_seconds=f.clip_seconds, aed_features=aed_features)
    summary = sets.extract_set(
        table,
        out_root / fs.folder,
        rep,
        root=sources.root,
        shard_size=f.shard_size,
        workers=f.workers,
        device=device,
        max_bad_fraction=f.max_bad_fraction,
        runner=f.runner,
    )
    print(
        f"features: {fs.folder}: {summary['n_clips']} input(s), {summary['n_items']} item(s), "
        f"{summary['n_skipped']} skipped, {summary['seconds']:.1f} s ({f.runner})"
    )
    return summary, first_example(out_root / fs.folder, rep)


def build_feature_sets(
    f: FeatureParams,
    aed_features: AedFeatureParams,
    sources: FeatureSources,
    out_root: Path,
    summary_json: Path,
    examples_png: Path,
) -> Path:
    """Every set of ``f.sets`` into its store; the counts to ``summary_json``, first inputs to ``examples_png``.

    ``aed_features`` parameterises the ``stft_chunks`` representation (the AED's own chunks). Returns
    ``examples_png``.
    """
    remove_unlisted_stores(out_root, {f"{s.dataset}/{s.representation}" for s in f.sets})
    device = str(pick_device(f.device))  # before any work: a missing CUDA device fails the stage at once
    summaries, examples = {}, {}
    for s in f.sets:
        fs = sets.FeatureSet(s.dataset, s.representation)
        summaries[fs.folder], example = build_set(fs, f, aed_features, sources, out_root, device)
        if example is not None:
            examples[fs.folder] = example
    sets.write_summary(summary_json, summaries)
    return feature_examples(examples, examples_png, title="first input of each feature store")
