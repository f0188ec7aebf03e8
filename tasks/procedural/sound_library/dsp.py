"""Signal-processing helpers of the sound-library models: filters, smooth noise, gates, impact trains."""

from __future__ import annotations

import numpy as np
from scipy import signal


def time_axis(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / (float(np.sqrt(np.mean(np.square(x)))) + 1e-12) if x.size else x


def filt(x: np.ndarray, btype: str, cutoff: float | tuple[float, float], sr: int, order: int = 2) -> np.ndarray:
    """Butterworth filter with corner frequencies clamped into (10 Hz, 0.45 sr)."""
    top = 0.45 * sr
    if isinstance(cutoff, tuple):
        hi = min(float(cutoff[1]), top)
        lo = float(np.clip(cutoff[0], 10.0, 0.8 * hi))
        wn: float | tuple[float, float] = (lo, hi)
    else:
        wn = float(np.clip(cutoff, 10.0, top))
    return signal.sosfilt(signal.butter(order, wn, btype=btype, fs=sr, output="sos"), x)


def smooth_noise(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean random curve changing about ``rate_hz`` times per second (cosine-interpolated knots)."""
    m = int(np.ceil(n / sr * rate_hz)) + 2
    knots = rng.standard_normal(m)
    pos = time_axis(n, sr) * rate_hz
    i = pos.astype(np.int64)
    w = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return knots[i] * (1.0 - w) + knots[i + 1] * w


def harmonics(f0: np.ndarray, sr: int, amps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sum of ``amps[k-1] * sin(k * phase)`` for a time-varying fundamental; partials above 0.45 sr are muted."""
    phase = 2.0 * np.pi * np.cumsum(f0) / sr + rng.uniform(0, 2 * np.pi)
    out = np.zeros(f0.size)
    for k, a in enumerate(amps, start=1):  # loop over a handful of partials, vectorised over samples
        if k * float(f0.min()) >= 0.45 * sr:
            break
        out += a * np.sin(k * phase) * (k * f0 < 0.45 * sr)
    return out


def on_off_gate(
    n: int, sr: int, rng: np.random.Generator, on: tuple[float, float], off: tuple[float, float], start_on: bool = True
) -> np.ndarray:
    """0/1 on-off gate with uniform random on and off durations (in seconds)."""
    k = int(np.ceil(n / sr / max(on[0] + off[0], 1e-3))) + 2
    on_n = np.maximum(1, (rng.uniform(*on, k) * sr).astype(np.int64))
    off_n = np.maximum(1, (rng.uniform(*off, k) * sr).astype(np.int64))
    pairs = np.stack([on_n, off_n], 1) if start_on else np.stack([off_n, on_n], 1)
    values = np.tile([1.0, 0.0] if start_on else [0.0, 1.0], k)
    g = np.repeat(values, pairs.ravel())[:n]
    return np.pad(g, (0, n - g.size))


def smooth_gate(gate: np.ndarray, sr: int, ramp: float) -> np.ndarray:
    w = max(1, int(ramp * sr))
    return np.convolve(gate, np.ones(w) / w, mode="same")


def impacts(n: int, times: np.ndarray, gains: np.ndarray, kernel: np.ndarray, sr: int) -> np.ndarray:
    """Place ``kernel`` at ``times`` (seconds) with ``gains``: an impulse train convolved with the kernel."""
    train = np.zeros(n)
    idx = (np.asarray(times) * sr).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    np.add.at(train, idx[keep], np.asarray(gains)[keep])
    return signal.fftconvolve(train, kernel)[:n]


def decay_kernel(sr: int, rng: np.random.Generator, length: float, tau: float, band: tuple[float, float]) -> np.ndarray:
    m = max(4, int(length * sr))
    t = time_axis(m, sr)
    return filt(rng.standard_normal(m), "bandpass", band, sr) * np.exp(-t / tau)
