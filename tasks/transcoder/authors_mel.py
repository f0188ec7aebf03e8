"""The Mel conventions of the transcoder authors' code (modantailleur/paperSpectralTranscoder), which their
checkpoints were trained with, written out from their definitions.

- YAMNet teacher Mel (their vendored PyTorch port of YAMNet's input processing, ``torchaudio``'s
  ``MelSpectrogram``): a 1 s chunk at 16 kHz, STFT of 512 points with a periodic Hann window of 400 centred
  in it, hop 160, ``center=True`` with *reflect* padding of 256 samples at both ends (101 frames), the
  magnitude ``|X|``, ``torchaudio``'s HTK filterbank (:func:`htk_filterbank`), ``ln(mel + 0.001)``; the
  first 96 frames are the patch.
- Their PINV's Mel filterbank on the 4096-point third-octave bins (32 kHz): the same HTK construction for
  YAMNet, ``librosa.filters.mel`` (Slaney scale and norm, torchlibrosa's ``LogmelFilterBank``) for PANN.

Google's TensorFlow front end, which YAMNet was trained on (:mod:`models.yamnet_frontend`, the
``logmel_yamnet`` preset), differs from the port in two steps: its frames are not centred (frame t covers
samples ``[160 t, 160 t + 400)`` where the port's covers ``[160 t - 200, 160 t + 200)``, reflected at the
start), and its mel matrix puts the triangles' edges on the HTK mel scale *evaluated at each bin's mel
value* with the DC bin zeroed, where ``torchaudio`` interpolates linearly in Hz between the same edge
frequencies.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch

from tasks.features.logmel import PRESETS

YAMNET_LOG_OFFSET = 1e-3
YAMNET_PATCH = 96


def hz_to_mel_htk(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def htk_filterbank(n_freqs: int, sample_rate: int, fmin: float, fmax: float, n_mels: int) -> torch.Tensor:
    """(n_freqs, n_mels) float32 triangles, ``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``.

    Bin frequencies ``linspace(0, sample_rate // 2, n_freqs)``; ``n_mels + 2`` edges equally spaced on the
    HTK mel scale ``2595 log10(1 + f / 700)`` and mapped back to Hz; each filter rises and falls linearly in
    Hz between its neighbouring edges, peak 1, no area normalisation. float32 as torchaudio computes it.
    """
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    mels = torch.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    widths = edges[1:] - edges[:-1]
    slopes = edges[None, :] - freqs[:, None]  # (n_freqs, n_mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def authors_pinv_filterbank(mel: str, sample_rate: int, n_fft: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) the Mel filterbank the authors' PINV applies to the rebuilt power spectrum."""
    target = PRESETS[mel[len("logmel_") :]]
    if mel == "logmel_yamnet":
        fb = htk_filterbank(n_fft // 2 + 1, sample_rate, target.fmin, target.fmax, target.n_mels)
        return fb.T.numpy().astype(np.float64)
    if mel == "logmel_pann":
        return librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=target.n_mels, fmin=target.fmin, fmax=target.fmax
        )
    raise ValueError(f"the authors' PINV has no Mel filterbank for {mel!r}; known: logmel_yamnet, logmel_pann")


class AuthorsYamnetMel(torch.nn.Module):
    """(batch, samples) or (samples,) 1 s chunks at 16 kHz -> (batch, 96, 64) log-mel, the authors' teacher Mel."""

    def __init__(self) -> None:
        super().__init__()
        p = PRESETS["yamnet"]
        self.p = p
        self.register_buffer("window", torch.hann_window(p.win_length, periodic=True), persistent=False)
        fb = htk_filterbank(p.n_fft // 2 + 1, p.sample_rate, p.fmin, p.fmax, p.n_mels)
        self.register_buffer("fb", fb, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        squeeze = wave.dim() == 1
        wave = wave.unsqueeze(0) if squeeze else wave
        if wave.dim() != 2 or wave.shape[-1] <= self.p.n_fft // 2:
            raise ValueError(
                f"expected (batch, samples) with more than {self.p.n_fft // 2} samples, got {tuple(wave.shape)}"
            )
        spec = torch.stft(
            wave.float(),
            n_fft=self.p.n_fft,
            hop_length=self.p.hop_length,
            win_length=self.p.win_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        magnitude = spec.abs().pow(2.0).pow(0.5)  # the port squares (power 2) then takes the root
        out = torch.log(magnitude.transpose(1, 2) @ self.fb + YAMNET_LOG_OFFSET)[:, :YAMNET_PATCH]
        if out.shape[1] < YAMNET_PATCH:
            raise ValueError(f"{wave.shape[-1]} samples give {out.shape[1]} frames < one {YAMNET_PATCH}-frame patch")
        return out[0] if squeeze else out
