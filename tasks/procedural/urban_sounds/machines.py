"""Machines: air conditioner, drill, idling engine and jackhammer (motors, fans and impact trains)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural.urban_sounds.dsp import (
    butter,
    coloured_noise,
    harmonic_stack,
    moving_average,
    schedule,
    smooth_mix,
    smooth_random,
    time_axis,
    unit_rms,
)


def air_conditioner(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(n, sr)
    hiss = coloured_noise(n, rng, rng.uniform(0.3, 1.8))
    hiss = unit_rms(butter(hiss, "lowpass", rng.uniform(250.0, 3500.0), sr, order=int(rng.integers(1, 4))))
    # Fan blades chop the airflow: a periodic amplitude modulation at blade-pass rate.
    blade = rng.uniform(6.0, 60.0)
    depth = rng.uniform(0.03, 0.4)
    x = hiss * (1.0 + depth * np.sin(2 * np.pi * blade * t + rng.uniform(0, 2 * np.pi)))
    mains = float(rng.choice((50.0, 60.0))) * (1.0 + rng.uniform(-0.004, 0.004))
    k = np.arange(1, 11)
    amps = rng.uniform(0.1, 1.0, k.size) / k ** rng.uniform(0.3, 1.3)
    amps[1] *= rng.uniform(1.0, 4.0)  # magnetostriction hum sits at twice mains
    hum = harmonic_stack(np.full(n, mains), sr, list(amps), rng.uniform(0, 2 * np.pi))
    x += rng.uniform(0.03, 0.8) * unit_rms(hum)
    if rng.random() < 0.5:  # compressor/motor whine
        f_w = rng.uniform(150.0, 2500.0) * (1.0 + 0.002 * smooth_random(n, sr, 0.5, rng))
        whine = harmonic_stack(f_w, sr, [1.0, rng.uniform(0, 0.5), rng.uniform(0, 0.3)])
        x += rng.uniform(0.02, 0.25) * unit_rms(whine)
    if rng.random() < 0.3:  # loose panel buzzing with the hum
        buzz = np.sign(np.sin(2 * np.pi * 2 * mains * t)) * rng.standard_normal(n) * 0.3
        x += rng.uniform(0.02, 0.15) * unit_rms(butter(buzz, "bandpass", (800.0, 5000.0), sr))
    return x


def drilling(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    f_motor = rng.uniform(800.0, 3000.0)
    n_harm = int(rng.integers(2, 8))
    kk = np.arange(1, n_harm + 1)
    amps = rng.uniform(0.2, 1.0, n_harm) / kk ** rng.uniform(0.5, 1.5)
    f = np.full(n, f_motor * 0.6)
    gate = np.zeros(n)
    n_on = int(rng.integers(1, 4))
    durations = rng.uniform(0.4, 2.5, n_on)
    gaps = rng.uniform(0.1, 0.6, n_on)
    for start, m in schedule(n, sr, durations, gaps, rng):
        t = time_axis(m, sr)
        # The motor spins up over a fraction of a second when the trigger is pulled.
        rise = rng.uniform(0.1, 0.4)
        f[start : start + m] = f_motor * rng.uniform(0.95, 1.05) * (1.0 - rise * np.exp(-t / rng.uniform(0.03, 0.3)))
        gate[start : start + m] = rng.uniform(0.6, 1.0)
    gate = moving_average(gate, max(1, int(0.02 * sr)))
    # Load on the bit slows the motor and adds jitter.
    f *= 1.0 + smooth_mix(n, sr, rng, [(0.01, 3.0), (0.003, 40.0)])
    tone = unit_rms(harmonic_stack(f, sr, list(amps), rng.uniform(0, 2 * np.pi)))
    grind_fc = f_motor * rng.uniform(0.8, 3.0)
    grind = unit_rms(butter(rng.standard_normal(n), "bandpass", (grind_fc * 0.6, grind_fc * 1.6), sr))
    load = 1.0 + 0.4 * smooth_random(n, sr, rng.uniform(2, 10), rng)
    gear = unit_rms(butter(rng.standard_normal(n), "lowpass", rng.uniform(150, 600), sr))
    x = tone + rng.uniform(0.1, 0.9) * grind * np.abs(load) + rng.uniform(0.0, 0.4) * gear
    return x * gate


def engine_idling(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    fire = rng.uniform(15.0, 45.0)
    rate = fire * (1.0 + smooth_mix(n, sr, rng, [(0.02, rng.uniform(0.3, 2.0)), (0.004, 10.0)]))
    cycles = np.cumsum(rate) / sr + rng.random()
    idx = np.nonzero(np.diff(np.floor(cycles), prepend=np.floor(cycles[:1])))[0] if n else np.zeros(0, int)
    # Cylinders are never perfectly balanced: a repeating pattern of pulse strengths.
    pattern = rng.uniform(0.6, 1.0, int(rng.integers(2, 9)))
    train = np.zeros(n)
    train[idx] = pattern[np.arange(idx.size) % pattern.size] * rng.uniform(0.9, 1.1, idx.size)
    km = int(rng.uniform(0.01, 0.04) * sr)
    kt = time_axis(km, sr)
    res = rng.uniform(60.0, 300.0)
    kern = rng.standard_normal(km) * np.exp(-kt / rng.uniform(0.002, 0.01)) + 2.0 * np.sin(
        2 * np.pi * res * kt
    ) * np.exp(-kt / rng.uniform(0.004, 0.015))
    kern = butter(kern, "lowpass", rng.uniform(300.0, 2000.0), sr, order=4)
    pulses = unit_rms(signal.fftconvolve(train, kern)[:n] + 1e-12)
    hum_amps = list(rng.uniform(0.2, 1.0, 6) / np.arange(1, 7))
    hum = unit_rms(harmonic_stack(rate * 0.5, sr, hum_amps, rng.uniform(0, 2 * np.pi)))
    rumble = unit_rms(butter(coloured_noise(n, rng, 1.0), "lowpass", rng.uniform(150.0, 800.0), sr))
    x = pulses + rng.uniform(0.1, 0.8) * hum + rng.uniform(0.2, 1.0) * rumble
    if rng.random() < 0.4:  # valve/injector ticking
        tick = butter(rng.standard_normal(n), "bandpass", (2000.0, 6000.0), sr) * np.abs(pulses)
        x += rng.uniform(0.05, 0.3) * unit_rms(tick)
    return x


def jackhammer(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    rate = rng.uniform(10.0, 25.0)
    train = np.zeros(n)
    gate = np.zeros(n)
    n_bursts = int(rng.integers(1, 4))
    durations = rng.uniform(0.3, 2.0, n_bursts)
    gaps = rng.uniform(0.1, 0.6, n_bursts)
    for start, m in schedule(n, sr, durations, gaps, rng):
        period = sr / (rate * rng.uniform(0.95, 1.05))
        hits = start + np.arange(0, m, period) + rng.normal(0, 0.03 * period, int(np.ceil(m / period)))
        hits = hits[(hits >= 0) & (hits < n)].astype(int)
        train[hits] = rng.uniform(0.6, 1.0, hits.size)
        gate[start : start + m] = 1.0
    km = int(0.05 * sr)
    kt = time_axis(km, sr)
    fc = rng.uniform(500.0, 3000.0)
    kern = butter(rng.standard_normal(km), "bandpass", (fc * 0.5, fc * 2.0), sr) * np.exp(
        -kt / rng.uniform(0.003, 0.015)
    )
    for _ in range(int(rng.integers(1, 4))):  # metallic ringing of the chisel
        kern += (
            rng.uniform(0.1, 0.6)
            * np.sin(2 * np.pi * rng.uniform(1000.0, 4500.0) * kt)
            * np.exp(-kt / rng.uniform(0.005, 0.03))
        )
    hammer = unit_rms(signal.fftconvolve(train, kern)[:n] + 1e-12)
    hiss = unit_rms(butter(rng.standard_normal(n), "highpass", rng.uniform(2000.0, 5000.0), sr))
    gate = moving_average(gate, max(1, int(0.03 * sr)))
    compressor = unit_rms(butter(coloured_noise(n, rng, 1.0), "lowpass", rng.uniform(150.0, 600.0), sr))
    return hammer + rng.uniform(0.05, 0.4) * hiss * gate + rng.uniform(0.0, 0.3) * compressor
