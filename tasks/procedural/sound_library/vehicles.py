"""Vehicles: car, bus, motorcycle and truck engines (often passing by, with Doppler), and trains."""

from __future__ import annotations

import numpy as np

from tasks.procedural import urban_sounds
from tasks.procedural.sound_library.dsp import (
    decay_kernel,
    filt,
    harmonics,
    impacts,
    on_off_gate,
    smooth_gate,
    smooth_noise,
    time_axis,
    unit_rms,
)


def _engine(
    n: int,
    sr: int,
    rng: np.random.Generator,
    fire_hz: np.ndarray,
    n_harm: int,
    tilt: float,
    knock: float,
    cutoff: float,
) -> np.ndarray:
    """Combustion engine: a harmonic stack on the firing frequency (half-orders included) plus
    combustion noise pulsed at the firing rate ("knock", stronger for diesels) and rumble."""
    half = fire_hz / 2.0  # four-stroke: the crank's half order carries the cylinder imbalance
    k = np.arange(1, 2 * n_harm + 1)
    amps = rng.uniform(0.3, 1.0, k.size) / k**tilt
    amps[1::2] *= 1.6  # whole orders dominate
    tone = unit_rms(harmonics(half, sr, amps, rng))
    cycles = np.cumsum(fire_hz) / sr
    pulse = np.exp(-((cycles - np.floor(cycles)) / rng.uniform(0.08, 0.25)))
    noise = filt(rng.standard_normal(n), "bandpass", (rng.uniform(400, 1200), rng.uniform(2500, 6000)), sr)
    combustion = unit_rms(noise * pulse)
    rumble = unit_rms(filt(np.cumsum(rng.standard_normal(n)) * 0.01, "bandpass", (25.0, rng.uniform(150, 400)), sr))
    x = tone + knock * combustion + rng.uniform(0.3, 0.8) * rumble
    return filt(x, "lowpass", cutoff, sr)


def _pass_by(x: np.ndarray, sr: int, rng: np.random.Generator, margin: int) -> np.ndarray:
    """Doppler shift and distance attenuation of a source passing the listener.

    ``x`` must hold ``margin`` samples more than the output (the propagation delay is read from them).
    """
    n = x.size - margin
    t = time_axis(n, sr)
    v = rng.uniform(6.0, 20.0)  # m/s
    d = rng.uniform(3.0, 15.0)  # closest distance, m
    tc = rng.uniform(0.25, 0.75) * n / sr
    r = np.sqrt(d**2 + (v * (t - tc)) ** 2)
    emit = t + margin / sr - r / 343.0  # emission time for a listener at rest
    y = np.interp(emit * sr, np.arange(x.size), x)
    return y * (d / r)


