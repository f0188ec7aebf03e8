"""Top-k class predictions for arbitrary audio files from a trained AED checkpoint.

A file is streamed (:func:`soundflow.audio.stream_audio`): decoded, resampled and cut into chunks a block at
a time, its chunks' probabilities summed batch by batch, so memory stays bounded whatever its length (a
30-minute recording peaks as a 3-second one does, README "Predict"). The chunks and their probabilities are
those of the whole file at once (``spectrogram_chunks`` of ``load_audio``), to float rounding.

A file below :data:`MIN_SAMPLE_RATE` or shorter than :data:`MIN_SECONDS` is refused with an
:class:`~soundflow.audio.AudioError` naming it: a 1 Hz or 3-sample "recording" has nothing to classify.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from soundflow.audio import BLOCK_FRAMES, AudioError, Windows, audio_info, stream_audio
from soundflow.devices import pick_device
from soundflow.errors import UserError
from tasks.features.chunk_classifier import chunk_probabilities, load_checkpoint
from tasks.features.params import AedFeatureParams
from tasks.features.stft_chunks import chunk_starts, spectrogram_batch

MIN_SAMPLE_RATE = 8000  # Hz: below it a file holds no band the models listen to above 4 kHz
MIN_SECONDS = 0.1  # shorter, a file is a click at most: zero-padding it to a chunk "classifies" silence
BATCH_ELEMENTS = 1 << 21  # spectrogram values per forward pass: bounds the STFT's and the model's memory
MAX_BATCH_CHUNKS = 64


class PredictOptionError(UserError, ValueError):
    """An option of ``soundflow predict`` out of its range; the message names the option."""


@dataclass(frozen=True)
class FilePrediction:
    path: Path
    sample_rate: int  # of the file as recorded
    n_chunks: int
    seconds_per_chunk: float  # decoding, feature extraction and forward pass, averaged over the file's chunks
    top: list[tuple[str, float]]  # (class, pooled probability), best first

    def render(self) -> str:
        lines = [
            f"{self.path}",
            f"  sample rate: {self.sample_rate} Hz, {self.n_chunks} chunk(s), "
            f"{1000 * self.seconds_per_chunk:.1f} ms/chunk compute",
        ]
        width = max([24] + [len(name) for name, _ in self.top])  # AudioSet's names run longer than 24
        lines += [f"  {name:<{width}s} {100 * p:6.2f}%" for name, p in self.top] or [
            "  (no class above the confidence threshold)"
        ]
        return "\n".join(lines)


def check_sample_rate(path: Path) -> int:
    """The file's own sample rate, refused below :data:`MIN_SAMPLE_RATE` (AudioError for any unusable file)."""
    rate = int(audio_info(path).samplerate)
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(path, f"sample rate {rate} Hz is below the minimum of {MIN_SAMPLE_RATE} Hz")
    return rate


def check_duration(path: Path, n_samples: int, sample_rate: int) -> None:
    if n_samples < MIN_SECONDS * sample_rate:
        raise AudioError(
            path, f"{n_samples / sample_rate:.4f} s of audio is shorter than the minimum of {MIN_SECONDS} s"
        )


def check_options(results: int, confidence: float) -> None:
    if results < 1:
        raise PredictOptionError(f"--results must be at least 1, got {results}")
    if not 0 <= confidence <= 1:
        raise PredictOptionError(f"--confidence must be in [0, 1], got {confidence}")


