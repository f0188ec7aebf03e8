"""Signal-processing helpers of the urban-sound models: noise, filters, harmonic stacks, envelopes.

All vectorised; the only Python loops run over events, notes or harmonics. Every random draw comes
from the ``rng`` passed in, so a model's output depends on nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from scipy import fft as sp_fft
from scipy import signal

# A signal model: (n_samples, sample_rate, rng) -> float array of n_samples.
SignalModel = Callable[[int, int, np.random.Generator], np.ndarray]


def n_samples(duration: float, sr: int) -> int:
    return int(round(duration * sr))


def time_axis(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def rms(x: np.ndarray) -> float:
    # The floor keeps silent inputs from turning into inf/nan gains.
    if x.size == 0:
        return 1e-12
    return float(np.sqrt(np.mean(np.square(x)))) + 1e-12


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / rms(x)


def smooth_mix(n: int, sr: int, rng: np.random.Generator, terms: Sequence[tuple[float, float]]) -> np.ndarray:
    """Sum of ``amp * curve`` over ``(amp, rate_hz)`` terms, each curve a zero-mean, unit-variance-ish
    random function that changes about ``rate_hz`` times per second."""
    top_rate = max(rate for _, rate in terms)
    # Raised-cosine interpolation between knots (no audible corners in pitch curves), evaluated on a
    # grid of >= 16 points per knot and then linearly, with a single full-rate pass for all terms:
    # per-sample cosines would dominate the run time of whole clips.
    step = max(1, int(sr / (top_rate * 16)))
    grid = np.arange(0, n + step, step)
    coarse = np.zeros(grid.size)
    for amp, rate in terms:
        knots = rng.standard_normal(int(np.ceil((n + step) / sr * rate)) + 2)
        pos = grid * (rate / sr)
        idx = pos.astype(np.int64)
        w = 0.5 - 0.5 * np.cos(np.pi * (pos - idx))
        coarse += amp * (knots[idx] * (1.0 - w) + knots[idx + 1] * w)
    return np.interp(np.arange(n), grid, coarse)


def smooth_random(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, roughly unit-variance random curve that changes about ``rate_hz`` times per second."""
    return smooth_mix(n, sr, rng, [(1.0, rate_hz)])


def coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Unit-std noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    if n == 0:
        return np.zeros(0)
    nfft = sp_fft.next_fast_len(n, real=True)
    spec = sp_fft.rfft(rng.standard_normal(nfft))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    spec *= f ** (-exponent / 2.0)
    x = sp_fft.irfft(spec, nfft)[:n]
    return x / (np.std(x) + 1e-12)


@functools.lru_cache(maxsize=4096)
def butter_sos(btype: str, wn: tuple[float, ...], sr: float, order: int) -> np.ndarray:
    return signal.butter(order, wn if len(wn) > 1 else wn[0], btype=btype, fs=sr, output="sos")


def quantise_hz(f: float) -> float:
    # Corner frequencies snap to a 1/48-octave grid (1.5 %, inaudible for these noisy sources) so
    # that filter designs, which cost as much as the filtering itself, can be cached across clips.
    return float(2.0 ** (round(np.log2(f) * 48.0) / 48.0))


def butter(x: np.ndarray, btype: str, cutoff: float | tuple[float, float], sr: int, order: int = 2) -> np.ndarray:
    """Butterworth filter whose corner frequencies are clamped to a valid range for ``sr``."""
    top = 0.45 * sr
    if btype in ("bandpass", "bandstop"):
        lo, hi = cutoff  # type: ignore[misc]
        hi = min(quantise_hz(float(hi)), top)
        lo = max(min(quantise_hz(float(lo)), 0.7 * hi), 5.0)
        wn: tuple[float, ...] = (lo, hi)
    else:
        wn = (float(np.clip(quantise_hz(float(cutoff)), 5.0, top)),)  # type: ignore[arg-type]
    return signal.sosfilt(butter_sos(btype, wn, float(sr), int(order)), x)


def resonators(x: np.ndarray, freqs: Sequence[float], bandwidths: Sequence[float], sr: int) -> np.ndarray:
    """Klatt-style cascade of two-pole resonators (unity DC gain each), i.e. a formant filter."""
    rows = []
    for f, bw in zip(freqs, bandwidths):
        f = min(float(f), 0.47 * sr)
        r = np.exp(-np.pi * bw / sr)
        c = 2.0 * r * np.cos(2.0 * np.pi * f / sr)
        rows.append([1.0 - c + r * r, 0.0, 0.0, 1.0, -c, r * r])
    return signal.sosfilt(np.asarray(rows), x)


