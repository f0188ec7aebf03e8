"""Street-ambience backgrounds (traffic, park, crowd, rain): ``synthesize_background``.

They are reused as the Scaper backgrounds of the procedural sound library.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural.urban_sounds.dsp import (
    SignalModel,
    butter,
    check_signal_args,
    coloured_noise,
    n_samples,
    rms,
    smooth_random,
    time_axis,
    unit_rms,
)
from tasks.procedural.urban_sounds.voices import chirp_bird, voice

__all__ = ["BACKGROUNDS", "BACKGROUND_MODELS", "BACKGROUND_RMS", "synthesize_background"]

BACKGROUNDS: tuple[str, ...] = ("street_traffic", "park", "crowd", "rain")
BACKGROUND_RMS = 0.1  # RMS of a background from synthesize_background
_BACKGROUND_CREST = 6.0  # soft-limit backgrounds to this peak/RMS ratio


def _distant_babble(n: int, sr: int, rng: np.random.Generator, n_voices: int, cutoff: float) -> np.ndarray:
    """Adult voices heard from a distance (lowpassed at ``cutoff``).

    Distance removes their high end anyway, so they are synthesised at half rate and upsampled:
    background babble would otherwise cost more than the events themselves.
    """
    dec = 2 if sr >= 16000 else 1
    n_c = -(-n // dec)
    babble = np.zeros(n_c)
    for _ in range(n_voices):
        babble += rng.uniform(0.3, 1.0) * voice(n_c, sr // dec, rng, (90.0, 260.0), rng.uniform(0.75, 0.95), 0.2)
    babble = butter(babble, "lowpass", cutoff, sr // dec)
    if dec > 1:
        babble = signal.resample_poly(babble, dec, 1)[:n]
    return babble


def _street_traffic(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(n, sr)
    bed = unit_rms(butter(coloured_noise(n, rng, rng.uniform(1.0, 2.0)), "lowpass", rng.uniform(400, 2000), sr))
    # Passing vehicles: bell-shaped swells of rumble and tyre hiss.
    swell = np.zeros(n)
    dur = n / sr
    for _ in range(rng.poisson(rng.uniform(0.3, 1.5) * (dur + 4.0)) + 1):
        tc = rng.uniform(-2.0, dur + 2.0)
        w = rng.uniform(0.5, 2.5)
        swell += rng.uniform(0.3, 1.5) * np.exp(-0.5 * ((t - tc) / w) ** 2)
    rumble = unit_rms(butter(rng.standard_normal(n), "lowpass", rng.uniform(150, 800), sr, order=3))
    tyres = unit_rms(butter(rng.standard_normal(n), "bandpass", (700.0, rng.uniform(3000, 8000)), sr))
    return bed + rng.uniform(0.5, 2.0) * rumble * swell + rng.uniform(0.1, 0.6) * tyres * swell


def _park(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    wind = butter(coloured_noise(n, rng, rng.uniform(1.0, 2.0)), "lowpass", rng.uniform(300, 1500), sr)
    wind = unit_rms(wind) * (1.0 + 0.5 * np.tanh(smooth_random(n, sr, 0.5, rng)))
    x = wind + rng.uniform(0.1, 0.6) * unit_rms(butter(coloured_noise(n, rng, 1.0), "lowpass", 4000.0, sr))
    birds = chirp_bird(n, sr, rng, rng.uniform(0.3, 3.0))
    if np.any(birds):
        x += rng.uniform(0.1, 0.8) * unit_rms(birds)
    n_talkers = int(rng.integers(0, 3))
    if n_talkers:
        x += rng.uniform(0.05, 0.3) * unit_rms(_distant_babble(n, sr, rng, n_talkers, rng.uniform(500, 1500)))
    return x


def _crowd(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    babble = _distant_babble(n, sr, rng, int(rng.integers(4, 9)), rng.uniform(1500, 4000))
    swell = 1.0 + 0.3 * np.tanh(smooth_random(n, sr, 0.3, rng))
    noise = unit_rms(butter(coloured_noise(n, rng, 1.0), "lowpass", 2000.0, sr))
    return unit_rms(babble) * swell + rng.uniform(0.2, 0.6) * noise


def _rain(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    # Dense crackle: many tiny drop impacts with heavy-tailed sizes.
    drops = np.zeros(n)
    count = rng.poisson(rng.uniform(300.0, 2500.0) * n / sr)
    idx = rng.integers(0, max(n, 1), size=count)
    np.add.at(drops, idx, rng.pareto(5.0, size=count) + 0.3)
    km = max(2, int(0.003 * sr))
    kern = rng.standard_normal(km) * np.exp(-np.arange(km) / (0.0006 * sr))
    crackle = butter(signal.fftconvolve(drops, kern)[:n], "highpass", rng.uniform(800, 3000), sr)
    hiss = butter(rng.standard_normal(n), "highpass", rng.uniform(1000, 4000), sr)
    rumble = butter(coloured_noise(n, rng, 2.0), "lowpass", 300.0, sr)
    return unit_rms(crackle + 1e-12) + rng.uniform(0.2, 1.0) * unit_rms(hiss) + rng.uniform(0.1, 0.5) * unit_rms(rumble)


BACKGROUND_MODELS: dict[str, SignalModel] = {
    "street_traffic": _street_traffic,
    "park": _park,
    "crowd": _crowd,
    "rain": _rain,
}


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
    model = BACKGROUND_MODELS.get(kind)
    if model is None:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {', '.join(BACKGROUNDS)}")
    check_signal_args(duration, sr)
    n = n_samples(duration, sr)
    x = np.nan_to_num(model(n, int(sr), rng)[:n])
    # Soft-limit rare spikes (big raindrops, crackle) to a crest factor of ~6 so that the
    # RMS-normalised background stays well inside [-1, 1] when written to wav on its own.
    limit = _BACKGROUND_CREST * rms(x)
    x = limit * np.tanh(x / limit)
    return (x * (BACKGROUND_RMS / rms(x))).astype(np.float32)
