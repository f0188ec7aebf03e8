"""Pseudo-labels for unlabelled pairs: a classifier's class probabilities mapped to the K categories.

The mapping table (``configs/localisation_categories.yaml``) names, for each class of the classifier
(any classifier the pipeline trains: the AED CNN's UrbanSound8K classes by default), the category it
counts for, or none. A category's score is the highest probability among its classes; it is a label
where that score exceeds ``threshold`` (Qian et al. label their unlabelled videos this way, from
ImageNet and AudioSet classifiers mapped to 7 categories).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from soundflow.audio import load_audio
from soundflow.devices import pick_device
from tasks.features.chunk_classifier import chunk_probabilities, load_checkpoint
from tasks.features.params import AedFeatureParams
from tasks.features.stft_chunks import spectrogram_chunks


def read_mapping(path: Path, classes: list[str], categories: list[str]) -> dict[str, str | None]:
    """The table, checked: every classifier class listed, every target a known category (or null)."""
    table = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(table, dict):
        raise ValueError(f"{path}: expected a mapping class -> category")
    missing = sorted(set(classes) - set(table))
    unknown = sorted({v for v in table.values() if v is not None} - set(categories))
    if missing or unknown:
        raise ValueError(f"{path}: classes not mapped {missing}; unknown categories {unknown} (known: {categories})")
    return {c: table[c] for c in classes}


def pseudo_labels(
    probs: np.ndarray, classes: list[str], categories: list[str], mapping: dict[str, str | None], threshold: float
) -> np.ndarray:
    """(N, K) uint8 labels from (N, C) class probabilities."""
    scores = np.zeros((len(probs), len(categories)))
    for c, cls in enumerate(classes):
        if mapping.get(cls) is not None:
            k = categories.index(mapping[cls])
            scores[:, k] = np.maximum(scores[:, k], probs[:, c])
    return (scores > threshold).astype(np.uint8)


def classify_clips(checkpoint: Path, paths: list[Path], device: str = "auto") -> tuple[np.ndarray, list[str]]:
    """(N, C) class probabilities of each clip by a trained AED checkpoint (its own features: the clip's
    spectrogram chunks, probabilities averaged over them, as ``soundflow predict`` does) and its classes."""
    model, ckpt = load_checkpoint(checkpoint, pick_device(device))
    fp = AedFeatureParams.model_validate({"workers": 0, **ckpt["feature_params"]})
    probs = []
    for path in tqdm(paths, desc="pseudo-labels", leave=False):
        specs, _ = spectrogram_chunks(load_audio(path, fp.sample_rate), fp.sample_rate, fp)
        probs.append(chunk_probabilities(model, specs).mean(0))
    return np.stack(probs) if probs else np.zeros((0, len(ckpt["classes"]))), list(ckpt["classes"])
