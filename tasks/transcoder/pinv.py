"""The PINV transcoder: third-octave levels -> log-mel, no training (Tailleur et al., DCASE 2023;
docs/methods.md#spectral-transcoder).

1. Power from dB with the representation's own offset: ``ms_b = 10 ** ((L_b - offset) / 10)``.
2. The pseudo-inverse of the 29 x 2049 band matrix (the rectangular FFT-bin masks with the Parseval
   factors that made the levels, :func:`tasks.features.third_octave.band_weights`), clipped at 0, maps band
   mean squares back to a 4096-point power spectrum: each band's power spread evenly over its bins.
3. Linear interpolation in time from the 8 frames of a second to the target's frame count.
4. Rescaled to the target STFT's |X|^2 per bin: for a stationary signal of power spectral density S,
   E|X_k|^2 = S * fs * sum(w^2) / 2, so the factor is ``fs_t sum(w_t^2) / (fs_to sum(w_to^2))``; the Mel
   filterbank of the target (its sample rate, mels, fmin/fmax, Slaney norm) is built on the 2049 bins and
   its sums rescaled by the ratio of bin widths, so a filter sums the same power as on the target's own
   bins. Magnitude targets (YAMNet, ``power = 1``) take the square root per bin before the filterbank.
5. The target's log: dB (PANN) or ln(x + eps) (YAMNet).
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tasks.features.logmel import AMIN_DB, PRESETS, LogMelParams
from tasks.features.third_octave import ThirdOctaveParams, band_weights, tukey_window


def pinv_matrix(p: ThirdOctaveParams) -> np.ndarray:
    """(2049, 29) pseudo-inverse of the band matrix, clipped at 0."""
    return np.clip(np.linalg.pinv(band_weights(p)), 0.0, None)


def power_scale(target: LogMelParams, p: ThirdOctaveParams) -> float:
    """Factor from the third-octave frame's |X|^2 to the target STFT's |X|^2 for the same spectral density."""
    w_t = np.hanning(target.win_length + 1)[:-1]  # periodic Hann, as the Mel front ends use
    return float(target.sample_rate * np.sum(w_t**2) / (p.sample_rate * np.sum(tukey_window(p) ** 2)))


def mel_on_third_octave_bins(target: LogMelParams, p: ThirdOctaveParams) -> np.ndarray:
    """(n_mels, 2049) the target's Mel filterbank on the 4096-point bins, scaled to the target's bin width."""
    fb = librosa.filters.mel(
        sr=p.sample_rate,
        n_fft=p.frame,
        n_mels=target.n_mels,
        fmin=target.fmin,
        fmax=target.fmax,
        htk=False,
        norm="slaney",
    )
    bin_ratio = (p.sample_rate / p.frame) / (target.sample_rate / target.n_fft)
    return fb * bin_ratio


class PinvTranscoder(nn.Module):
    """(batch, 8, 29) third-octave dB -> (batch, frames, n_mels) log-mel of the ``mel`` preset."""

    def __init__(self, mel: str, frames: int, p: ThirdOctaveParams = ThirdOctaveParams()) -> None:
        super().__init__()
        self.target, self.frames, self.p = PRESETS[mel[len("logmel_") :]], frames, p
        pinv = torch.from_numpy(pinv_matrix(p)).float()  # (2049, 29)
        fb = torch.from_numpy(mel_on_third_octave_bins(self.target, p)).float()  # (mels, 2049)
        scale = power_scale(self.target, p)
        self.register_buffer("pinv", pinv * scale, persistent=False)
        self.register_buffer("mel_fb", fb, persistent=False)
        # power targets: mel(pinv(.)) is one (mels, 29) matrix, applied before the (linear) time interpolation
        self.register_buffer("combined", (fb @ pinv * scale).T.contiguous(), persistent=False)

    def forward(self, third_octave: torch.Tensor) -> torch.Tensor:
        ms = torch.pow(10.0, (third_octave.float() - self.p.db_offset) / 10.0)  # (batch, 8, 29)
        if self.target.power == 2.0:
            mel = self._interp(ms @ self.combined)
        else:
            spec = self._interp(ms @ self.pinv.T).clamp_min(0).pow(self.target.power / 2.0)
            mel = spec @ self.mel_fb.T
        if self.target.log == "db":
            return 10.0 * torch.log10(mel.clamp_min(AMIN_DB))
        return torch.log(mel + self.target.eps)

    def _interp(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 8, k) -> (batch, frames, k), linear in time."""
        return F.interpolate(x.transpose(1, 2), size=self.frames, mode="linear", align_corners=True).transpose(1, 2)
