"""Sounds that make people look up: car horns, sirens and gun shots."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural.urban_sounds.dsp import (
    add_at,
    butter,
    harmonic_stack,
    impulse_response,
    moving_average,
    ramp_envelope,
    schedule,
    smooth_random,
    time_axis,
    unit_rms,
)


def car_horn(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
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
    for start, m in schedule(n, sr, durations, gaps, rng):
        t = time_axis(m, sr)
        droop = rng.uniform(0.0, 0.04) * t / max(t[-1], 1e-3)
        vib = 0.003 * smooth_random(m, sr, 8.0, rng)
        f = f1 * (1.0 - droop + vib) * rng.uniform(0.98, 1.02)
        s = harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi))
        if two_tone:
            s += rng.uniform(0.5, 1.0) * harmonic_stack(f * ratio, sr, list(amps), rng.uniform(0, 2 * np.pi))
        s = np.tanh(drive * s / (np.max(np.abs(s)) + 1e-12))
        s = (1 - body_mix) * s + body_mix * unit_rms(butter(s, "bandpass", (body_fc * 0.7, body_fc * 1.4), sr))
        env = ramp_envelope(m, sr, rng.uniform(0.005, 0.03), rng.uniform(0.02, 0.1))
        add_at(out, s * env, start)
    return out


def siren(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(n, sr)
    mode = rng.choice(("wail", "yelp", "hilo"), p=(0.45, 0.3, 0.25))
    if mode == "hilo":
        f_a = rng.uniform(450.0, 750.0)
        f_b = f_a * rng.uniform(1.2, 1.5)
        half = rng.uniform(0.3, 0.7)
        sq = (np.floor(t / half + rng.random()) % 2).astype(float)
        sq = moving_average(sq, max(1, int(0.02 * sr)))
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
    return harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)) * amp


def gun_shot(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    dry = np.zeros(n)
    n_shots = int(rng.integers(1, 4))
    decay = rng.uniform(0.1, 0.6)
    durations = np.full(n_shots, decay)
    gaps = rng.uniform(0.05, 0.5, n_shots)
    cutoff = rng.uniform(1500.0, 10000.0)  # distance darkens the blast
    for start, m in schedule(n, sr, durations, gaps, rng):
        m = max(m, int(0.05 * sr))
        t = time_axis(m, sr)
        env = (1.0 - np.exp(-t / rng.uniform(0.0003, 0.002))) * np.exp(-t / (decay * rng.uniform(0.15, 0.35)))
        burst = butter(rng.standard_normal(m), "lowpass", cutoff * rng.uniform(0.8, 1.2), sr, order=2)
        thump = np.sin(2 * np.pi * rng.uniform(50.0, 150.0) * t) * np.exp(-t / rng.uniform(0.01, 0.05))
        shot = unit_rms(burst * env) + rng.uniform(0.2, 1.5) * unit_rms(thump)
        add_at(dry, shot * rng.uniform(0.7, 1.0), start)
    h = impulse_response(sr, rng, rng.uniform(0.3, 1.2), early=int(rng.integers(1, 5)))
    h[1:] *= rng.uniform(0.1, 0.5)
    return signal.fftconvolve(dry, h)[:n]
