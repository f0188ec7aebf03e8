"""Third-octave band levels of the spectral transcoder (Tailleur et al., 2023; docs/methods.md#third-octave-levels).

32 kHz audio; frames of 4096 samples every 4000 samples (125 ms); a Tukey
window (alpha 0.2) with energy correction, i.e. scaled so that
``mean(w ** 2) == 1`` and a stationary signal keeps its mean square; an
rFFT of 4096 points (2049 bins, 7.8125 Hz apart); 29 bands with centres
``f_c = 1000 * 10 ** ((i - 17) / 10)``, i = 0..28 (20 Hz - 12.5 kHz; band 17
is 1 kHz), edges ``f_c * 10 ** (+-1 / 20)``, as rectangular 0/1 masks on the
bins.

Band mean square (Parseval on the one-sided spectrum):
``ms_b = sum_{k in b} c_k |X_k| ** 2 / N ** 2`` with ``c_k = 2`` except
``c_0 = c_{N/2} = 1``; the band matrix carries ``c_k``. Level
``L_b = 20 log10(rms_b) + db_offset = 10 log10(max(ms_b, 1e-18)) + db_offset``
(default offset 26 dB; the floor is an rms of 1e-9, -154 dB). A sine of
amplitude A inside a band reads ``20 log10(A / sqrt(2)) + db_offset``.

The defaults are the Cense sensor's levels (Gontier et al.; ``acoustic_indicators.c`` of
nicolas-f/noisesensor) that the transcoder's authors computed, so that their trained checkpoints see the
inputs they were trained on (tests/tasks/transcoder/test_reference_checkpoints.py matches their arrays to
2e-6 dB on a real TAU clip). Three choices are parameters; the other value of each is the plain reading
of the band definition:

- ``bands="cense"``: band b holds bins ``ceil(lower / df) .. ceil(upper / df)``, *both included*; the
  bin at a shared edge then counts in both neighbouring bands, and band 0 (17.8-22.4 Hz) holds one bin
  (23.4 Hz). ``"half_open"``: ``lower <= f_k < upper``; bands do not overlap and band 0 holds none.
- ``tukey="periodic"``: ``w[i] = (1 + cos(2 pi / alpha (i / N - alpha / 2))) / 2`` over the first
  ``int(alpha N / 2)`` samples, mirrored at the end (``i / N``: the DFT-even window). ``"symmetric"``:
  scipy's symmetric Tukey (``i / (N - 1)``). They differ by under 4e-3, in the tapers only.
- ``chunk=32000``: each second is framed on its own, its last frame zero-padded past the second's end (the
  authors cut their 10 s clips into 1 s chunks first). ``None``: frames run across the whole clip.

Frame counting: frame ``t`` covers samples ``[t * hop, t * hop + frame)``;
there are ``max(1, n // hop)`` frames, the signal zero-padded at the end to
fill the last one (one second = 32000 samples -> 8 x 29; 10 s -> 80 x 29);
with ``chunk`` the same frames, each cut at its chunk's end. The authors' rule
(pad to a whole number of hops after the first frame) gives the same count
whenever ``n % 4000 <= 96``, every whole second included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

MS_FLOOR = 1e-18  # an rms of 1e-9, the value the Cense code gives a band without energy


@dataclass(frozen=True)
class ThirdOctaveParams:
    sample_rate: int = 32000
    frame: int = 4096
    hop: int = 4000
    tukey_alpha: float = 0.2
    n_bands: int = 29
    db_offset: float = 26.0
    bands: Literal["cense", "half_open"] = "cense"
    tukey: Literal["periodic", "symmetric"] = "periodic"
    chunk: int | None = 32000  # samples framed on their own (zero-padded at their end); None: the whole clip

    def __post_init__(self) -> None:
        if self.chunk is not None and (self.chunk <= 0 or self.chunk % self.hop):
            raise ValueError(f"third-octave chunk must be a positive multiple of hop={self.hop}, got {self.chunk}")


def band_centres(p: ThirdOctaveParams) -> np.ndarray:
    """(n_bands,) centre frequencies in Hz."""
    return 1000.0 * 10.0 ** ((np.arange(p.n_bands) - 17) / 10.0)


def band_edges(p: ThirdOctaveParams) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) band edges in Hz."""
    fc = band_centres(p)
    return fc * 10.0 ** (-1 / 20), fc * 10.0 ** (1 / 20)


