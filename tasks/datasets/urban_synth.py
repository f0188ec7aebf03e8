"""Procedural urban-sound dataset generator in UrbanSound8K's layout.

Every clip is synthesised from a seeded signal model of one of UrbanSound8K's
ten classes, mixed over a street-ambience background at a random SNR and
passed through a random "recording chain" (distance, reverb, microphone
band-limits). The models have wide parameter ranges that overlap between
acoustically related classes, so a classifier can learn them but not
trivially: at 0 dB an air conditioner under traffic rumble really is hard to
tell from an idling engine.

The output is the offline default dataset of the pipeline; its backgrounds
(``BACKGROUNDS``) are reused later as Scaper backgrounds.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf
from scipy import fft as sp_fft
from scipy import signal
from tqdm import tqdm

from soundflow.io import CC0_README_SECTION, generated_folder

__all__ = [
    "BACKGROUNDS",
    "CLASSES",
    "generate_dataset",
    "render_clip",
    "synthesize_background",
    "synthesize_event",
]

CLASSES: tuple[str, ...] = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)  # classID = index, as in UrbanSound8K

BACKGROUNDS: tuple[str, ...] = ("street_traffic", "park", "crowd", "rain")

EVENT_PEAK = 0.9  # peak of a dry event from synthesize_event
BACKGROUND_RMS = 0.1  # RMS of a background from synthesize_background
MAX_PEAK = 0.99  # ceiling of a rendered clip, so 16-bit files never clip
_BACKGROUND_CREST = 6.0  # soft-limit backgrounds to this peak/RMS ratio
# Bump when a signal model changes, so datasets generated with the same seed are known to differ.
GENERATOR_VERSION = "1"

_SignalModel = Callable[[int, int, np.random.Generator], np.ndarray]


# --------------------------------------------------------------------------- #
# DSP helpers (all vectorised; the only Python loops run over events/notes)   #
# --------------------------------------------------------------------------- #


def _n_samples(duration: float, sr: int) -> int:
    return int(round(duration * sr))


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _rms(x: np.ndarray) -> float:
    # The floor keeps silent inputs from turning into inf/nan gains.
    if x.size == 0:
        return 1e-12
    return float(np.sqrt(np.mean(np.square(x)))) + 1e-12


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return x / _rms(x)


def _smooth_mix(n: int, sr: int, rng: np.random.Generator, terms: Sequence[tuple[float, float]]) -> np.ndarray:
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


def _smooth_random(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, roughly unit-variance random curve that changes about ``rate_hz`` times per second."""
    return _smooth_mix(n, sr, rng, [(1.0, rate_hz)])


def _coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
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
def _butter_sos(btype: str, wn: tuple[float, ...], sr: float, order: int) -> np.ndarray:
    return signal.butter(order, wn if len(wn) > 1 else wn[0], btype=btype, fs=sr, output="sos")


def _quantise_hz(f: float) -> float:
    # Corner frequencies snap to a 1/48-octave grid (1.5 %, inaudible for these noisy sources) so
    # that filter designs, which cost as much as the filtering itself, can be cached across clips.
    return float(2.0 ** (round(np.log2(f) * 48.0) / 48.0))


def _butter(x: np.ndarray, btype: str, cutoff: float | tuple[float, float], sr: int, order: int = 2) -> np.ndarray:
    """Butterworth filter whose corner frequencies are clamped to a valid range for ``sr``."""
    top = 0.45 * sr
    if btype in ("bandpass", "bandstop"):
        lo, hi = cutoff  # type: ignore[misc]
        hi = min(_quantise_hz(float(hi)), top)
        lo = max(min(_quantise_hz(float(lo)), 0.7 * hi), 5.0)
        wn: tuple[float, ...] = (lo, hi)
    else:
        wn = (float(np.clip(_quantise_hz(float(cutoff)), 5.0, top)),)  # type: ignore[arg-type]
    return signal.sosfilt(_butter_sos(btype, wn, float(sr), int(order)), x)


def _resonators(x: np.ndarray, freqs: Sequence[float], bandwidths: Sequence[float], sr: int) -> np.ndarray:
    """Klatt-style cascade of two-pole resonators (unity DC gain each), i.e. a formant filter."""
    rows = []
    for f, bw in zip(freqs, bandwidths):
        f = min(float(f), 0.47 * sr)
        r = np.exp(-np.pi * bw / sr)
        c = 2.0 * r * np.cos(2.0 * np.pi * f / sr)
        rows.append([1.0 - c + r * r, 0.0, 0.0, 1.0, -c, r * r])
    return signal.sosfilt(np.asarray(rows), x)


def _harmonic_stack(
    f0: np.ndarray, sr: int, amps: Sequence[float | np.ndarray], phase0: float = 0.0
) -> np.ndarray:
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


