"""The ``aed_features`` stage's work: the spectrogram chunks of a labelled audio dataset, from its folder.

Apart from :mod:`tasks.aed.features` (the chunk store itself, which training and evaluation import),
so that the dataset readers and path handling used here stay out of those stages' code.
"""

from __future__ import annotations

import os
from pathlib import Path

from tasks.aed.features import ExtractionReport, extract_chunks
from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.features.params import AedFeatureParams
from tasks.features.sets import relative_paths


def extract_dataset_chunks(
    data_root: Path,
    layout: str,
    p: AedFeatureParams,
    max_bad_fraction: float,
    out_dir: Path,
    summary_json: Path,
    skipped_csv: Path,
    *,
    root: Path,
) -> ExtractionReport:
    """Chunks of every clip of the dataset at ``data_root`` (``layout``: urbansound8k or esc50) into ``out_dir``.

    Clip paths are stored relative to the project ``root``, so the store and the predictions made from it
    do not depend on where the checkout lives. Unreadable clips are listed in ``skipped_csv``; more than
    ``max_bad_fraction`` of them fails. Plain values, not the ``aed.data`` model: that module imports the
    model registry, which would make every network's code a dependency of feature extraction.
    """
    table = read_labelled_audio(data_root, layout)
    table["path"] = relative_paths(table["path"], root)
    report = extract_chunks(table, out_dir, summary_json, skipped_csv, p, max_bad_fraction, base_dir=root)
    print(
        f"aed_features: {report.n_chunks} chunks from {report.n_files} files; "
        f"{report.n_skipped} unreadable file(s) skipped (listed in {os.path.relpath(skipped_csv, root)})"
    )
    return report