def car(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    margin = int(0.6 * sr)
    if rng.random() < 0.4:  # idling at the kerb
        x = urban_sounds.synthesize_event("engine_idling", n / sr, sr, rng).astype(np.float64)
    else:  # driving past: engine plus tyre roar, Doppler-shifted
        m = n + margin
        engine = urban_sounds.synthesize_event("engine_idling", m / sr, sr, rng).astype(np.float64)
        tyres = filt(rng.standard_normal(m), "bandpass", (rng.uniform(300, 700), rng.uniform(2000, 5000)), sr)
        src = unit_rms(engine) + rng.uniform(0.3, 1.2) * unit_rms(tyres)
        x = _pass_by(src, sr, rng, margin)
    if rng.random() < 0.35:  # an impatient driver
        m = int(rng.uniform(0.4, 1.6) * sr)
        if m < n:
            horn = urban_sounds.synthesize_event("car_horn", m / sr, sr, rng).astype(np.float64)
            start = int(rng.integers(0, n - m + 1))
            x[start : start + m] += rng.uniform(0.8, 2.0) * float(np.sqrt(np.mean(x**2))) * unit_rms(horn)
    return x


def bus(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    fire = rng.uniform(22.0, 38.0) * (1.0 + 0.05 * smooth_noise(n, sr, 0.3, rng))
    if rng.random() < 0.5:  # pulling away: revs rise through a gear
        ramp = np.clip((time_axis(n, sr) - rng.uniform(0.0, 0.5) * n / sr) / rng.uniform(1.0, 3.0), 0.0, 1.0)
        fire = fire * (1.0 + rng.uniform(0.3, 0.8) * ramp)
    x = unit_rms(_engine(n, sr, rng, fire, 14, rng.uniform(0.8, 1.3), rng.uniform(0.2, 0.6), rng.uniform(700, 1500)))
    # Air brakes / doors: bursts of bright hiss with a sharp attack and a long decay.
    for start in rng.uniform(0.0, 0.8 * n / sr, int(rng.integers(1, 3))):
        m = int(min(rng.uniform(0.4, 1.5), n / sr - start) * sr)
        if m <= 0:
            continue
        tm = time_axis(m, sr)
        env = (1.0 - np.exp(-tm / 0.01)) * np.exp(-tm / rng.uniform(0.15, 0.6))
        hiss = filt(rng.standard_normal(m), "bandpass", (rng.uniform(1500, 3000), rng.uniform(6000, 10000)), sr)
        s0 = int(start * sr)
        x[s0 : s0 + m] += rng.uniform(1.5, 4.0) * unit_rms(hiss) * env
    return x


def motorcycle(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    margin = int(0.6 * sr)
    m = n + margin
    # Throttle blips: the rpm jumps up and falls back.
    throttle = smooth_gate(on_off_gate(m, sr, rng, (0.3, 1.5), (0.4, 2.0), start_on=bool(rng.random() < 0.5)), sr, 0.15)
    jitter = 1.0 + 0.02 * smooth_noise(m, sr, 4.0, rng)
    fire = rng.uniform(35.0, 70.0) * (1.0 + rng.uniform(0.8, 2.0) * throttle) * jitter
    x = _engine(m, sr, rng, fire, 16, rng.uniform(0.5, 0.9), rng.uniform(0.4, 1.0), rng.uniform(2500, 6000))
    x = unit_rms(x) * (0.6 + 0.6 * throttle)
    if rng.random() < 0.6:
        return _pass_by(x, sr, rng, margin)
    return x[:n]


def truck(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    fire = rng.uniform(16.0, 30.0) * (1.0 + 0.04 * smooth_noise(n, sr, 0.4, rng))
    x = unit_rms(_engine(n, sr, rng, fire, 12, rng.uniform(0.9, 1.4), rng.uniform(0.6, 1.4), rng.uniform(600, 1800)))
    if rng.random() < 0.5:  # reversing: the beeper, about one beep per second
        f = rng.uniform(950.0, 1300.0)
        period = rng.uniform(0.8, 1.2)
        on = rng.uniform(0.35, 0.55) * period
        t = time_axis(n, sr)
        gate = smooth_gate(((t + rng.uniform(0, period)) % period < on).astype(float), sr, 0.005)
        beeper = harmonics(np.full(n, f), sr, np.array([1.0, 0.0, 0.25, 0.0, 0.1]), rng) * gate
        x += rng.uniform(0.6, 1.5) * unit_rms(beeper)
    elif rng.random() < 0.5:  # air-brake release
        m = int(min(rng.uniform(0.5, 1.2), n / sr) * sr)
        tm = time_axis(m, sr)
        s0 = int(rng.integers(0, n - m + 1))
        hiss = filt(rng.standard_normal(m), "bandpass", (2000.0, 9000.0), sr)
        x[s0 : s0 + m] += rng.uniform(1.0, 3.0) * unit_rms(hiss) * (1 - np.exp(-tm / 0.01)) * np.exp(-tm / 0.4)
    return x


def train(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    dur = n / sr
    speed = rng.uniform(8.0, 30.0)  # m/s
    coach = rng.uniform(18.0, 26.0)  # metres per coach
    # Wheels over a rail joint: two bogies of two axles per coach, "ta-dum ... ta-dum".
    axle, bogie = 2.5 / speed, (coach - 5.0) / speed
    coaches = np.arange(-1.0, dur / (coach / speed) + 1.0) * (coach / speed) + rng.uniform(0, coach / speed)
    offsets = np.array([0.0, axle, bogie, bogie + axle])
    times = (coaches[:, None] + offsets[None, :]).ravel()
    clack = decay_kernel(sr, rng, 0.12, rng.uniform(0.01, 0.03), (rng.uniform(60, 200), rng.uniform(1500, 4000)))
    clacks = unit_rms(impacts(n, times, rng.uniform(0.6, 1.0, times.size), clack, sr))
    rumble = unit_rms(filt(np.cumsum(rng.standard_normal(n)) * 0.01, "bandpass", (20.0, rng.uniform(150, 400)), sr))
    swell = 1.0 + 0.3 * np.tanh(smooth_noise(n, sr, 0.3, rng))
    x = (rumble * rng.uniform(0.8, 1.5) + clacks * rng.uniform(0.4, 1.0)) * swell
    if rng.random() < 0.3:  # flange squeal on a curve
        squeal = harmonics(
            np.full(n, rng.uniform(1500, 4000)) * (1 + 0.01 * smooth_noise(n, sr, 2.0, rng)),
            sr,
            np.array([1.0, 0.3]),
            rng,
        )
        x += rng.uniform(0.1, 0.4) * unit_rms(squeal) * np.clip(smooth_noise(n, sr, 0.5, rng), 0.0, None)
    if rng.random() < 0.7:  # horn: a two- or three-note chord, one or two blasts
        base = rng.uniform(220.0, 380.0)
        chord = np.array([1.0, 2 ** (rng.choice([3, 4]) / 12), 2 ** (7 / 12)])[: int(rng.integers(2, 4))]
        k = np.arange(1, 9)
        amps = rng.uniform(0.4, 1.0, k.size) / k**0.8
        for start in np.sort(rng.uniform(0.0, max(dur - 1.0, 0.01), int(rng.integers(1, 3)))):
            m = int(min(rng.uniform(0.6, 2.5), dur - start) * sr)
            if m <= 16:
                continue
            tm = time_axis(m, sr)
            vibrato = 1 + 0.002 * np.sin(2 * np.pi * 5 * tm)
            blast = sum(harmonics(base * c * vibrato, sr, amps, rng) for c in chord)
            env = np.minimum(1.0, np.minimum(tm / 0.06, (tm[::-1]) / 0.12))
            s0 = int(start * sr)
            x[s0 : s0 + m] += rng.uniform(1.5, 3.0) * unit_rms(blast) * env
    return x
