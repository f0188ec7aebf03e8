"""The dataset writer: clips of the urban-sound models in UrbanSound8K's layout (``generate_dataset``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from soundflow.io import generated_folder
from tasks.procedural.checks import is_int
from tasks.procedural.readme import generator_readme
from tasks.procedural.urban_sounds.clips import render_components
from tasks.procedural.urban_sounds.events import CLASSES, GENERATOR_VERSION

__all__ = ["METADATA_COLUMNS", "generate_dataset"]

METADATA_COLUMNS: tuple[str, ...] = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")


def _validate_dataset_args(
    clips_per_class: int,
    n_folds: int,
    sample_rate: int,
    duration_range: tuple[float, float],
    snr_db_range: tuple[float, float],
    classes: Sequence[str],
    seed: int,
) -> None:
    if not is_int(clips_per_class) or clips_per_class < 1:
        raise ValueError(f"clips_per_class must be an integer >= 1, got {clips_per_class!r}")
    if not is_int(n_folds) or n_folds < 1:
        raise ValueError(f"n_folds must be an integer >= 1, got {n_folds!r}")
    if not is_int(sample_rate) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    try:
        lo, hi = (float(v) for v in duration_range)
    except (TypeError, ValueError):
        raise ValueError(f"duration_range must be a pair (lo, hi) of seconds, got {duration_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"duration_range must satisfy 0 < lo <= hi, got {duration_range!r}")
    if lo * sample_rate < 1:
        raise ValueError(f"duration_range lower bound {lo} s is shorter than one sample at {sample_rate} Hz")
    try:
        s_lo, s_hi = (float(v) for v in snr_db_range)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db_range must be a pair (lo, hi) in dB, got {snr_db_range!r}") from None
    if not (np.isfinite(s_lo) and np.isfinite(s_hi) and s_lo <= s_hi):
        raise ValueError(f"snr_db_range must be finite with lo <= hi, got {snr_db_range!r}")
    _validate_classes(classes)
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _validate_classes(classes: Sequence[str]) -> None:
    if isinstance(classes, str) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty sequence of class names, got {classes!r}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"classes contains unknown class names {unknown}; expected names from {list(CLASSES)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contains duplicates: {list(classes)}")


# The title marks a folder as this generator's output (generated_folder replaces only such folders) and the
# README's text is part of the dataset's bytes, which DVC hashes: both keep the wording they had when the
# generator was tasks/datasets/urban_synth.py, so earlier datasets stay replaceable and unchanged.
_README_TITLE = "# Synthetic UrbanSound8K-style dataset (soundflow urban_synth)"


def _readme_text(params: dict[str, object], n_rows: int) -> str:
    about = [
        "Procedurally generated environmental-sound clips for the ten UrbanSound8K classes, written in",
        "UrbanSound8K's layout (`audio/fold{k}/{fsID}-{classID}-{occurrenceID}-{sliceID}.wav`,",
        "`metadata/UrbanSound8K.csv`). No recorded audio is involved: every clip is synthesised from a",
        "seeded signal model, mixed over a synthetic street-ambience background at a random SNR.",
    ]
    seeding = [
        "Metadata: `start`/`end` are the event's position in seconds within its clip; `salience` is 1",
        "(foreground) when the clip's SNR >= 10 dB, else 2 (background). `fsID` is a synthetic id unique",
        "per clip, (classID + 1) * 1000000 + clip index; occurrenceID and sliceID are 0. Clip k of a class",
        "is rendered from `numpy.random.default_rng([seed, classID, k])`.",
        "",
        "Re-running the generator with the same parameters reproduces these files byte for byte.",
    ]
    generator = f"`tasks.datasets.urban_synth.generate_dataset` (model version {GENERATOR_VERSION})"
    return generator_readme(_README_TITLE, about, generator, params, [f"- Clips: {n_rows}"], seeding)


def generate_dataset(
    out_dir: Path,
    *,
    clips_per_class: int,
    n_folds: int = 10,
    sample_rate: int = 22050,
    duration_range: tuple[float, float] = (1.0, 4.0),
    snr_db_range: tuple[float, float] = (0.0, 20.0),
    seed: int = 0,
    classes: Sequence[str] = CLASSES,
    progress: bool = True,
) -> Path:
    """Write a synthetic dataset in UrbanSound8K's layout and return its metadata CSV path.

    Clip ``k`` of class ``c`` is rendered from ``np.random.default_rng([seed, CLASSES.index(c), k])``
    (duration, then SNR, then the clip), so its audio does not depend on how many clips or which other
    classes are generated. Clip ``k`` goes to fold ``k % n_folds + 1``. The dataset is built in a
    sibling temporary directory and moved into place with a rename, replacing a previous output of
    this function at ``out_dir``; an interrupted run never leaves a complete-looking ``out_dir``.

    Args:
        out_dir: dataset root to create; an earlier output of this function there is replaced.
        clips_per_class: number of clips per class (>= 1).
        n_folds: number of folds (>= 1); fold directories are ``fold1``..``fold{n_folds}``.
        sample_rate: sample rate of the 16-bit PCM wav files (>= 8000).
        duration_range: (lo, hi) clip duration in seconds, drawn uniformly; 0 < lo <= hi.
        snr_db_range: (lo, hi) event-to-background SNR in dB, drawn uniformly.
        seed: base seed (non-negative integer).
        classes: subset of ``CLASSES`` to generate (classIDs stay those of ``CLASSES``).
        progress: show a tqdm progress bar.

    Returns:
        Path to ``out_dir/metadata/UrbanSound8K.csv``.

    Raises:
        ValueError: naming the offending argument when an argument is invalid.
        FileExistsError: if ``out_dir`` exists, is not empty and was not written by this function.
    """
    if not isinstance(classes, str):
        classes = tuple(classes)
    _validate_dataset_args(clips_per_class, n_folds, sample_rate, duration_range, snr_db_range, classes, seed)
    out_dir = Path(out_dir)
    durations = (float(duration_range[0]), float(duration_range[1]))
    snrs = (float(snr_db_range[0]), float(snr_db_range[1]))
    with generated_folder(out_dir, _README_TITLE, "tasks.procedural.urban_sounds.generate_dataset") as tmp:
        for k in range(1, n_folds + 1):
            (tmp / "audio" / f"fold{k}").mkdir(parents=True)
        (tmp / "metadata").mkdir()
        jobs = [(c, k) for c in classes for k in range(clips_per_class)]
        rows = [
            _write_clip(tmp / "audio", label, k, n_folds, sample_rate, durations, snrs, seed)
            for label, k in tqdm(jobs, desc="urban_synth", unit="clip", disable=not progress)
        ]
        _write_metadata(tmp / "metadata" / "UrbanSound8K.csv", rows)
        params = dict(
            clips_per_class=clips_per_class,
            n_folds=n_folds,
            sample_rate=sample_rate,
            duration_range=durations,
            snr_db_range=snrs,
            seed=seed,
            classes=list(classes),
        )
        (tmp / "README.md").write_text(_readme_text(params, len(rows)), encoding="utf-8")

    return out_dir / "metadata" / "UrbanSound8K.csv"


def _write_clip(
    audio_dir: Path,
    label: str,
    k: int,
    n_folds: int,
    sample_rate: int,
    durations: tuple[float, float],
    snrs: tuple[float, float],
    seed: int,
) -> list[object]:
    """Render clip ``k`` of ``label`` into its fold folder and return its metadata row.

    The clip's generator draws its duration, then its SNR, then the audio: that order is part of
    the dataset (the README promises the same files for the same seed).
    """
    class_id = CLASSES.index(label)
    rng = np.random.default_rng([seed, class_id, k])
    duration = rng.uniform(*durations)
    snr_db = rng.uniform(*snrs)
    event, bg, start, end = render_components(label, duration, sample_rate, snr_db, rng)
    fold = k % n_folds + 1
    fs_id = (class_id + 1) * 1_000_000 + k
    name = f"{fs_id}-{class_id}-0-0.wav"
    sf.write(audio_dir / f"fold{fold}" / name, event + bg, sample_rate, subtype="PCM_16", format="WAV")
    salience = 1 if snr_db >= 10.0 else 2
    return [name, fs_id, f"{start / sample_rate:.6f}", f"{end / sample_rate:.6f}", salience, fold, class_id, label]


def _write_metadata(path: Path, rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(METADATA_COLUMNS)
        writer.writerows(rows)
