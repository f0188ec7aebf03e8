"""Small audio files written for the tests: a sine tone, and tables of noise clips for feature stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from tasks.features.logmel import PRESETS

# The noise clips are written at the PANN preset's rate, so its log-mel front-end reads them without resampling.
NOISE_SR = PRESETS["pann"].sample_rate


def write_wav(path: Path, seconds: float, sr: int = 16000, freq: float = 440.0) -> Path:
    """A mono sine tone of ``freq`` Hz at amplitude 0.5, float32; returns ``path``."""
    t = np.arange(int(seconds * sr)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


def noise_clips(directory: Path, n: int, *, lengths: list[int] | None = None, seed: int = 0) -> pd.DataFrame:
    """``n`` seeded white-noise clips under ``directory/audio`` at ``NOISE_SR`` (half a second unless
    ``lengths`` gives each clip's sample count), as the path/label/fold table a feature store reads."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = lengths[i] if lengths else NOISE_SR // 2
        path = directory / "audio" / f"c{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.3 * rng.standard_normal(length)).astype(np.float32), NOISE_SR, subtype="FLOAT")
        rows.append({"path": str(path), "label": i % 3, "fold": i % 2 + 1})
    return pd.DataFrame(rows)
