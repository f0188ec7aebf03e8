"""The PINV transcoder: third-octave levels -> log-mel, no training (Tailleur et al., DCASE 2023;
docs/methods.md#spectral-transcoder).

1. Power from dB with the representation's own offset: ``ms_b = 10 ** ((L_b - offset) / 10)``.
2. The pseudo-inverse of the 29 x 2049 band matrix (the rectangular FFT-bin masks with the Parseval
   factors that made the levels, :func:`tasks.features.third_octave.band_weights`), clipped at 0, maps band
   mean squares back to a 4096-point power spectrum: each band's power spread evenly over its bins.
3. Linear interpolation in time from the 8 frames of a second to the target's frame count.
4. Rescaled to the target STFT's |X|^2 per bin: for a stationary signal of power spectral density S,
   E|X_k|^2 = S * fs * sum(w^2) / 2, so the factor is ``fs_t sum(w_t^2) / (fs_to sum(w_to^2))``; the Mel
   filterbank of the target (its sample rate, mels, fmin/fmax: Slaney norm, or YAMNet's tf.signal matrix) is
   built on the 2049 bins and its sums rescaled by the ratio of bin widths, so a filter sums the same power
   as on the target's own bins. Magnitude targets (YAMNet, ``power = 1``) take the square root per bin
   before the filterbank.
5. The target's log: dB (PANN) or ln(x + eps) (YAMNet).

``method="authors"`` is the PINV of the authors' code (``utils/pinv_transcoder.py``), on which their trained
CNNs sit (tests/tasks/transcoder/test_reference_checkpoints.py matches its output to 1.5e-6 on a real TAU
clip). It differs from the above in steps 2-4, each an empirical choice of theirs:

2. the pseudo-inverse of the 0/1 masks (no Parseval factors; in float32), applied to each band's sum of
   ``|X_k|^2`` (``ms_b N^2 / 2``), clipped at 0;
3. the interpolation places the 8 frames at the centres of 8 equal cells (``align_corners=False``), where
   ours puts the first and last frames on the first and last target frames;
4. one factor ``((1 + n_fft_t / 2) / (1 + N / 2) * 0.5) ** 2`` (the ratio of bin counts, times 0.5 for the
   Hann window, squared) in place of the window-energy and bin-width calibration; the Mel filterbank of
   their front ends (:func:`tasks.transcoder.authors_mel.authors_pinv_filterbank`: torchaudio's HTK one for
   YAMNet, librosa's Slaney one for PANN) applied to the *power* even for YAMNet's magnitude Mel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tasks.features.logmel import AMIN_DB, PRESETS, LogMelParams, mel_filterbank
from tasks.features.third_octave import ThirdOctaveParams, band_matrix, band_weights, tukey_window
from tasks.transcoder.authors_mel import authors_pinv_filterbank

PinvMethod = Literal["calibrated", "authors"]


def pinv_matrix(p: ThirdOctaveParams) -> np.ndarray:
    """(2049, 29) pseudo-inverse of the band matrix, clipped at 0."""
    return np.clip(np.linalg.pinv(band_weights(p)), 0.0, None)


def power_scale(target: LogMelParams, p: ThirdOctaveParams) -> float:
    """Factor from the third-octave frame's |X|^2 to the target STFT's |X|^2 for the same spectral density."""
    w_t = np.hanning(target.win_length + 1)[:-1]  # periodic Hann, as the Mel front ends use
    return float(target.sample_rate * np.sum(w_t**2) / (p.sample_rate * np.sum(tukey_window(p) ** 2)))


def mel_on_third_octave_bins(target: LogMelParams, p: ThirdOctaveParams) -> np.ndarray:
    """(n_mels, 2049) the target's Mel filterbank on the 4096-point bins, scaled to the target's bin width."""
    fb = mel_filterbank(target, sample_rate=p.sample_rate, n_fft=p.frame)  # Slaney (PANN) or tf.signal's (YAMNet)
    bin_ratio = (p.sample_rate / p.frame) / (target.sample_rate / target.n_fft)
    return fb * bin_ratio


def authors_parts(mel: str, target: LogMelParams, p: ThirdOctaveParams) -> tuple[np.ndarray, np.ndarray, float]:
    """(pinv (2049, 29), Mel filterbank (mels, 2049), factor from band mean square to the projected power) of
    the authors' PINV (steps 2 and 4 above)."""
    # float32, as theirs: its round-off entries (up to 1.2e-6) where the exact pseudo-inverse is 0 or negative,
    # times the loudest bands, lift the quietest Mel bins; a float64 one moves the output by up to 5e-4
    masks = torch.from_numpy(band_matrix(p)).float()
    pinv = torch.linalg.pinv(masks, rtol=1e-15).clamp_min(0.0).double().numpy()
    window_loss = ((1 + target.n_fft / 2) / (1 + p.frame / 2) * 0.5) ** 2
    return pinv, authors_pinv_filterbank(mel, p.sample_rate, p.frame), p.frame**2 / 2 * window_loss


class PinvTranscoder(nn.Module):
    """(batch, 8, 29) third-octave dB -> (batch, frames, n_mels) log-mel of the ``mel`` preset."""

    def __init__(
        self, mel: str, frames: int, p: ThirdOctaveParams = ThirdOctaveParams(), method: PinvMethod = "calibrated"
    ) -> None:
        super().__init__()
        if method not in ("calibrated", "authors"):
            raise ValueError(f"unknown PINV method {method!r}; known: calibrated, authors")
        self.target, self.frames, self.p, self.method = PRESETS[mel[len("logmel_") :]], frames, p, method
        if method == "authors":
            pinv_np, fb_np, scale = authors_parts(mel, self.target, p)
        else:
            pinv_np, scale = pinv_matrix(p), power_scale(self.target, p)
            fb_np = mel_on_third_octave_bins(self.target, p)
        pinv = torch.from_numpy(pinv_np * scale).float()  # (2049, 29)
        fb = torch.from_numpy(fb_np).float()  # (mels, 2049)
        self.register_buffer("pinv", pinv, persistent=False)
        self.register_buffer("mel_fb", fb, persistent=False)
        # a power projection: mel(pinv(.)) is one (mels, 29) matrix, applied before the (linear) time interpolation
        combined = (fb_np.astype(np.float64) @ (pinv_np * scale)).T
        self.register_buffer("combined", torch.from_numpy(np.ascontiguousarray(combined)).float(), persistent=False)

    def forward(self, third_octave: torch.Tensor) -> torch.Tensor:
        ms = torch.pow(10.0, (third_octave.float() - self.p.db_offset) / 10.0)  # (batch, 8, 29)
        if self.method == "authors" or self.target.power == 2.0:
            mel = self._interp(ms @ self.combined)
        else:
            spec = self._interp(ms @ self.pinv.T).clamp_min(0).pow(self.target.power / 2.0)
            mel = spec @ self.mel_fb.T
        if self.target.log == "db":
            return 10.0 * torch.log10(mel.clamp_min(AMIN_DB))
        return torch.log(mel + self.target.eps)

    def _interp(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 8, k) -> (batch, frames, k), linear in time."""
        corners = self.method == "calibrated"
        return F.interpolate(x.transpose(1, 2), size=self.frames, mode="linear", align_corners=corners).transpose(1, 2)
