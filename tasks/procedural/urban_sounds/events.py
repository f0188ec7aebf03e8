"""The ten UrbanSound8K classes and their event models: ``synthesize_event``."""

from __future__ import annotations

import numpy as np

from tasks.datasets.urbansound8k import CLASSES
from tasks.procedural.urban_sounds import alerts, machines, music, voices
from tasks.procedural.urban_sounds.dsp import SignalModel, check_signal_args, n_samples

__all__ = ["CLASSES", "EVENT_MODELS", "EVENT_PEAK", "GENERATOR_VERSION", "synthesize_event"]


EVENT_PEAK = 0.9  # peak of a dry event from synthesize_event
# Bump when a signal model (event or background) changes, so datasets generated with the same seed are
# known to differ.
GENERATOR_VERSION = "1"


EVENT_MODELS: dict[str, SignalModel] = {
    "air_conditioner": machines.air_conditioner,
    "car_horn": alerts.car_horn,
    "children_playing": voices.children_playing,
    "dog_bark": voices.dog_bark,
    "drilling": machines.drilling,
    "engine_idling": machines.engine_idling,
    "gun_shot": alerts.gun_shot,
    "jackhammer": machines.jackhammer,
    "siren": alerts.siren,
    "street_music": music.street_music,
}


def event_samples(label: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    model = EVENT_MODELS.get(label)
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
    if label not in EVENT_MODELS:
        raise ValueError(f"unknown sound class {label!r}; expected one of {', '.join(CLASSES)}")
    check_signal_args(duration, sr)
    return event_samples(label, n_samples(duration, sr), int(sr), rng)
