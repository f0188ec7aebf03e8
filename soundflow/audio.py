"""Reading audio files into mono float32 at a chosen sample rate, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from soundflow.inputs import InputError, require_nonempty_file


class AudioError(InputError):
    """An audio file that cannot be used; the message names the file and the problem."""


def load_audio(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """Decode ``path``, downmix to mono and resample to ``sample_rate``.

    Raises :class:`AudioError` for a missing, empty, undecodable or non-finite file.
    """
    import soundfile as sf  # imported here: model and training code must import without audio I/O libraries
    import soxr

    path = Path(path)
    require_nonempty_file(path, AudioError)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile reports format problems with several exception types
        raise AudioError(path, f"cannot decode audio ({type(err).__name__}: {err})") from None
    if data.shape[0] == 0:
        raise AudioError(path, "no audio samples")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioError(path, "audio contains NaN or infinite samples")
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return mono
