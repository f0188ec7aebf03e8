"""Fixed-size magnitude-spectrogram chunks (the acoustic-event CNN's input, docs/methods.md#spectrogram-chunks).

Audio resampled (44.1 kHz) and mono; chunks of 3 s every 1 s; frames of 20 ms every 5.85 ms; a
magnitude spectrum folded to 256 linear frequency bins; min-max normalised per chunk; cropped or
zero-padded to 256 x 512 (frequency x time, row 0 = lowest frequency).

Chunking rule: full chunks start at 0, hop, 2*hop, ... while they fit; a file shorter than one chunk
gives one zero-padded chunk; after the last full chunk, one more (zero-padded) chunk at the next hop
position is kept when the audio no full chunk covered is at least ``min_last_chunk_seconds`` long.

Frequency bins: the frame (``window_seconds``, Hann or rectangular) is zero-padded to the next power of
two and its magnitude spectrum averaged into ``n_freq_bins`` equal-width bins from 0 Hz to Nyquist. The
original research code truncated a 511-point FFT instead, which silently shortened the window.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tasks.features.params import AedFeatureParams


def chunk_starts(n_samples: int, sr: int, p: AedFeatureParams) -> list[int]:
    """Start samples of the chunks of a file of ``n_samples`` (see module docstring)."""
    size = round(p.chunk_seconds * sr)
    hop = round(p.chunk_hop_seconds * sr)
    if n_samples <= size:
        return [0]
    starts = list(range(0, n_samples - size + 1, hop))
    uncovered = n_samples - (starts[-1] + size)
    if uncovered > 0 and uncovered >= round(p.min_last_chunk_seconds * sr):
        starts.append(starts[-1] + hop)
    return starts


def frame_geometry(sr: int, p: AedFeatureParams) -> tuple[int, int, int]:
    """(window length, frame hop, FFT size) in samples."""
    win = round(p.window_seconds * sr)
    hop = max(1, round(p.frame_hop_seconds * sr))
    n_fft = 1 << max(win - 1, 1).bit_length()
    return win, hop, n_fft


def spectrogram_chunks(audio: np.ndarray, sr: int, p: AedFeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """Chunks of one signal -> (spectrograms (n, n_freq_bins, n_frames) float32 in [0, 1], start times in s)."""
    size = round(p.chunk_seconds * sr)
    starts = chunk_starts(len(audio), sr, p)
    padded = np.zeros(max(starts[-1] + size, len(audio)), dtype=np.float32)
    padded[: len(audio)] = audio
    batch = torch.from_numpy(np.stack([padded[s : s + size] for s in starts]))
    return spectrogram_batch(batch, sr, p).numpy(), np.asarray(starts, dtype=np.float64) / sr


def spectrogram_batch(chunks: torch.Tensor, sr: int, p: AedFeatureParams) -> torch.Tensor:
    """(n, samples) waveforms -> (n, n_freq_bins, n_frames) normalised magnitude spectrograms."""
    win, hop, n_fft = frame_geometry(sr, p)
    if chunks.shape[-1] < win:
        chunks = F.pad(chunks, (0, win - chunks.shape[-1]))
    window = torch.hann_window(win, periodic=True) if p.window == "hann" else torch.ones(win)
    spec = torch.stft(
        chunks,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window=window.to(chunks.device),
        center=False,
        return_complex=True,
    ).abs()  # (n, n_fft//2 + 1, frames)
    n, bins, frames = spec.shape
    spec = F.adaptive_avg_pool1d(spec.transpose(1, 2).reshape(n * frames, 1, bins), p.n_freq_bins)
    spec = spec.reshape(n, frames, p.n_freq_bins).transpose(1, 2)
    if p.scale == "log":
        spec = torch.log(spec + 1e-6)
    lo = spec.amin(dim=(1, 2), keepdim=True)
    hi = spec.amax(dim=(1, 2), keepdim=True)
    spec = (spec - lo) / (hi - lo).clamp_min(1e-12)
    if frames >= p.n_frames:
        return spec[..., : p.n_frames].contiguous()
    return F.pad(spec, (0, p.n_frames - frames))