def band_matrix(p: ThirdOctaveParams) -> np.ndarray:
    """(n_bands, frame // 2 + 1) rectangular masks (0/1); see ``band_weights`` for the Parseval factors."""
    n_bins = p.frame // 2 + 1
    lo, hi = band_edges(p)
    if p.bands == "half_open":
        freqs = np.arange(n_bins) * p.sample_rate / p.frame
        return ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float64)
    out = np.zeros((p.n_bands, n_bins))
    df = p.sample_rate / p.frame
    for b, (lower, upper) in enumerate(zip(lo, hi)):
        out[b, math.ceil(lower / df) : min(math.ceil(upper / df), n_bins - 1) + 1] = 1.0
    return out


def band_weights(p: ThirdOctaveParams) -> np.ndarray:
    """Band masks times the one-sided Parseval factors ``c_k / N ** 2``: |X|^2 @ weights.T = band mean squares."""
    c = np.full(p.frame // 2 + 1, 2.0)
    c[0] = 1.0
    if p.frame % 2 == 0:
        c[-1] = 1.0
    return band_matrix(p) * c[None, :] / p.frame**2


def tukey_window(p: ThirdOctaveParams) -> np.ndarray:
    """Energy-corrected Tukey window: mean(w ** 2) == 1."""
    if p.tukey == "symmetric":
        w = scipy.signal.windows.tukey(p.frame, alpha=p.tukey_alpha, sym=True)
    else:
        a, n = p.tukey_alpha, p.frame
        i, w = np.arange(n), np.ones(n)
        rise = int(a / 2 * n)
        w[:rise] = 0.5 * (1 + np.cos(2 * np.pi / a * (i[:rise] / n - a / 2)))
        w[n - rise :] = 0.5 * (1 + np.cos(2 * np.pi / a * (i[n - rise :] / n - 1 + a / 2)))
    return w / np.sqrt(np.mean(w**2))


def n_frames(p: ThirdOctaveParams, n_samples: int) -> int:
    return max(1, n_samples // p.hop)


def frame_signal(wave: torch.Tensor, p: ThirdOctaveParams) -> torch.Tensor:
    """(batch, samples) -> (batch, frames, frame): the analysis frames, zero-padded past the signal's (or, with
    ``p.chunk``, each chunk's) end."""
    frames = n_frames(p, wave.shape[-1])
    if p.chunk is None:
        needed = (frames - 1) * p.hop + p.frame
        wave = F.pad(wave, (0, max(0, needed - wave.shape[-1])))[:, :needed]
        return wave.unfold(-1, p.frame, p.hop)
    n_chunks = -(-wave.shape[-1] // p.chunk)
    chunks = F.pad(wave, (0, n_chunks * p.chunk - wave.shape[-1])).reshape(len(wave), n_chunks, p.chunk)
    framed = F.pad(chunks, (0, p.frame - p.hop)).unfold(-1, p.frame, p.hop)  # (batch, chunks, chunk // hop, frame)
    return framed.reshape(len(wave), -1, p.frame)[:, :frames]


class ThirdOctave(torch.nn.Module):
    """(batch, samples) or (samples,) at 32 kHz -> (batch, frames, 29) or (frames, 29) levels in dB."""

    def __init__(self, params: ThirdOctaveParams = ThirdOctaveParams()) -> None:
        super().__init__()
        self.params = params
        # float64, cast to the input's dtype per call: a float64 input is then computed in float64 throughout
        self.register_buffer("window", torch.from_numpy(tukey_window(params)), persistent=False)
        self.register_buffer("weights", torch.from_numpy(band_weights(params)), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        p = self.params
        squeeze = wave.dim() == 1
        if squeeze:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise ValueError(f"expected (batch, samples), got {tuple(wave.shape)}")
        if not wave.is_floating_point():
            wave = wave.float()
        x = frame_signal(wave, p) * self.window.to(wave.dtype)  # (batch, frames, frame)
        spec = torch.view_as_real(torch.fft.rfft(x, n=p.frame))
        power = torch.addcmul(spec[..., 0].square(), spec[..., 1], spec[..., 1])  # cheaper than abs().square()
        ms = power @ self.weights.to(power.dtype).T
        out = 10.0 * torch.log10(ms.clamp_min(MS_FLOOR)) + p.db_offset
        return out.squeeze(0) if squeeze else out
