"""A labelled clip: an event placed over a background at a given SNR, through a random recording chain."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tasks.procedural.urban_sounds.backgrounds import BACKGROUND_MODELS, BACKGROUNDS, synthesize_background
from tasks.procedural.urban_sounds.dsp import (
    butter,
    butter_sos,
    check_signal_args,
    impulse_response,
    n_samples,
    quantise_hz,
)
from tasks.procedural.urban_sounds.events import CLASSES, EVENT_MODELS, event_samples

__all__ = ["MAX_PEAK", "render_clip", "render_components"]

MAX_PEAK = 0.99  # ceiling of a rendered clip, so 16-bit files never clip


def _recording_chain(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Random microphone/recorder response as second-order sections (applied to event and background alike)."""
    sections = [butter_sos("highpass", (quantise_hz(rng.uniform(20.0, 150.0)),), float(sr), 2)]
    if rng.random() < 0.5:  # cheap recorders and lossy uploads cut the top end
        cut = min(quantise_hz(rng.uniform(4000.0, 11000.0)), 0.45 * sr)
        sections.append(butter_sos("lowpass", (cut,), float(sr), 2))
    return np.concatenate(sections)


def render_components(
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
    _check_clip_args(label, duration, sr, snr_db, background)
    sr = int(sr)
    n = n_samples(duration, sr)
    if n == 0:
        empty = np.zeros(0, np.float32)
        return empty, empty, 0, 0
    ev_rng, bg_rng, mix_rng = rng.spawn(3)
    event, start, end = _place_event(label, n, sr, ev_rng, mix_rng)

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


def _check_clip_args(label: str, duration: float, sr: int, snr_db: float, background: str | None) -> None:
    if label not in EVENT_MODELS:
        raise ValueError(f"unknown sound class {label!r}; expected one of {', '.join(CLASSES)}")
    if background is not None and background not in BACKGROUND_MODELS:
        raise ValueError(f"unknown background kind {background!r}; expected one of {', '.join(BACKGROUNDS)}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    check_signal_args(duration, sr)


def _place_event(
    label: str, n: int, sr: int, ev_rng: np.random.Generator, mix_rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """The dry event on an ``n``-sample track, heard from a distance: (track, start, end)."""
    # Like real recordings, the event often covers only part of the clip.
    frac = 1.0 if mix_rng.random() < 0.4 else mix_rng.uniform(0.3, 1.0)
    ev_n = min(n, max(int(round(frac * n)), int(0.3 * sr)))
    start = int(mix_rng.integers(0, n - ev_n + 1))
    end = start + ev_n
    event = np.zeros(n)
    event[start:end] = event_samples(label, ev_n, sr, ev_rng)

    # Source distance and surroundings: air absorption and a reverberant tail.
    if mix_rng.random() < 0.5:
        event = butter(event, "lowpass", mix_rng.uniform(2500.0, 9000.0), sr, order=1)
    if mix_rng.random() < 0.5:
        h = impulse_response(sr, mix_rng, mix_rng.uniform(0.2, 1.0), early=int(mix_rng.integers(0, 3)))
        h[1:] *= mix_rng.uniform(0.05, 0.35)
        event = signal.fftconvolve(event, h)[:n]
    return event, start, end


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
    event, bg, _, _ = render_components(label, duration, sr, snr_db, rng, background)
    return event + bg
