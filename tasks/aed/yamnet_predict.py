"""Top AudioSet classes of any audio file from Google's pretrained YAMNet (Plakal & Ellis, 2020; 521 classes).

The weights are Google's, exported from TensorFlow (``yamnet_weights.npz``, loaded strictly by
:func:`models.yamnet.load_yamnet_npz`); the class names come from the model's own ``yamnet_class_map.csv``
(``index,mid,display_name``), by default the one beside the weights. Each file is decoded, downmixed to mono
and resampled to 16 kHz (soxr HQ, as Google's reference clips were); YAMNet scores every 0.96 s patch (hop
0.48 s, :mod:`models.yamnet_frontend`), the scores are averaged over the file's patches and the ``results``
best classes shown.

A file is streamed (:func:`soundflow.audio.stream_audio`) and scored :data:`PATCHES_PER_PASS` patches at a
time, from the samples those patches cover, so memory stays bounded whatever its length; the scores are
those of the whole file at once (:func:`models.yamnet.yamnet_outputs`). The same minimum sample rate and
duration as the AED's predictor apply (:mod:`tasks.aed.predict`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from models.checkpoint_format import read_class_names
from models.yamnet import YAMNet, pretrained_yamnet, yamnet_outputs
from models.yamnet_frontend import MIN_SAMPLES, PAD_HOP, SAMPLE_RATE, padded_length
from soundflow.audio import BLOCK_FRAMES, Windows, stream_audio
from tasks.aed.predict import FilePrediction, check_duration, check_sample_rate

DEFAULT_WEIGHTS = Path("data/raw/yamnet/yamnet_weights.npz")  # relative to the project root
CLASS_MAP = "yamnet_class_map.csv"
N_CLASSES = 521
PATCHES_PER_PASS = 64  # 0.96 s patches (every 0.48 s) scored at a time: about 31 s of audio


def load_predictor(weights: str | Path, class_map: str | Path | None = None) -> tuple[YAMNet, list[str]]:
    """(YAMNet with Google's weights in eval mode, its 521 class names); the class map defaults to the one
    in the weights' folder."""
    model = pretrained_yamnet(weights)  # first: a missing weights file is the likelier mistake
    return model, read_class_names(
        class_map if class_map is not None else Path(weights).with_name(CLASS_MAP), N_CLASSES
    )


def file_scores(
    model: YAMNet, path: Path, patches_per_pass: int = PATCHES_PER_PASS, block_frames: int = BLOCK_FRAMES
) -> tuple[np.ndarray, int]:
    """(mean score of each class over the file's patches, number of patches), streamed in bounded memory.

    Patch ``k`` covers samples ``k * 7680`` .. ``k * 7680 + 15600``: a run of patches is scored from those
    samples alone, and the last run from the rest of the file zero-padded as YAMNet pads the whole.
    """
    size, hop = PAD_HOP * (patches_per_pass - 1) + MIN_SAMPLES, PAD_HOP * patches_per_pass
    windows = Windows(stream_audio(path, SAMPLE_RATE, block_frames), size, hop)
    total, n = np.zeros(N_CLASSES, np.float64), 0

    def add(wave: np.ndarray) -> None:
        nonlocal total, n
        scores, _, _ = yamnet_outputs(model, wave, batch_size=patches_per_pass)
        total, n = total + scores.astype(np.float64).sum(0), n + len(scores)

    for _, wave in windows:
        add(wave)
    check_duration(path, windows.n_samples, SAMPLE_RATE)
    end = padded_length(windows.n_samples)
    if (end - MIN_SAMPLES) // PAD_HOP + 1 > n:  # patches after the last full run
        add(windows.tail(windows.next_start, end - windows.next_start))
    return total / n, n


def predict_file(model: YAMNet, names: list[str], path: str | Path, results: int = 5) -> FilePrediction:
    """The ``results`` best AudioSet classes of one file (mean score over its patches), best first."""
    path = Path(path)
    rate = check_sample_rate(path)  # AudioError naming the file and the problem
    t0 = time.perf_counter()
    mean, n_patches = file_scores(model, path)
    seconds = (time.perf_counter() - t0) / n_patches
    best = np.argsort(-mean, kind="stable")[:results]
    top = [(names[i], float(mean[i])) for i in best]
    return FilePrediction(path, rate, n_patches, seconds, top)
