"""Third-octave band levels of the spectral transcoder (Tailleur et al., 2023; docs/methods.md#third-octave-levels).

32 kHz audio; frames of 4096 samples every 4000 samples (125 ms); a Tukey
window (alpha 0.2) with energy correction, i.e. scaled so that
``mean(w ** 2) == 1`` and a stationary signal keeps its mean square; an
rFFT of 4096 points (2049 bins, 7.8125 Hz apart); 29 bands with centres
``f_c = 1000 * 10 ** ((i - 17) / 10)``, i = 0..28 (20 Hz - 12.5 kHz; band 17
is 1 kHz), edges ``f_c * 10 ** (+-1 / 20)``, as rectangular 0/1 masks on the
bins with ``lower <= f_k < upper``.

Band mean square (Parseval on the one-sided spectrum):
``ms_b = sum_{k in b} c_k |X_k| ** 2 / N ** 2`` with ``c_k = 2`` except
``c_0 = c_{N/2} = 1``; the band matrix carries ``c_k``. Level
``L_b = 20 log10(rms_b) + db_offset = 10 log10(max(ms_b, 1e-20)) + db_offset``
(default offset 26 dB). A sine of amplitude A inside a band reads
``20 log10(A / sqrt(2)) + db_offset``.

At this resolution the two lowest bands hold few bins: band 0 (17.8-22.4 Hz)
contains none and always reads the floor ``-200 + db_offset`` dB; band 1 holds
one bin. This is a property of rectangular masks on a 4096-point FFT, kept as
specified.

Frame counting: frame ``t`` covers samples ``[t * hop, t * hop + frame)``;
there are ``max(1, n // hop)`` frames, the signal zero-padded at the end to
fill the last one (one second = 32000 samples -> 8 x 29; 10 s -> 80 x 29).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

MS_FLOOR = 1e-20


@dataclass(frozen=True)
class ThirdOctaveParams:
    sample_rate: int = 32000
    frame: int = 4096
    hop: int = 4000
    tukey_alpha: float = 0.2
    n_bands: int = 29
    db_offset: float = 26.0


def band_centres(p: ThirdOctaveParams) -> np.ndarray:
    """(n_bands,) centre frequencies in Hz."""
    return 1000.0 * 10.0 ** ((np.arange(p.n_bands) - 17) / 10.0)


def band_edges(p: ThirdOctaveParams) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) band edges in Hz."""
    fc = band_centres(p)
    return fc * 10.0 ** (-1 / 20), fc * 10.0 ** (1 / 20)


def band_matrix(p: ThirdOctaveParams) -> np.ndarray:
    """(n_bands, frame // 2 + 1) rectangular masks (0/1); see ``band_weights`` for the Parseval factors."""
    freqs = np.arange(p.frame // 2 + 1) * p.sample_rate / p.frame
    lo, hi = band_edges(p)
    return ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float64)


def band_weights(p: ThirdOctaveParams) -> np.ndarray:
    """Band masks times the one-sided Parseval factors ``c_k / N ** 2``: |X|^2 @ weights.T = band mean squares."""
    c = np.full(p.frame // 2 + 1, 2.0)
    c[0] = 1.0
    if p.frame % 2 == 0:
        c[-1] = 1.0
    return band_matrix(p) * c[None, :] / p.frame**2


def tukey_window(p: ThirdOctaveParams) -> np.ndarray:
    """Energy-corrected Tukey window: mean(w ** 2) == 1."""
    w = scipy.signal.windows.tukey(p.frame, alpha=p.tukey_alpha, sym=True)
    return w / np.sqrt(np.mean(w**2))


def n_frames(p: ThirdOctaveParams, n_samples: int) -> int:
    return max(1, n_samples // p.hop)


class ThirdOctave(torch.nn.Module):
    """(batch, samples) or (samples,) at 32 kHz -> (batch, frames, 29) or (frames, 29) levels in dB."""

    def __init__(self, params: ThirdOctaveParams = ThirdOctaveParams()) -> None:
        super().__init__()
        self.params = params
        self.register_buffer("window", torch.from_numpy(tukey_window(params)).float(), persistent=False)
        self.register_buffer("weights", torch.from_numpy(band_weights(params)).float(), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        p = self.params
        squeeze = wave.dim() == 1
        if squeeze:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise ValueError(f"expected (batch, samples), got {tuple(wave.shape)}")
        if not wave.is_floating_point():
            wave = wave.float()
        frames = n_frames(p, wave.shape[-1])
        needed = (frames - 1) * p.hop + p.frame
        wave = F.pad(wave, (0, max(0, needed - wave.shape[-1])))[:, :needed]
        x = wave.unfold(-1, p.frame, p.hop) * self.window.to(wave.dtype)  # (batch, frames, frame)
        spec = torch.view_as_real(torch.fft.rfft(x, n=p.frame))
        power = torch.addcmul(spec[..., 0].square(), spec[..., 1], spec[..., 1])  # cheaper than abs().square()
        ms = power @ self.weights.to(power.dtype).T
        out = 10.0 * torch.log10(ms.clamp_min(MS_FLOOR)) + p.db_offset
        return out.squeeze(0) if squeeze else out
