"""Street life: bicycles (bells, freewheels), people (footsteps, talk, children) and crossing signals."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural import urban_sounds
from tasks.procedural.sound_library.dsp import (
    decay_kernel,
    filt,
    impacts,
    on_off_gate,
    smooth_gate,
    smooth_noise,
    time_axis,
    unit_rms,
)


def _voice(n: int, sr: int, rng: np.random.Generator, f0_range: tuple[float, float]) -> np.ndarray:
    """Talking adult: glottal pulses with a wandering pitch through vowel formants, syllable-gated."""
    f0 = rng.uniform(*f0_range) * 2.0 ** (
        (rng.uniform(1.0, 3.0) * smooth_noise(n, sr, rng.uniform(2.0, 5.0), rng)) / 12.0
    )
    cycles = np.cumsum(f0) / sr + rng.random()
    frac = cycles - np.floor(cycles)
    oq = rng.uniform(0.45, 0.7)
    flow = np.where(frac < oq, np.sin(np.pi * frac / oq) ** 2, 0.0)
    exc = np.diff(flow, prepend=0.0) + rng.uniform(0.002, 0.02) * rng.standard_normal(n)
    vowels = []
    for _ in range(3):  # three vowels, cross-faded by smooth random weights
        y = exc
        formants = ((rng.uniform(300, 900), 90.0), (rng.uniform(900, 2400), 120.0), (rng.uniform(2400, 3400), 180.0))
        for fc, bw in formants:
            r = np.exp(-np.pi * bw / sr)
            y = signal.lfilter([1.0 - r], [1.0, -2.0 * r * np.cos(2 * np.pi * fc / sr), r * r], y)
        vowels.append(unit_rms(y))
    w = np.exp(2.0 * np.stack([smooth_noise(n, sr, rng.uniform(3.0, 7.0), rng) for _ in vowels]))
    y = np.sum(np.stack(vowels) * w, 0) / np.sum(w, 0)
    syllables = smooth_gate(on_off_gate(n, sr, rng, (0.08, 0.3), (0.03, 0.25), start_on=True), sr, 0.02)
    phrases = smooth_gate(on_off_gate(n, sr, rng, (1.0, 3.5), (0.2, 1.0), start_on=True), sr, 0.05)
    return y * syllables * phrases


def bicycle(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    dur = n / sr
    # Freewheel: the pawls tick 8-25 times a second while coasting, silent while pedalling.
    coast = on_off_gate(n, sr, rng, (0.6, 2.5), (0.3, 1.5), start_on=bool(rng.random() < 0.7))
    rate = rng.uniform(8.0, 25.0) * (1.0 + 0.1 * smooth_noise(n, sr, 0.5, rng))
    ticks_at = np.nonzero(np.diff(np.floor(np.cumsum(rate) / sr)) > 0)[0] / sr
    ticks_at = ticks_at[coast[(ticks_at * sr).astype(np.int64)] > 0]
    tick = decay_kernel(sr, rng, 0.006, 0.0012, (2500.0, 9000.0))
    chain = unit_rms(impacts(n, ticks_at, rng.uniform(0.6, 1.0, ticks_at.size), tick, sr))
    hiss = unit_rms(filt(rng.standard_normal(n), "bandpass", (300.0, rng.uniform(2000, 5000)), sr))
    x = rng.uniform(0.3, 0.8) * chain + rng.uniform(0.05, 0.2) * hiss
    # Bell: inharmonic partials with beating pairs, rung 1-3 times, each ring 1-3 fast strikes.
    f0 = rng.uniform(1800.0, 3400.0)
    ratios = np.array([1.0, rng.uniform(1.9, 2.3), rng.uniform(2.7, 3.1), rng.uniform(3.7, 4.3)])
    ratios = ratios[ratios * f0 < 0.45 * sr]
    m = int(min(1.5, dur) * sr)
    tb = time_axis(m, sr)
    taus = rng.uniform(0.25, 0.8) / ratios**0.7
    partials = np.sin(2 * np.pi * np.outer(ratios * f0, tb)) + np.sin(
        2 * np.pi * np.outer(ratios * f0 * (1.0 + rng.uniform(0.001, 0.004)), tb)
    )
    ring = np.sum(partials * (rng.uniform(0.3, 1.0, ratios.size)[:, None] * np.exp(-tb[None, :] / taus[:, None])), 0)
    strikes = []
    for ring_t in rng.uniform(0.0, max(dur - 0.5, 0.01), int(rng.integers(1, 4))):
        strikes += [ring_t + j * rng.uniform(0.09, 0.18) for j in range(int(rng.integers(1, 4)))]
    bell = impacts(n, np.array(strikes), rng.uniform(0.7, 1.0, len(strikes)), ring, sr)
    return x + rng.uniform(1.5, 4.0) * float(np.sqrt(np.mean(x**2))) * unit_rms(bell)


def person(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    dur = n / sr
    # Footsteps: heel and toe impacts at a walking pace, slightly irregular.
    pace = rng.uniform(1.5, 2.2)
    steps = np.cumsum(rng.normal(1.0 / pace, 0.03 / pace, int(dur * pace) + 3)) - rng.uniform(0, 1.0 / pace)
    heel_toe = rng.uniform(0.02, 0.06)
    times = np.concatenate([steps, steps + heel_toe])
    gains = np.concatenate([rng.uniform(0.7, 1.0, steps.size), rng.uniform(0.2, 0.5, steps.size)])
    hard = rng.random() < 0.5  # hard soles click, trainers thud
    band = (rng.uniform(800, 1500), rng.uniform(5000, 9000)) if hard else (rng.uniform(80, 200), rng.uniform(800, 2000))
    kern = decay_kernel(sr, rng, 0.08, rng.uniform(0.008, 0.03), band)
    x = rng.uniform(0.3, 1.0) * unit_rms(impacts(n, times, gains, kern, sr))
    choice = rng.random()
    if choice < 0.65:  # one or two adults talking
        talk = sum(_voice(n, sr, rng, (85.0, 240.0)) * rng.uniform(0.5, 1.0) for _ in range(int(rng.integers(1, 3))))
        x = x + rng.uniform(0.8, 2.0) * unit_rms(talk)
    elif choice < 0.85:  # children at play
        kids = urban_sounds.synthesize_event("children_playing", dur, sr, rng).astype(np.float64)
        x = x + rng.uniform(0.8, 2.0) * unit_rms(kids)
    return x


def traffic_light(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Pedestrian crossing signal: slow locator beeps/ticks, often switching to the fast 'walk' rate."""
    t = time_axis(n, sr)
    dur = n / sr
    slow = rng.uniform(0.6, 1.3)  # seconds between locator beeps
    fast = rng.uniform(0.1, 0.25)  # seconds between 'walk' beeps
    switch = rng.uniform(0.2, 0.7) * dur if rng.random() < 0.7 else dur
    times = np.concatenate([np.arange(rng.uniform(0, 0.3), switch, slow), np.arange(switch, dur, fast)])
    if rng.random() < 0.55:  # electronic beep
        f = rng.uniform(700.0, 3000.0)
        m = int(rng.uniform(0.03, 0.12) * sr)
        tm = time_axis(m, sr)
        k = np.arange(1, 6)
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0) * rng.uniform(0.0, 1.0) + (k == 1)  # sine to square-ish
        amps = amps * (k * f < 0.45 * sr)
        beep = np.sum(amps[:, None] * np.sin(2 * np.pi * np.outer(k * f, tm)), 0)
        beep *= np.minimum(1.0, np.minimum(tm, tm[::-1]) / 0.004)
    else:  # mechanical 'tok' ticker
        band = (rng.uniform(600, 1500), rng.uniform(2500, 5000))
        beep = decay_kernel(sr, rng, 0.05, rng.uniform(0.004, 0.012), band)
        beep += (
            0.5
            * np.max(np.abs(beep))
            * np.sin(2 * np.pi * rng.uniform(800, 2000) * time_axis(beep.size, sr))
            * np.exp(-time_axis(beep.size, sr) / 0.01)
        )
    x = impacts(n, times, np.ones(times.size), beep, sr)
    return x + 1e-4 * np.max(np.abs(x)) * np.sin(2 * np.pi * 50.0 * t)  # faint mains hum of the unit
