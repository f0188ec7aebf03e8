"""Griffin-Lim inversion of a linear Mel spectrogram (Griffin & Lim, 1984), fast variant with momentum 0.99
(Perraudin et al., 2013), one implementation per device behind :func:`griffin_lim`.

Both backends take the same two steps. The Mel is brought back to an STFT magnitude by non-negative least
squares on the preset's own mel matrix (:func:`tasks.features.logmel.mel_filterbank`, so YAMNet's TensorFlow
matrix for ``frontend="tf"``); then the phase is estimated from a seeded random start (so that a rerun writes
the same audio), with centred, zero-padded frames. For librosa front ends the CPU backend is exactly
``librosa.feature.inverse.mel_to_audio`` with a seed. The frames are centred even for the non-centred tf
front end: a non-centred inverse STFT divides by a window sum that vanishes at the clip's edges (librosa
returns spikes there, torch refuses), and the result is delayed by half a frame to line up with the clip the
Mel came from (the centre of non-centred frame k is at ``k * hop + frame_samples // 2``). On a CUDA device
the iterations run in torch (torchaudio's ``griffinlim`` is the same loop but is not a dependency).
"""

from __future__ import annotations

from typing import Literal

import librosa
import numpy as np
import torch

from tasks.features.logmel import LogMelParams, frame_samples, mel_filterbank

MOMENTUM = 0.99  # librosa's default for the fast Griffin-Lim


def griffin_lim(
    mel: np.ndarray,
    p: LogMelParams,
    n_iter: int,
    device: torch.device,
    *,
    backend: Literal["librosa", "torch"] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The waveform of a (mels, frames) linear Mel of preset ``p``; ``backend`` None: torch on CUDA only."""
    magnitude = librosa.util.nnls(mel_filterbank(p), mel) ** (1.0 / p.power)
    if (backend or ("torch" if device.type == "cuda" else "librosa")) == "torch":
        wave = _torch(magnitude, p, n_iter, device, seed)
    else:
        wave = librosa.griffinlim(
            magnitude, n_iter=n_iter, hop_length=p.hop_length, win_length=p.win_length, n_fft=p.n_fft,
            window="hann", center=True, pad_mode="constant", momentum=MOMENTUM, random_state=seed,
        )  # fmt: skip
    return wave if p.center else np.concatenate([np.zeros(frame_samples(p) // 2, wave.dtype), wave])


def _torch(magnitude: np.ndarray, p: LogMelParams, n_iter: int, device: torch.device, seed: int) -> np.ndarray:
    """``librosa.griffinlim``'s loop in torch (its phase start is drawn by torch, so not sample-equal)."""
    mag = torch.from_numpy(magnitude).to(device)
    window = torch.hann_window(p.win_length, device=device)
    kw = dict(n_fft=p.n_fft, hop_length=p.hop_length, win_length=p.win_length, window=window, center=True)
    gen = torch.Generator(device=device).manual_seed(seed)
    angles = torch.exp(2j * torch.pi * torch.rand(mag.shape, generator=gen, device=device))
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        inverse = torch.istft(mag * angles, **kw)
        rebuilt = torch.stft(inverse, pad_mode="constant", return_complex=True, **kw)[..., : mag.shape[-1]]
        angles = rebuilt - (MOMENTUM / (1.0 + MOMENTUM)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return torch.istft(mag * angles, **kw).cpu().numpy()
