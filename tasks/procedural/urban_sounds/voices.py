"""Voices and animals: babbling voices and bird calls (shared with the backgrounds), children, dogs."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural.urban_sounds.dsp import (
    add_at,
    butter,
    harmonic_stack,
    moving_average,
    resonators,
    rms,
    schedule,
    smooth_mix,
    smooth_random,
    time_axis,
    unit_rms,
)


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
    return moving_average(gate, ramp), moving_average(shout, 4 * ramp)


def voice(
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
    semitones = smooth_mix(n, sr, rng, [(rng.uniform(1.0, 3.0), rng.uniform(1.5, 5.0)), (0.25, 18.0)]) + 5.0 * shout
    f0 = f0_base * 2.0 ** (semitones / 12.0)
    cycles = np.cumsum(f0) / sr + rng.random()
    frac = cycles - np.floor(cycles)
    oq = rng.uniform(0.4, 0.75)
    # Rosenberg-like glottal pulse (a squared parabola approximates sin**2 without trig); its
    # derivative is the usual voice excitation.
    u = np.minimum(frac / oq, 1.0)
    pulse = np.square(4.0 * u * (1.0 - u))
    exc = np.diff(pulse, prepend=pulse[:1])
    exc = unit_rms(exc) + rng.uniform(0.05, 0.4) * rng.standard_normal(n)

    def vowel() -> tuple[list[float], list[float]]:
        f = [rng.uniform(550, 1100), rng.uniform(1300, 2900), rng.uniform(2900, 4200)]
        return [x * formant_scale for x in f], [rng.uniform(70, 200) for _ in f]

    fa, ba = vowel()
    fb, bb = vowel()
    ya = resonators(exc, fa, ba, sr)
    yb = resonators(exc, fb, bb, sr)
    w = 0.5 + 0.5 * np.tanh(2.0 * smooth_random(n, sr, rng.uniform(2.0, 6.0), rng))
    y = unit_rms(ya) * (1.0 - w) + unit_rms(yb) * w
    return y * gate


def chirp_bird(n: int, sr: int, rng: np.random.Generator, rate_per_s: float) -> np.ndarray:
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
        t = time_axis(m, sr)
        f = f_a + (f_b - f_a) * (t / dur) ** rng.uniform(0.5, 2.0)
        chirp = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.sin(np.pi * t / dur) ** 2
        gap = int(rng.uniform(0.04, 0.15) * sr)
        level = rng.uniform(0.3, 1.0)
        for r in range(reps):
            add_at(out, level * chirp, start + r * (m + gap))
    return out


def children_playing(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for _ in range(int(rng.integers(2, 7))):
        v = voice(n, sr, rng, (220.0, 450.0), rng.uniform(1.0, 1.2), rng.uniform(0.08, 0.4), 0.15)
        out += rng.uniform(0.2, 1.0) * v
    if rng.random() < 0.3:  # a ball or footsteps
        taps = np.zeros(n)
        idx = rng.integers(0, n, size=rng.poisson(1.5 * n / sr) + 1)
        taps[idx] = rng.uniform(0.5, 1.0, idx.size)
        kern = rng.standard_normal(int(0.02 * sr)) * np.exp(-np.arange(int(0.02 * sr)) / (0.004 * sr))
        out += rng.uniform(0.1, 0.4) * rms(out) * unit_rms(signal.fftconvolve(taps, kern)[:n] + 1e-9)
    return out


def dog_bark(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    n_barks = int(rng.integers(1, 6))
    f0_dog = rng.uniform(300.0, 900.0)
    formants = [rng.uniform(500, 1200), rng.uniform(1200, 2800)]
    noise_mix = rng.uniform(0.15, 0.7)
    growl = rng.random() < 0.35
    durations = rng.uniform(0.08, 0.3, n_barks)
    gaps = rng.uniform(0.1, 0.5, n_barks)
    for start, m in schedule(n, sr, durations, gaps, rng):
        t = time_axis(m, sr)
        dur = m / sr
        drop = rng.uniform(0.15, 0.5)
        # Pitch jumps up at onset then falls through the bark.
        f = f0_dog * rng.uniform(0.9, 1.1) * (1.0 + 0.15 * np.exp(-t / 0.01) - drop * t / dur)
        kk = np.arange(1, 16)
        fk = kk * f0_dog
        amps = sum(np.exp(-0.5 * ((fk - fc) / 300.0) ** 2) for fc in formants) + 0.1 / kk
        harm = unit_rms(harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)))
        noise = unit_rms(butter(rng.standard_normal(m), "bandpass", (400.0, rng.uniform(2500, 6000)), sr))
        s = (1 - noise_mix) * harm + noise_mix * noise
        if growl:
            s *= 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(25, 60) * t)
        env = (1.0 - np.exp(-t / rng.uniform(0.002, 0.01))) * np.exp(-t / (dur * rng.uniform(0.2, 0.5)))
        add_at(out, s * env, start)
    return out