def _ramp_envelope(m: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack / release envelope of length ``m``."""
    env = np.ones(m)
    na = min(m, max(1, int(attack * sr)))
    nr = min(m - na, max(1, int(release * sr))) if m > na else 0
    env[:na] = np.linspace(0.0, 1.0, na, endpoint=False)
    if nr > 0:
        env[m - nr :] = np.linspace(1.0, 0.0, nr)
    return env


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred box smoothing (zero outside ``x``) via cumulative sums, O(n) whatever the width."""
    if width <= 1 or x.size == 0:
        return x
    half = width // 2
    c = np.concatenate(([0.0], np.cumsum(np.pad(x, (half, width - half)))))
    return (c[width : width + x.size] - c[: x.size]) / width


def _add_at(buf: np.ndarray, seg: np.ndarray, start: int) -> None:
    """Add ``seg`` into ``buf`` at ``start``, silently cropping what falls outside."""
    if start >= buf.size or start + seg.size <= 0:
        return
    s0 = max(start, 0)
    s1 = min(start + seg.size, buf.size)
    buf[s0:s1] += seg[s0 - start : s1 - start]


def _schedule(
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


def _impulse_response(sr: int, rng: np.random.Generator, rt60: float, early: int = 0) -> np.ndarray:
    """Exponentially decaying noise tail (plus optional discrete early reflections); h[0] = 1."""
    m = max(2, int(rt60 * sr))
    t = _time(m, sr)
    tail = rng.standard_normal(m) * np.exp(-6.9 * t / rt60)
    # Air absorption: high frequencies die faster outdoors, so darken the tail.
    tail = _butter(tail, "lowpass", rng.uniform(1500.0, 6000.0), sr, order=1)
    h = tail / (np.sqrt(np.sum(tail**2)) + 1e-12)
    for _ in range(early):
        d = int(rng.uniform(0.008, 0.15) * sr)
        if d < m:
            h[d] += rng.uniform(0.15, 0.6) * (1 if rng.random() < 0.7 else -1)
    h[0] = 1.0
    return h


# --------------------------------------------------------------------------- #
# Shared source models                                                        #
# --------------------------------------------------------------------------- #


def _syllable_gate(
    n: int, sr: int, rng: np.random.Generator, on: tuple[float, float], off_mean: float, shout_prob: float
) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like on/off gate with random per-syllable level, and a 0/1 'shout' mask."""
    gate = np.zeros(n)
    shout = np.zeros(n)
    pos = int(rng.exponential(off_mean) * sr)
    while pos < n:
        is_shout = rng.random() < shout_prob
        dur = rng.uniform(0.35, 1.0) if is_shout else rng.uniform(*on)
        m = max(1, int(dur * sr))
        gate[pos : pos + m] = rng.uniform(1.0, 1.8) if is_shout else rng.uniform(0.35, 1.0)
        if is_shout:
            shout[pos : pos + m] = 1.0
        pos += m + int(rng.exponential(off_mean) * sr)
    ramp = max(1, int(0.02 * sr))
    return _moving_average(gate, ramp), _moving_average(shout, 4 * ramp)


def _voice(
    n: int,
    sr: int,
    rng: np.random.Generator,
    f0_range: tuple[float, float],
    formant_scale: float,
    off_mean: float = 0.15,
    shout_prob: float = 0.0,
) -> np.ndarray:
    """Babbling voice: glottal pulses with a wandering pitch through two interpolated vowel filters."""
    gate, shout = _syllable_gate(n, sr, rng, (0.08, 0.35), off_mean, shout_prob)
    f0_base = rng.uniform(*f0_range)
    semitones = _smooth_mix(n, sr, rng, [(rng.uniform(1.0, 3.0), rng.uniform(1.5, 5.0)), (0.25, 18.0)]) + 5.0 * shout
    f0 = f0_base * 2.0 ** (semitones / 12.0)
    cycles = np.cumsum(f0) / sr + rng.random()
    frac = cycles - np.floor(cycles)
    oq = rng.uniform(0.4, 0.75)
    # Rosenberg-like glottal pulse (a squared parabola approximates sin**2 without trig); its
    # derivative is the usual voice excitation.
    u = np.minimum(frac / oq, 1.0)
    pulse = np.square(4.0 * u * (1.0 - u))
    exc = np.diff(pulse, prepend=pulse[:1])
    exc = _unit_rms(exc) + rng.uniform(0.05, 0.4) * rng.standard_normal(n)

    def vowel() -> tuple[list[float], list[float]]:
        f = [rng.uniform(550, 1100), rng.uniform(1300, 2900), rng.uniform(2900, 4200)]
        return [x * formant_scale for x in f], [rng.uniform(70, 200) for _ in f]

    fa, ba = vowel()
    fb, bb = vowel()
    ya = _resonators(exc, fa, ba, sr)
    yb = _resonators(exc, fb, bb, sr)
    w = 0.5 + 0.5 * np.tanh(2.0 * _smooth_random(n, sr, rng.uniform(2.0, 6.0), rng))
    y = _unit_rms(ya) * (1.0 - w) + _unit_rms(yb) * w
    return y * gate


def _chirp_bird(n: int, sr: int, rng: np.random.Generator, rate_per_s: float) -> np.ndarray:
    """Bird calls: bursts of short frequency-swept whistles."""
    out = np.zeros(n)
    n_calls = rng.poisson(rate_per_s * n / sr)
    top = 0.42 * sr
    for _ in range(n_calls):
        start = int(rng.integers(0, max(n, 1)))
        f_a = min(rng.uniform(1800, 7000), top)
        f_b = min(f_a * 2.0 ** rng.uniform(-1.0, 1.0), top)
        reps = int(rng.integers(1, 7))
        dur = rng.uniform(0.03, 0.15)
        m = max(2, int(dur * sr))
        t = _time(m, sr)
        f = f_a + (f_b - f_a) * (t / dur) ** rng.uniform(0.5, 2.0)
        chirp = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.sin(np.pi * t / dur) ** 2
        gap = int(rng.uniform(0.04, 0.15) * sr)
        level = rng.uniform(0.3, 1.0)
        for r in range(reps):
            _add_at(out, level * chirp, start + r * (m + gap))
    return out


# --------------------------------------------------------------------------- #
# Event models, one per UrbanSound8K class                                    #
# --------------------------------------------------------------------------- #


def _gen_air_conditioner(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _time(n, sr)
    hiss = _coloured_noise(n, rng, rng.uniform(0.3, 1.8))
    hiss = _unit_rms(_butter(hiss, "lowpass", rng.uniform(250.0, 3500.0), sr, order=int(rng.integers(1, 4))))
    # Fan blades chop the airflow: a periodic amplitude modulation at blade-pass rate.
    blade = rng.uniform(6.0, 60.0)
    depth = rng.uniform(0.03, 0.4)
    x = hiss * (1.0 + depth * np.sin(2 * np.pi * blade * t + rng.uniform(0, 2 * np.pi)))
    mains = float(rng.choice((50.0, 60.0))) * (1.0 + rng.uniform(-0.004, 0.004))
    k = np.arange(1, 11)
    amps = rng.uniform(0.1, 1.0, k.size) / k ** rng.uniform(0.3, 1.3)
    amps[1] *= rng.uniform(1.0, 4.0)  # magnetostriction hum sits at twice mains
    hum = _harmonic_stack(np.full(n, mains), sr, list(amps), rng.uniform(0, 2 * np.pi))
    x += rng.uniform(0.03, 0.8) * _unit_rms(hum)
    if rng.random() < 0.5:  # compressor/motor whine
        f_w = rng.uniform(150.0, 2500.0) * (1.0 + 0.002 * _smooth_random(n, sr, 0.5, rng))
        whine = _harmonic_stack(f_w, sr, [1.0, rng.uniform(0, 0.5), rng.uniform(0, 0.3)])
        x += rng.uniform(0.02, 0.25) * _unit_rms(whine)
    if rng.random() < 0.3:  # loose panel buzzing with the hum
        buzz = np.sign(np.sin(2 * np.pi * 2 * mains * t)) * rng.standard_normal(n) * 0.3
        x += rng.uniform(0.02, 0.15) * _unit_rms(_butter(buzz, "bandpass", (800.0, 5000.0), sr))
    return x


def _gen_car_horn(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    n_honks = int(rng.integers(1, 4))
    f1 = rng.uniform(350.0, 550.0)
    two_tone = rng.random() < 0.75
    ratio = rng.uniform(1.12, 1.32)  # horn pairs are tuned roughly a third apart
    n_harm = int(rng.integers(6, 18))
    k = np.arange(1, n_harm + 1)
    # Square-ish: strong odd harmonics, weaker even ones.
    amps = np.where(k % 2 == 1, 1.0, rng.uniform(0.1, 0.6)) / k ** rng.uniform(0.7, 1.3)
    body_fc = rng.uniform(1500.0, 3500.0)
    body_mix = rng.uniform(0.0, 0.7)
    drive = rng.uniform(1.0, 4.0)
    durations = rng.uniform(0.12, 1.2, n_honks)
    gaps = rng.uniform(0.05, 0.4, n_honks)
    for start, m in _schedule(n, sr, durations, gaps, rng):
        t = _time(m, sr)
        droop = rng.uniform(0.0, 0.04) * t / max(t[-1], 1e-3)
        vib = 0.003 * _smooth_random(m, sr, 8.0, rng)
        f = f1 * (1.0 - droop + vib) * rng.uniform(0.98, 1.02)
        s = _harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi))
        if two_tone:
            s += rng.uniform(0.5, 1.0) * _harmonic_stack(f * ratio, sr, list(amps), rng.uniform(0, 2 * np.pi))
        s = np.tanh(drive * s / (np.max(np.abs(s)) + 1e-12))
        s = (1 - body_mix) * s + body_mix * _unit_rms(_butter(s, "bandpass", (body_fc * 0.7, body_fc * 1.4), sr))
        env = _ramp_envelope(m, sr, rng.uniform(0.005, 0.03), rng.uniform(0.02, 0.1))
        _add_at(out, s * env, start)
    return out


def _gen_children_playing(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for _ in range(int(rng.integers(2, 7))):
        v = _voice(n, sr, rng, (220.0, 450.0), rng.uniform(1.0, 1.2), rng.uniform(0.08, 0.4), 0.15)
        out += rng.uniform(0.2, 1.0) * v
    if rng.random() < 0.3:  # a ball or footsteps
        taps = np.zeros(n)
        idx = rng.integers(0, n, size=rng.poisson(1.5 * n / sr) + 1)
        taps[idx] = rng.uniform(0.5, 1.0, idx.size)
        kern = rng.standard_normal(int(0.02 * sr)) * np.exp(-np.arange(int(0.02 * sr)) / (0.004 * sr))
        out += rng.uniform(0.1, 0.4) * _rms(out) * _unit_rms(signal.fftconvolve(taps, kern)[:n] + 1e-9)
    return out


def _gen_dog_bark(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    n_barks = int(rng.integers(1, 6))
    f0_dog = rng.uniform(300.0, 900.0)
    formants = [rng.uniform(500, 1200), rng.uniform(1200, 2800)]
    noise_mix = rng.uniform(0.15, 0.7)
    growl = rng.random() < 0.35
    durations = rng.uniform(0.08, 0.3, n_barks)
    gaps = rng.uniform(0.1, 0.5, n_barks)
    for start, m in _schedule(n, sr, durations, gaps, rng):
        t = _time(m, sr)
        dur = m / sr
        drop = rng.uniform(0.15, 0.5)
        # Pitch jumps up at onset then falls through the bark.
        f = f0_dog * rng.uniform(0.9, 1.1) * (1.0 + 0.15 * np.exp(-t / 0.01) - drop * t / dur)
        kk = np.arange(1, 16)
        fk = kk * f0_dog
        amps = sum(np.exp(-0.5 * ((fk - fc) / 300.0) ** 2) for fc in formants) + 0.1 / kk
        harm = _unit_rms(_harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)))
        noise = _unit_rms(_butter(rng.standard_normal(m), "bandpass", (400.0, rng.uniform(2500, 6000)), sr))
        s = (1 - noise_mix) * harm + noise_mix * noise
        if growl:
            s *= 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(25, 60) * t)
        env = (1.0 - np.exp(-t / rng.uniform(0.002, 0.01))) * np.exp(-t / (dur * rng.uniform(0.2, 0.5)))
        _add_at(out, s * env, start)
    return out


def _gen_drilling(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    f_motor = rng.uniform(800.0, 3000.0)
    n_harm = int(rng.integers(2, 8))
    kk = np.arange(1, n_harm + 1)
    amps = rng.uniform(0.2, 1.0, n_harm) / kk ** rng.uniform(0.5, 1.5)
    f = np.full(n, f_motor * 0.6)
    gate = np.zeros(n)
    n_on = int(rng.integers(1, 4))
    durations = rng.uniform(0.4, 2.5, n_on)
    gaps = rng.uniform(0.1, 0.6, n_on)
    for start, m in _schedule(n, sr, durations, gaps, rng):
        t = _time(m, sr)
        # The motor spins up over a fraction of a second when the trigger is pulled.
        rise = rng.uniform(0.1, 0.4)
        f[start : start + m] = f_motor * rng.uniform(0.95, 1.05) * (1.0 - rise * np.exp(-t / rng.uniform(0.03, 0.3)))
        gate[start : start + m] = rng.uniform(0.6, 1.0)
    gate = _moving_average(gate, max(1, int(0.02 * sr)))
    # Load on the bit slows the motor and adds jitter.
    f *= 1.0 + _smooth_mix(n, sr, rng, [(0.01, 3.0), (0.003, 40.0)])
    tone = _unit_rms(_harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)))
    grind_fc = f_motor * rng.uniform(0.8, 3.0)
    grind = _unit_rms(_butter(rng.standard_normal(n), "bandpass", (grind_fc * 0.6, grind_fc * 1.6), sr))
    load = 1.0 + 0.4 * _smooth_random(n, sr, rng.uniform(2, 10), rng)
    gear = _unit_rms(_butter(rng.standard_normal(n), "lowpass", rng.uniform(150, 600), sr))
    x = tone + rng.uniform(0.1, 0.9) * grind * np.abs(load) + rng.uniform(0.0, 0.4) * gear
    return x * gate


def _gen_engine_idling(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    fire = rng.uniform(15.0, 45.0)
    rate = fire * (1.0 + _smooth_mix(n, sr, rng, [(0.02, rng.uniform(0.3, 2.0)), (0.004, 10.0)]))
    cycles = np.cumsum(rate) / sr + rng.random()
    idx = np.nonzero(np.diff(np.floor(cycles), prepend=np.floor(cycles[:1])))[0] if n else np.zeros(0, int)
    # Cylinders are never perfectly balanced: a repeating pattern of pulse strengths.
    pattern = rng.uniform(0.6, 1.0, int(rng.integers(2, 9)))
    train = np.zeros(n)
    train[idx] = pattern[np.arange(idx.size) % pattern.size] * rng.uniform(0.9, 1.1, idx.size)
    km = int(rng.uniform(0.01, 0.04) * sr)
    kt = _time(km, sr)
    res = rng.uniform(60.0, 300.0)
    kern = rng.standard_normal(km) * np.exp(-kt / rng.uniform(0.002, 0.01)) + 2.0 * np.sin(
        2 * np.pi * res * kt
    ) * np.exp(-kt / rng.uniform(0.004, 0.015))
    kern = _butter(kern, "lowpass", rng.uniform(300.0, 2000.0), sr, order=4)
    pulses = _unit_rms(signal.fftconvolve(train, kern)[:n] + 1e-12)
    hum_amps = list(rng.uniform(0.2, 1.0, 6) / np.arange(1, 7))
    hum = _unit_rms(_harmonic_stack(rate * 0.5, sr, hum_amps, rng.uniform(0, 2 * np.pi)))
    rumble = _unit_rms(_butter(_coloured_noise(n, rng, 1.0), "lowpass", rng.uniform(150.0, 800.0), sr))
    x = pulses + rng.uniform(0.1, 0.8) * hum + rng.uniform(0.2, 1.0) * rumble
    if rng.random() < 0.4:  # valve/injector ticking
        tick = _butter(rng.standard_normal(n), "bandpass", (2000.0, 6000.0), sr) * np.abs(pulses)
        x += rng.uniform(0.05, 0.3) * _unit_rms(tick)
    return x


def _gen_gun_shot(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    dry = np.zeros(n)
    n_shots = int(rng.integers(1, 4))
    decay = rng.uniform(0.1, 0.6)
    durations = np.full(n_shots, decay)
    gaps = rng.uniform(0.05, 0.5, n_shots)
    cutoff = rng.uniform(1500.0, 10000.0)  # distance darkens the blast
    for start, m in _schedule(n, sr, durations, gaps, rng):
        m = max(m, int(0.05 * sr))
        t = _time(m, sr)
        env = (1.0 - np.exp(-t / rng.uniform(0.0003, 0.002))) * np.exp(-t / (decay * rng.uniform(0.15, 0.35)))
        burst = _butter(rng.standard_normal(m), "lowpass", cutoff * rng.uniform(0.8, 1.2), sr, order=2)
        thump = np.sin(2 * np.pi * rng.uniform(50.0, 150.0) * t) * np.exp(-t / rng.uniform(0.01, 0.05))
        shot = _unit_rms(burst * env) + rng.uniform(0.2, 1.5) * _unit_rms(thump)
        _add_at(dry, shot * rng.uniform(0.7, 1.0), start)
    h = _impulse_response(sr, rng, rng.uniform(0.3, 1.2), early=int(rng.integers(1, 5)))
    h[1:] *= rng.uniform(0.1, 0.5)
    return signal.fftconvolve(dry, h)[:n]


def _gen_jackhammer(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    rate = rng.uniform(10.0, 25.0)
    train = np.zeros(n)
    gate = np.zeros(n)
    n_bursts = int(rng.integers(1, 4))
    durations = rng.uniform(0.3, 2.0, n_bursts)
    gaps = rng.uniform(0.1, 0.6, n_bursts)
    for start, m in _schedule(n, sr, durations, gaps, rng):
        period = sr / (rate * rng.uniform(0.95, 1.05))
        hits = start + np.arange(0, m, period) + rng.normal(0, 0.03 * period, int(np.ceil(m / period)))
        hits = hits[(hits >= 0) & (hits < n)].astype(int)
        train[hits] = rng.uniform(0.6, 1.0, hits.size)
        gate[start : start + m] = 1.0
    km = int(0.05 * sr)
    kt = _time(km, sr)
    fc = rng.uniform(500.0, 3000.0)
    kern = _butter(rng.standard_normal(km), "bandpass", (fc * 0.5, fc * 2.0), sr) * np.exp(
        -kt / rng.uniform(0.003, 0.015)
    )
    for _ in range(int(rng.integers(1, 4))):  # metallic ringing of the chisel
        kern += rng.uniform(0.1, 0.6) * np.sin(2 * np.pi * rng.uniform(1000.0, 4500.0) * kt) * np.exp(
            -kt / rng.uniform(0.005, 0.03)
        )
    hammer = _unit_rms(signal.fftconvolve(train, kern)[:n] + 1e-12)
    hiss = _unit_rms(_butter(rng.standard_normal(n), "highpass", rng.uniform(2000.0, 5000.0), sr))
    gate = _moving_average(gate, max(1, int(0.03 * sr)))
    compressor = _unit_rms(_butter(_coloured_noise(n, rng, 1.0), "lowpass", rng.uniform(150.0, 600.0), sr))
    return hammer + rng.uniform(0.05, 0.4) * hiss * gate + rng.uniform(0.0, 0.3) * compressor


def _gen_siren(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _time(n, sr)
    mode = rng.choice(("wail", "yelp", "hilo"), p=(0.45, 0.3, 0.25))
    if mode == "hilo":
        f_a = rng.uniform(450.0, 750.0)
        f_b = f_a * rng.uniform(1.2, 1.5)
        half = rng.uniform(0.3, 0.7)
        sq = (np.floor(t / half + rng.random()) % 2).astype(float)
        sq = _moving_average(sq, max(1, int(0.02 * sr)))
        f = f_a + (f_b - f_a) * sq
    else:
        rate = rng.uniform(0.15, 0.5) if mode == "wail" else rng.uniform(3.0, 6.0)
        f_lo = rng.uniform(500.0, 850.0)
        f_hi = rng.uniform(1100.0, 1600.0)
        lfo = 0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        # Mechanical sirens rise slowly and fall fast; a power warps the sweep shape.
        f = f_lo + (f_hi - f_lo) * lfo ** rng.uniform(0.6, 1.6)
    amp = np.ones(n)
    if rng.random() < 0.5:  # passing vehicle: Doppler drift and a level swell
        tc = rng.uniform(0.0, t[-1] if n else 1.0)
        w = rng.uniform(0.5, 3.0)
        f = f * (1.0 - rng.uniform(0.01, 0.05) * np.tanh((t - tc) / w))
        amp = 0.3 + 0.7 / np.sqrt(1.0 + ((t - tc) / w) ** 2)
    n_harm = int(rng.integers(2, 10))
    kk = np.arange(1, n_harm + 1)
    odd_only = rng.random() < 0.4
    amps = np.where((kk % 2 == 1) | (not odd_only), 1.0, 0.0) / kk ** rng.uniform(0.8, 2.0)
    return _harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)) * amp


_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}


def _note(
    m: int, sr: int, freq: float, rng: np.random.Generator, instrument: str, brightness: float
) -> np.ndarray:
    """One note: a plucked string (harmonics decaying faster the higher they are) or a sustained ADSR tone."""
    t = _time(m, sr)
    n_harm = max(1, min(20, int(0.45 * sr / freq)))
    kk = np.arange(1, n_harm + 1)
    base = 1.0 / kk**brightness
    f = np.full(m, freq) * (1.0 + 0.002 * np.sin(2 * np.pi * 5.0 * t))
    if instrument == "pluck":
        # Karplus-Strong-like spectrum: high partials lose energy fastest.
        decay = rng.uniform(1.5, 5.0)
        amps = [base[i] * np.exp(-t * decay * (1 + 0.3 * i)) for i in range(n_harm)]
        s = _harmonic_stack(f, sr, amps, rng.uniform(0, 2 * np.pi))
        s *= _ramp_envelope(m, sr, 0.002, 0.01)
        click = rng.standard_normal(min(m, int(0.004 * sr)))
        s[: click.size] += 0.3 * click * np.max(np.abs(s) + 1e-9)
        return s
    env = _ramp_envelope(m, sr, rng.uniform(0.01, 0.06), rng.uniform(0.03, 0.15))
    env *= 1.0 - 0.3 * (1 - np.exp(-t / 0.1))  # decay to sustain level
    return _harmonic_stack(f, sr, list(base), rng.uniform(0, 2 * np.pi)) * env


def _gen_street_music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    scale = _SCALES[str(rng.choice(list(_SCALES)))]
    root = rng.uniform(46.0, 62.0)  # MIDI, deliberately not on a tuned grid: street instruments drift
    beat = 60.0 / rng.uniform(70.0, 160.0)
    instrument = "pluck" if rng.random() < 0.55 else "tone"
    brightness = rng.uniform(0.8, 2.0)
    steps_per_beat = int(rng.choice((1, 2, 4), p=(0.3, 0.5, 0.2)))
    step = beat / steps_per_beat
    pattern = rng.random(int(rng.choice((4, 8)))) < rng.uniform(0.5, 0.9)
    pattern[0] = True

    def midi_to_hz(midi: float) -> float:
        return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)

    def degree_to_midi(d: int, octave: int) -> float:
        return root + 12 * (octave + d // len(scale)) + scale[d % len(scale)]

    t0 = int(rng.uniform(0.0, step) * sr)
    degree = int(rng.integers(0, len(scale)))
    i = 0
    while t0 < n:
        if pattern[i % pattern.size]:
            length = int(step * sr * (rng.uniform(1.0, 3.0) if instrument == "pluck" else rng.uniform(0.7, 1.0)))
            degree = int(np.clip(degree + rng.integers(-2, 3), -3, 2 * len(scale)))
            freq = midi_to_hz(degree_to_midi(degree, 1))
            _add_at(out, rng.uniform(0.6, 1.0) * _note(max(length, 16), sr, freq, rng, instrument, brightness), t0)
        t0 += int(step * sr)
        i += 1
    level = _rms(out)
    if rng.random() < 0.4:  # chords, one per bar
        chords = np.zeros(n)
        bar = int(4 * beat * sr)
        for b0 in range(0, n, max(bar, 1)):
            d = int(rng.integers(0, len(scale)))
            for j in (0, 2, 4):
                chords_note = _note(bar, sr, midi_to_hz(degree_to_midi(d + j, 0)), rng, "tone", brightness + 0.5)
                _add_at(chords, chords_note, b0)
        out += rng.uniform(0.2, 0.6) * level * _unit_rms(chords)
    if rng.random() < 0.5:  # bass on the beat
        bass = np.zeros(n)
        for b0 in range(0, n, max(int(beat * sr), 1)):
            d = int(rng.choice((0, 3, 4)))  # root, fourth/fifth degree: the usual bass moves
            _add_at(bass, _note(int(beat * sr), sr, midi_to_hz(degree_to_midi(d, -1)), rng, "pluck", 2.0), b0)
        out += rng.uniform(0.3, 0.8) * level * _unit_rms(bass)
    if rng.random() < 0.3:  # hand drum / kick on the beat, shaker off the beat
        drums = np.zeros(n)
        km = int(0.15 * sr)
        kt = _time(km, sr)
        kick = np.sin(2 * np.pi * np.cumsum(60.0 + 80.0 * np.exp(-kt / 0.03)) / sr) * np.exp(-kt / 0.05)
        hat = _butter(rng.standard_normal(int(0.03 * sr)), "highpass", 5000.0, sr) * np.exp(
            -_time(int(0.03 * sr), sr) / 0.006
        )
        for b0 in range(0, n, max(int(beat * sr), 1)):
            _add_at(drums, kick, b0)
            _add_at(drums, 0.4 * hat, b0 + int(beat * sr / 2))
        out += rng.uniform(0.2, 0.7) * level * _unit_rms(drums)
    return out


_EVENT_MODELS: dict[str, _SignalModel] = {
    "air_conditioner": _gen_air_conditioner,
    "car_horn": _gen_car_horn,
    "children_playing": _gen_children_playing,
    "dog_bark": _gen_dog_bark,
    "drilling": _gen_drilling,
    "engine_idling": _gen_engine_idling,
    "gun_shot": _gen_gun_shot,
    "jackhammer": _gen_jackhammer,
    "siren": _gen_siren,
    "street_music": _gen_street_music,
}


# --------------------------------------------------------------------------- #
# Background models                                                           #
# --------------------------------------------------------------------------- #


def _distant_babble(n: int, sr: int, rng: np.random.Generator, n_voices: int, cutoff: float) -> np.ndarray:
    """Adult voices heard from a distance (lowpassed at ``cutoff``).

    Distance removes their high end anyway, so they are synthesised at half rate and upsampled:
    background babble would otherwise cost more than the events themselves.
    """
    dec = 2 if sr >= 16000 else 1
    n_c = -(-n // dec)
    babble = np.zeros(n_c)
    for _ in range(n_voices):
        babble += rng.uniform(0.3, 1.0) * _voice(n_c, sr // dec, rng, (90.0, 260.0), rng.uniform(0.75, 0.95), 0.2)
    babble = _butter(babble, "lowpass", cutoff, sr // dec)
    if dec > 1:
        babble = signal.resample_poly(babble, dec, 1)[:n]
    return babble


def _bg_street_traffic(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _time(n, sr)
    bed = _unit_rms(_butter(_coloured_noise(n, rng, rng.uniform(1.0, 2.0)), "lowpass", rng.uniform(400, 2000), sr))
    # Passing vehicles: bell-shaped swells of rumble and tyre hiss.
    swell = np.zeros(n)
    dur = n / sr
    for _ in range(rng.poisson(rng.uniform(0.3, 1.5) * (dur + 4.0)) + 1):
        tc = rng.uniform(-2.0, dur + 2.0)
        w = rng.uniform(0.5, 2.5)
        swell += rng.uniform(0.3, 1.5) * np.exp(-0.5 * ((t - tc) / w) ** 2)
    rumble = _unit_rms(_butter(rng.standard_normal(n), "lowpass", rng.uniform(150, 800), sr, order=3))
    tyres = _unit_rms(_butter(rng.standard_normal(n), "bandpass", (700.0, rng.uniform(3000, 8000)), sr))
    return bed + rng.uniform(0.5, 2.0) * rumble * swell + rng.uniform(0.1, 0.6) * tyres * swell


def _bg_park(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    wind = _butter(_coloured_noise(n, rng, rng.uniform(1.0, 2.0)), "lowpass", rng.uniform(300, 1500), sr)
    wind = _unit_rms(wind) * (1.0 + 0.5 * np.tanh(_smooth_random(n, sr, 0.5, rng)))
    x = wind + rng.uniform(0.1, 0.6) * _unit_rms(_butter(_coloured_noise(n, rng, 1.0), "lowpass", 4000.0, sr))
    birds = _chirp_bird(n, sr, rng, rng.uniform(0.3, 3.0))
    if np.any(birds):
        x += rng.uniform(0.1, 0.8) * _unit_rms(birds)
    n_talkers = int(rng.integers(0, 3))
    if n_talkers:
        x += rng.uniform(0.05, 0.3) * _unit_rms(_distant_babble(n, sr, rng, n_talkers, rng.uniform(500, 1500)))
    return x


def _bg_crowd(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    babble = _distant_babble(n, sr, rng, int(rng.integers(4, 9)), rng.uniform(1500, 4000))
    swell = 1.0 + 0.3 * np.tanh(_smooth_random(n, sr, 0.3, rng))
    noise = _unit_rms(_butter(_coloured_noise(n, rng, 1.0), "lowpass", 2000.0, sr))
    return _unit_rms(babble) * swell + rng.uniform(0.2, 0.6) * noise


def _bg_rain(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    # Dense crackle: many tiny drop impacts with heavy-tailed sizes.
    drops = np.zeros(n)
    count = rng.poisson(rng.uniform(300.0, 2500.0) * n / sr)
    idx = rng.integers(0, max(n, 1), size=count)
    np.add.at(drops, idx, rng.pareto(5.0, size=count) + 0.3)
    km = max(2, int(0.003 * sr))
    kern = rng.standard_normal(km) * np.exp(-np.arange(km) / (0.0006 * sr))
    crackle = _butter(signal.fftconvolve(drops, kern)[:n], "highpass", rng.uniform(800, 3000), sr)
    hiss = _butter(rng.standard_normal(n), "highpass", rng.uniform(1000, 4000), sr)
    rumble = _butter(_coloured_noise(n, rng, 2.0), "lowpass", 300.0, sr)
    return (
        _unit_rms(crackle + 1e-12)
        + rng.uniform(0.2, 1.0) * _unit_rms(hiss)
        + rng.uniform(0.1, 0.5) * _unit_rms(rumble)
    )


_BACKGROUND_MODELS: dict[str, _SignalModel] = {
    "street_traffic": _bg_street_traffic,
    "park": _bg_park,
    "crowd": _bg_crowd,
    "rain": _bg_rain,
}


# --------------------------------------------------------------------------- #
# Public synthesis API                                                        #
# --------------------------------------------------------------------------- #


def _check_signal_args(duration: float, sr: int) -> None:
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if int(sr) != sr or sr <= 0:
        raise ValueError(f"sr must be a positive integer sample rate, got {sr!r}")


def _event_samples(label: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    model = _EVENT_MODELS.get(label)
    if model is None:
        raise ValueError(f"unknown sound class {label!r}; expected one of {', '.join(CLASSES)}")
    x = np.nan_to_num(model(n, sr, rng)[:n])
    peak = float(np.max(np.abs(x))) if n else 0.0
    if peak > 0:
        x = x * (EVENT_PEAK / peak)
    return x.astype(np.float32)


def synthesize_event(label: str, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesise a dry (background-free) sound event of one UrbanSound8K class.

    Args:
        label: one of ``CLASSES``.
        duration: length in seconds; the event may contain silence (e.g. gaps between barks).
        sr: sample rate in Hz.
        rng: source of all randomness; the same generator state gives the same audio.

    Returns:
        float32 mono array of length ``round(duration * sr)``, peak-normalised to ``EVENT_PEAK`` (0.9).

    Raises:
        ValueError: if ``label`` is not a known class, or duration/sr are invalid.
    """
    if label not in _EVENT_MODELS:
        raise ValueError(f"unknown sound class {label!r}; expected one of {', '.join(CLASSES)}")
    _check_signal_args(duration, sr)
    return _event_samples(label, _n_samples(duration, sr), int(sr), rng)


def synthesize_background(kind: str, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesise a street-ambience background.

    Args:
        kind: one of ``BACKGROUNDS`` ("street_traffic", "park", "crowd", "rain").
        duration: length in seconds.
        sr: sample rate in Hz.
        rng: source of all randomness.

    Returns:
        float32 mono array of length ``round(duration * sr)`` with RMS ``BACKGROUND_RMS`` (0.1) and
        peak below 1.

    Raises:
        ValueError: if ``kind`` is unknown, or duration/sr are invalid.
    """
    model = _BACKGROUND_MODELS.get(kind)
    if model is None:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {', '.join(BACKGROUNDS)}")
    _check_signal_args(duration, sr)
    n = _n_samples(duration, sr)
    x = np.nan_to_num(model(n, int(sr), rng)[:n])
    # Soft-limit rare spikes (big raindrops, crackle) to a crest factor of ~6 so that the
    # RMS-normalised background stays well inside [-1, 1] when written to wav on its own.
    limit = _BACKGROUND_CREST * _rms(x)
    x = limit * np.tanh(x / limit)
    return (x * (BACKGROUND_RMS / _rms(x))).astype(np.float32)


def _recording_chain(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Random microphone/recorder response as second-order sections (applied to event and background alike)."""
    sections = [_butter_sos("highpass", (_quantise_hz(rng.uniform(20.0, 150.0)),), float(sr), 2)]
    if rng.random() < 0.5:  # cheap recorders and lossy uploads cut the top end
        cut = min(_quantise_hz(rng.uniform(4000.0, 11000.0)), 0.45 * sr)
        sections.append(_butter_sos("lowpass", (cut,), float(sr), 2))
    return np.concatenate(sections)


def _render_components(
    label: str,
    duration: float,
    sr: int,
    snr_db: float,
    rng: np.random.Generator,
    background: str | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Render the scaled event track and background track of a clip separately.

    ``render_clip`` is exactly ``event + background`` of these (in float32). The SNR is
    10*log10(mean(event[start:end]**2) / mean(background**2)): event power over the span
    the event occupies against background power over the whole clip.

    Returns:
        (event_track, background_track, start_sample, end_sample)
    """
    if label not in _EVENT_MODELS:
        raise ValueError(f"unknown sound class {label!r}; expected one of {', '.join(CLASSES)}")
    if background is not None and background not in _BACKGROUND_MODELS:
        raise ValueError(f"unknown background kind {background!r}; expected one of {', '.join(BACKGROUNDS)}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    _check_signal_args(duration, sr)
    sr = int(sr)
    n = _n_samples(duration, sr)
    if n == 0:
        empty = np.zeros(0, np.float32)
        return empty, empty, 0, 0
    ev_rng, bg_rng, mix_rng = rng.spawn(3)

    # Like real recordings, the event often covers only part of the clip.
    frac = 1.0 if mix_rng.random() < 0.4 else mix_rng.uniform(0.3, 1.0)
    ev_n = min(n, max(int(round(frac * n)), int(0.3 * sr)))
    start = int(mix_rng.integers(0, n - ev_n + 1))
    end = start + ev_n
    event = np.zeros(n)
    event[start:end] = _event_samples(label, ev_n, sr, ev_rng)

    # Source distance and surroundings: air absorption and a reverberant tail.
    if mix_rng.random() < 0.5:
        event = _butter(event, "lowpass", mix_rng.uniform(2500.0, 9000.0), sr, order=1)
    if mix_rng.random() < 0.5:
        h = _impulse_response(sr, mix_rng, mix_rng.uniform(0.2, 1.0), early=int(mix_rng.integers(0, 3)))
        h[1:] *= mix_rng.uniform(0.05, 0.35)
        event = signal.fftconvolve(event, h)[:n]

    kind = background if background is not None else str(mix_rng.choice(BACKGROUNDS))
    bg = synthesize_background(kind, n / sr, sr, bg_rng).astype(np.float64)

    chain = _recording_chain(sr, mix_rng)
    event = signal.sosfilt(chain, event)
    bg = signal.sosfilt(chain, bg)

    ev_power = float(np.mean(event[start:end] ** 2))
    bg_power = float(np.mean(bg**2))
    gain = np.sqrt(bg_power / max(ev_power, 1e-20) * 10.0 ** (snr_db / 10.0))
    event *= gain
    # Recording level varies from clip to clip. The margin below MAX_PEAK absorbs float32 and
    # 16-bit rounding.
    peak = float(np.max(np.abs(event + bg)))
    level = mix_rng.uniform(0.25, MAX_PEAK - 0.02) / max(peak, 1e-12)
    return (event * level).astype(np.float32), (bg * level).astype(np.float32), start, end


def render_clip(
    label: str,
    duration: float,
    sr: int,
    snr_db: float,
    rng: np.random.Generator,
    background: str | None = None,
) -> np.ndarray:
    """Render a labelled clip: an event of ``label`` placed over a background at ``snr_db``.

    The event covers a random span of the clip (often all of it) at a random offset, may be
    distance-filtered and reverberated, and is mixed over the background so that event power over
    its span / background power over the clip equals ``snr_db``. A random recording chain
    (high-pass, sometimes low-pass) colours the whole mix and the level is randomised.

    Args:
        label: one of ``CLASSES``.
        duration: clip length in seconds.
        sr: sample rate in Hz.
        snr_db: event-to-background ratio in dB (RMS-based, see above).
        rng: source of all randomness.
        background: one of ``BACKGROUNDS``, or None to pick one at random.

    Returns:
        float32 mono array of length ``round(duration * sr)`` with peak <= ``MAX_PEAK`` (0.99).
    """
    event, bg, _, _ = _render_components(label, duration, sr, snr_db, rng, background)
    return event + bg


# --------------------------------------------------------------------------- #
# Dataset writer                                                              #
# --------------------------------------------------------------------------- #

METADATA_COLUMNS: tuple[str, ...] = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")


def _validate_dataset_args(
    clips_per_class: int,
    n_folds: int,
    sample_rate: int,
    duration_range: tuple[float, float],
    snr_db_range: tuple[float, float],
    classes: Sequence[str],
) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(clips_per_class) or clips_per_class < 1:
        raise ValueError(f"clips_per_class must be an integer >= 1, got {clips_per_class!r}")
    if not is_int(n_folds) or n_folds < 1:
        raise ValueError(f"n_folds must be an integer >= 1, got {n_folds!r}")
    if not is_int(sample_rate) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    try:
        lo, hi = (float(v) for v in duration_range)
    except (TypeError, ValueError):
        raise ValueError(f"duration_range must be a pair (lo, hi) of seconds, got {duration_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"duration_range must satisfy 0 < lo <= hi, got {duration_range!r}")
    if lo * sample_rate < 1:
        raise ValueError(f"duration_range lower bound {lo} s is shorter than one sample at {sample_rate} Hz")
    try:
        s_lo, s_hi = (float(v) for v in snr_db_range)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db_range must be a pair (lo, hi) in dB, got {snr_db_range!r}") from None
    if not (np.isfinite(s_lo) and np.isfinite(s_hi) and s_lo <= s_hi):
        raise ValueError(f"snr_db_range must be finite with lo <= hi, got {snr_db_range!r}")
    if isinstance(classes, str) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty sequence of class names, got {classes!r}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"classes contains unknown class names {unknown}; expected names from {list(CLASSES)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contains duplicates: {list(classes)}")


_README_TITLE = "# Synthetic UrbanSound8K-style dataset (soundflow urban_synth)"


def _readme_text(params: dict[str, object], n_rows: int) -> str:
    lines = [
        _README_TITLE,
        "",
        "Procedurally generated environmental-sound clips for the ten UrbanSound8K classes, written in",
        "UrbanSound8K's layout (`audio/fold{k}/{fsID}-{classID}-{occurrenceID}-{sliceID}.wav`,",
        "`metadata/UrbanSound8K.csv`). No recorded audio is involved: every clip is synthesised from a",
        "seeded signal model, mixed over a synthetic street-ambience background at a random SNR.",
        "",
        f"- Generator: `tasks.datasets.urban_synth.generate_dataset` (model version {GENERATOR_VERSION})",
    ]
    lines += [f"- {k}: `{v}`" for k, v in params.items()]
    lines += [
        f"- Clips: {n_rows}",
        "",
        "Metadata: `start`/`end` are the event's position in seconds within its clip; `salience` is 1",
        "(foreground) when the clip's SNR >= 10 dB, else 2 (background). `fsID` is a synthetic id unique",
        "per clip, (classID + 1) * 1000000 + clip index; occurrenceID and sliceID are 0. Clip k of a class",
        "is rendered from `numpy.random.default_rng([seed, classID, k])`.",
        "",
        "Re-running the generator with the same parameters reproduces these files byte for byte.",
        "",
        *CC0_README_SECTION,
    ]
    return "\n".join(lines)


def generate_dataset(
    out_dir: Path,
    *,
    clips_per_class: int,
    n_folds: int = 10,
    sample_rate: int = 22050,
    duration_range: tuple[float, float] = (1.0, 4.0),
    snr_db_range: tuple[float, float] = (0.0, 20.0),
    seed: int = 0,
    classes: Sequence[str] = CLASSES,
    progress: bool = True,
) -> Path:
    """Write a synthetic dataset in UrbanSound8K's layout and return its metadata CSV path.

    Clip ``k`` of class ``c`` is rendered from ``np.random.default_rng([seed, CLASSES.index(c), k])``
    (duration, then SNR, then the clip), so its audio does not depend on how many clips or which other
    classes are generated. Clip ``k`` goes to fold ``k % n_folds + 1``. The dataset is built in a
    sibling temporary directory and moved into place with a rename, replacing a previous output of
    this function at ``out_dir``; an interrupted run never leaves a complete-looking ``out_dir``.

    Args:
        out_dir: dataset root to create; an earlier output of this function there is replaced.
        clips_per_class: number of clips per class (>= 1).
        n_folds: number of folds (>= 1); fold directories are ``fold1``..``fold{n_folds}``.
        sample_rate: sample rate of the 16-bit PCM wav files (>= 8000).
        duration_range: (lo, hi) clip duration in seconds, drawn uniformly; 0 < lo <= hi.
        snr_db_range: (lo, hi) event-to-background SNR in dB, drawn uniformly.
        seed: base seed (non-negative integer).
        classes: subset of ``CLASSES`` to generate (classIDs stay those of ``CLASSES``).
        progress: show a tqdm progress bar.

    Returns:
        Path to ``out_dir/metadata/UrbanSound8K.csv``.

    Raises:
        ValueError: naming the offending argument when an argument is invalid.
        FileExistsError: if ``out_dir`` exists, is not empty and was not written by this function.
    """
    if not isinstance(classes, str):
        classes = tuple(classes)
    _validate_dataset_args(clips_per_class, n_folds, sample_rate, duration_range, snr_db_range, classes)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    d_lo, d_hi = (float(v) for v in duration_range)
    s_lo, s_hi = (float(v) for v in snr_db_range)
    with generated_folder(out_dir, _README_TITLE, "urban_synth.generate_dataset") as tmp:
        for k in range(1, n_folds + 1):
            (tmp / "audio" / f"fold{k}").mkdir(parents=True)
        (tmp / "metadata").mkdir()
        rows: list[list[object]] = []
        jobs = [(c, k) for c in classes for k in range(clips_per_class)]
        for label, k in tqdm(jobs, desc="urban_synth", unit="clip", disable=not progress):
            class_id = CLASSES.index(label)
            rng = np.random.default_rng([seed, class_id, k])
            duration = rng.uniform(d_lo, d_hi)
            snr_db = rng.uniform(s_lo, s_hi)
            event, bg, start, end = _render_components(label, duration, sample_rate, snr_db, rng)
            fold = k % n_folds + 1
            fs_id = (class_id + 1) * 1_000_000 + k
            name = f"{fs_id}-{class_id}-0-0.wav"
            sf.write(tmp / "audio" / f"fold{fold}" / name, event + bg, sample_rate, subtype="PCM_16", format="WAV")
            salience = 1 if snr_db >= 10.0 else 2
            rows.append(
                [name, fs_id, f"{start / sample_rate:.6f}", f"{end / sample_rate:.6f}", salience, fold, class_id, label]
            )
        with open(tmp / "metadata" / "UrbanSound8K.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(METADATA_COLUMNS)
            writer.writerows(rows)
        params = {
            "clips_per_class": clips_per_class,
            "n_folds": n_folds,
            "sample_rate": sample_rate,
            "duration_range": (d_lo, d_hi),
            "snr_db_range": (s_lo, s_hi),
            "seed": seed,
            "classes": list(classes),
        }
        (tmp / "README.md").write_text(_readme_text(params, len(rows)), encoding="utf-8")

    return out_dir / "metadata" / "UrbanSound8K.csv"