def harmonic_stack(f0: np.ndarray, sr: int, amps: Sequence[float | np.ndarray], phase0: float = 0.0) -> np.ndarray:
    """Sum of harmonics k*f0(t) with amplitudes ``amps[k-1]`` (scalars or per-sample arrays).

    Harmonics are produced with the Chebyshev recurrence sin((k+1)p) = 2cos(p)sin(kp) - sin((k-1)p),
    which costs two multiply-adds per sample instead of one ``sin`` per harmonic; each harmonic
    fades out as it approaches Nyquist so swept tones do not alias.
    """
    n = f0.size
    out = np.zeros(n)
    if n == 0:
        return out
    phase = 2.0 * np.pi * np.cumsum(f0) / sr + phase0
    s_prev = np.zeros(n)
    s_cur = np.sin(phase)
    c2 = 2.0 * np.cos(phase)
    top = 0.45 * sr
    taper = 0.05 * top
    f_max = float(f0.max())
    f_min = float(f0.min())
    for k, a in enumerate(amps, start=1):
        if k > 1:
            s_prev, s_cur = s_cur, c2 * s_cur - s_prev
        if k * f_min >= top:
            break
        if k * f_max <= top - taper:
            out += a * s_cur
        else:
            out += a * np.clip((top - k * f0) / taper, 0.0, 1.0) * s_cur
    return out


def ramp_envelope(m: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack / release envelope of length ``m``."""
    env = np.ones(m)
    na = min(m, max(1, int(attack * sr)))
    nr = min(m - na, max(1, int(release * sr))) if m > na else 0
    env[:na] = np.linspace(0.0, 1.0, na, endpoint=False)
    if nr > 0:
        env[m - nr :] = np.linspace(1.0, 0.0, nr)
    return env


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred box smoothing (zero outside ``x``) via cumulative sums, O(n) whatever the width."""
    if width <= 1 or x.size == 0:
        return x
    half = width // 2
    c = np.concatenate(([0.0], np.cumsum(np.pad(x, (half, width - half)))))
    return (c[width : width + x.size] - c[: x.size]) / width


def add_at(buf: np.ndarray, seg: np.ndarray, start: int) -> None:
    """Add ``seg`` into ``buf`` at ``start``, silently cropping what falls outside."""
    if start >= buf.size or start + seg.size <= 0:
        return
    s0 = max(start, 0)
    s1 = min(start + seg.size, buf.size)
    buf[s0:s1] += seg[s0 - start : s1 - start]


def schedule(
    total: int, sr: int, durations: np.ndarray, gaps: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Lay out segments of the given durations with gaps, shrunk to fit into ``total`` samples.

    Returns (start, length) in samples; the whole group is placed at a random offset.
    """
    lens = np.maximum(1, (durations * sr).astype(int))
    gap = (gaps * sr).astype(int)
    need = int(lens.sum() + gap[: max(len(lens) - 1, 0)].sum())
    if need > total:
        scale = total / need
        lens = np.maximum(1, (lens * scale).astype(int))
        gap = (gap * scale).astype(int)
        need = int(lens.sum() + gap[: max(len(lens) - 1, 0)].sum())
    pos = int(rng.integers(0, max(total - need, 0) + 1))
    out = []
    for i, m in enumerate(lens):
        out.append((pos, int(m)))
        pos += int(m) + (int(gap[i]) if i < len(gap) else 0)
    return out


def impulse_response(sr: int, rng: np.random.Generator, rt60: float, early: int = 0) -> np.ndarray:
    """Exponentially decaying noise tail (plus optional discrete early reflections); h[0] = 1."""
    m = max(2, int(rt60 * sr))
    t = time_axis(m, sr)
    tail = rng.standard_normal(m) * np.exp(-6.9 * t / rt60)
    # Air absorption: high frequencies die faster outdoors, so darken the tail.
    tail = butter(tail, "lowpass", rng.uniform(1500.0, 6000.0), sr, order=1)
    h = tail / (np.sqrt(np.sum(tail**2)) + 1e-12)
    for _ in range(early):
        d = int(rng.uniform(0.008, 0.15) * sr)
        if d < m:
            h[d] += rng.uniform(0.15, 0.6) * (1 if rng.random() < 0.7 else -1)
    h[0] = 1.0
    return h


def check_signal_args(duration: float, sr: int) -> None:
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if int(sr) != sr or sr <= 0:
        raise ValueError(f"sr must be a positive integer sample rate, got {sr!r}")