def file_probabilities(
    model: torch.nn.Module,
    path: Path,
    p: AedFeatureParams,
    batch_chunks: int | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> tuple[np.ndarray, int]:
    """(mean class probabilities over the file's chunks, number of chunks), streamed in bounded memory:
    ``block_frames`` decoded at a time, ``batch_chunks`` chunks per forward pass (default: as many as keep
    :data:`BATCH_ELEMENTS` spectrogram values, 16 of the default 256 x 512 chunks)."""
    return blocks_probabilities(model, stream_audio(path, p.sample_rate, block_frames), p, path, batch_chunks)


def waveform_probabilities(
    model: torch.nn.Module, audio: np.ndarray, sample_rate: int, p: AedFeatureParams, name: str = "waveform"
) -> tuple[np.ndarray, int]:
    """:func:`file_probabilities` of a mono waveform in memory (resampled as :func:`soundflow.audio.load_audio`
    resamples a file); AudioError naming ``name`` for a rate below :data:`MIN_SAMPLE_RATE` or non-finite audio."""
    import soxr

    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate < MIN_SAMPLE_RATE:
        raise AudioError(name, f"sample rate {sample_rate} Hz is below the minimum of {MIN_SAMPLE_RATE} Hz")
    if not np.isfinite(audio).all():
        raise AudioError(name, "audio contains NaN or infinite samples")
    if sample_rate != p.sample_rate:
        audio = soxr.resample(audio, sample_rate, p.sample_rate, quality="HQ").astype(np.float32, copy=False)
    return blocks_probabilities(model, [audio], p, Path(name))


def blocks_probabilities(
    model: torch.nn.Module,
    blocks: Iterable[np.ndarray],
    p: AedFeatureParams,
    path: Path,
    batch_chunks: int | None = None,
) -> tuple[np.ndarray, int]:
    """Mean class probabilities over the chunks of a signal given as blocks at ``p.sample_rate``, and their
    number; ``path`` names the signal in errors."""
    sr = p.sample_rate
    batch_chunks = batch_chunks or max(1, min(MAX_BATCH_CHUNKS, BATCH_ELEMENTS // (p.n_freq_bins * p.n_frames)))
    size, hop = round(p.chunk_seconds * sr), round(p.chunk_hop_seconds * sr)
    windows = Windows(blocks, size, hop)
    total, n, pending = None, 0, []

    def flush() -> None:
        nonlocal total, n
        specs = spectrogram_batch(torch.from_numpy(np.stack(pending)), sr, p).numpy()
        probs = chunk_probabilities(model, specs).astype(np.float64).sum(0)
        total, n = (probs if total is None else total + probs), n + len(pending)
        pending.clear()

    for _, chunk in windows:
        pending.append(chunk)
        if len(pending) == batch_chunks:
            flush()
    check_duration(path, windows.n_samples, sr)
    # the end of the file: the chunking rule's zero-padded chunks after the last full one
    pending += [windows.tail(s, size) for s in chunk_starts(windows.n_samples, sr, p) if s >= windows.next_start]
    if pending:
        flush()
    return total / n, n


class Predictor:
    """A trained AED checkpoint ready to classify files one at a time."""

    def __init__(self, checkpoint: Path, overlap: float = 2.0, device: str = "auto") -> None:
        self.model, self.ckpt = load_checkpoint(checkpoint, pick_device(device))
        fp = {"workers": 0, **self.ckpt["feature_params"]}  # reading threads: not a feature parameter
        if not 0 <= overlap < fp["chunk_seconds"]:
            raise PredictOptionError(f"--overlap must be in [0, {fp['chunk_seconds']}) seconds, got {overlap}")
        fp["chunk_hop_seconds"] = fp["chunk_seconds"] - overlap
        self.params = AedFeatureParams.model_validate(fp)

    @property
    def classes(self) -> list[str]:
        return list(self.ckpt["classes"])

    def file_scores(self, path: Path) -> np.ndarray:
        """Every class's probability pooled over the file's chunks (what :meth:`predict` ranks)."""
        check_sample_rate(Path(path))
        return file_probabilities(self.model, Path(path), self.params)[0]

    def waveform_scores(self, audio: np.ndarray, sample_rate: int, name: str = "waveform") -> np.ndarray:
        """:meth:`file_scores` of a mono waveform in memory."""
        return waveform_probabilities(self.model, audio, sample_rate, self.params, name)[0]

    def predict(self, path: Path, results: int = 5, confidence: float = 0.01) -> FilePrediction:
        """The ``results`` best classes whose pooled probability is at least ``confidence``; AudioError if unusable."""
        path = Path(path)
        rate = check_sample_rate(path)
        t0 = time.perf_counter()
        pooled, n_chunks = file_probabilities(self.model, path, self.params)
        if next(self.model.parameters()).device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        order = np.argsort(-pooled, kind="stable")[:results]
        top = [(self.ckpt["classes"][i], float(pooled[i])) for i in order if pooled[i] >= confidence]
        return FilePrediction(path, rate, n_chunks, elapsed / n_chunks, top)


def predict_files(
    checkpoint: Path,
    files: list[Path],
    results: int = 5,
    confidence: float = 0.01,
    overlap: float = 2.0,
    device: str = "auto",
) -> list[FilePrediction]:
    """Classify each file: chunk it (hop = chunk length - ``overlap``), average chunk probabilities,
    keep the ``results`` best classes whose pooled probability is at least ``confidence``."""
    check_options(results, confidence)
    predictor = Predictor(checkpoint, overlap, device)
    return [predictor.predict(Path(f), results, confidence) for f in files]
