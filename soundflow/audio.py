"""Reading audio files into mono float32 at a chosen sample rate, with clear errors.

:func:`load_audio` decodes a whole file at once. :func:`stream_audio` gives the same samples block by block
(soxr's streaming resampler returns exactly what its one-shot resampling does), and :class:`Windows` cuts such
a stream into fixed-size windows, so a long recording is processed in memory bounded by a window and a block
rather than by its length.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from soundflow.inputs import InputError, require_nonempty_file

BLOCK_FRAMES = 1 << 18  # frames decoded at a time by stream_audio (6 s at 44.1 kHz)


class AudioError(InputError):
    """An audio file that cannot be used; the message names the file and the problem."""


def _decode_error(path: Path, err: Exception) -> AudioError:
    return AudioError(path, f"cannot decode audio ({type(err).__name__}: {err})")


def _mono(path: Path, data: np.ndarray) -> np.ndarray:
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioError(path, "audio contains NaN or infinite samples")
    return mono


def load_audio(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """Decode ``path``, downmix to mono and resample to ``sample_rate``.

    Raises :class:`AudioError` for a missing, empty, undecodable or non-finite file.
    """
    import soundfile as sf  # imported here: model and training code must import without audio I/O libraries

    path = Path(path)
    require_nonempty_file(path, AudioError)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile reports format problems with several exception types
        raise _decode_error(path, err) from None
    if data.shape[0] == 0:
        raise AudioError(path, "no audio samples")
    return resample(_mono(path, data), sr, sample_rate)


def resample(mono: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """``mono`` (float32) from ``rate`` to ``sample_rate`` Hz as every reader here resamples (soxr, high quality)."""
    import soxr

    if rate == sample_rate:
        return mono
    return soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32, copy=False)


def audio_info(path: str | os.PathLike[str]) -> Any:
    """libsndfile's header of ``path`` (``samplerate``, ``channels``, ``frames``...); AudioError if unusable."""
    import soundfile as sf

    path = Path(path)
    require_nonempty_file(path, AudioError)
    try:
        return sf.info(str(path))
    except Exception as err:
        raise _decode_error(path, err) from None


def stream_audio(
    path: str | os.PathLike[str], sample_rate: int, block_frames: int = BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """:func:`load_audio`'s samples as a sequence of mono float32 blocks, decoding ``block_frames`` at a time.

    The concatenated blocks equal :func:`load_audio`'s array; the same :class:`AudioError` s are raised,
    a non-finite sample when its block is reached.
    """
    import soundfile as sf
    import soxr

    path = Path(path)
    require_nonempty_file(path, AudioError)
    try:
        f = sf.SoundFile(str(path))
    except Exception as err:
        raise _decode_error(path, err) from None
    with f:
        resampler = (
            None
            if f.samplerate == sample_rate
            else soxr.ResampleStream(f.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
        )
        n = 0
        while True:
            try:
                data = f.read(block_frames, dtype="float32", always_2d=True)
            except Exception as err:
                raise _decode_error(path, err) from None
            last = len(data) < block_frames
            n += len(data)
            if last and n == 0:
                raise AudioError(path, "no audio samples")
            mono = _mono(path, data)
            out = mono if resampler is None else resampler.resample_chunk(mono, last=last)
            if len(out):
                yield out
            if last:
                return


class Windows:
    """Windows of ``size`` samples every ``hop`` (``hop`` <= ``size``) over a stream of blocks, while they fit.

    Iterating yields ``(start, window)``; only the samples not yet past (less than a window) and one block are
    held. Afterwards ``n_samples`` is the stream's length and ``rest`` its samples from ``next_start`` on,
    for the caller's own rule about the end (zero-padded last windows).
    """

    def __init__(self, blocks: Iterable[np.ndarray], size: int, hop: int) -> None:
        if not 0 < hop <= size:
            raise ValueError(f"window hop {hop} must be in (0, {size}]")
        self._blocks, self.size, self.hop = blocks, size, hop
        self.next_start, self.n_samples = 0, 0
        self.rest = np.zeros(0, np.float32)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for block in self._blocks:
            self.rest = np.concatenate([self.rest, np.asarray(block, np.float32)])
            self.n_samples += len(block)
            offset = self.next_start  # the sample index of rest[0]
            while self.next_start + self.size <= self.n_samples:
                lo = self.next_start - offset
                yield self.next_start, self.rest[lo : lo + self.size]
                self.next_start += self.hop
            self.rest = self.rest[self.next_start - offset :].copy()  # drop what no later window needs

    def tail(self, start: int, size: int) -> np.ndarray:
        """Samples ``start`` .. ``start + size`` (``start`` >= ``next_start``), zero-padded past the end."""
        out = np.zeros(size, np.float32)
        seg = self.rest[start - self.next_start : start - self.next_start + size]
        out[: len(seg)] = seg
        return out
