"""The library's labels and their sounds: one foreground or background clip (``render_foreground``)."""

from __future__ import annotations

import numpy as np

from tasks.procedural import urban_sounds
from tasks.procedural.sound_library import street_life, vehicles
from tasks.procedural.sound_library.dsp import filt
from tasks.procedural.urban_sounds.dsp import SignalModel

__all__ = ["BACKGROUND_LABELS", "DESCRIPTIONS", "FOREGROUND_LABELS", "render_background", "render_foreground"]

FOREGROUND_LABELS: tuple[str, ...] = (
    "bicycle",
    "bus",
    "car",
    "motorcycle",
    "person",
    "traffic light",
    "train",
    "truck",
)

# background label -> urban-sound background model
BACKGROUND_KINDS: dict[str, str] = {
    "road": "street_traffic",  # traffic ambience
    "vegetation": "park",  # wind in leaves, birds, distant talkers
    "person": "crowd",  # pedestrian-zone babble
}
BACKGROUND_LABELS: tuple[str, ...] = tuple(BACKGROUND_KINDS)


_FOREGROUND_MODELS: dict[str, SignalModel] = {
    "bicycle": street_life.bicycle,
    "bus": vehicles.bus,
    "car": vehicles.car,
    "motorcycle": vehicles.motorcycle,
    "person": street_life.person,
    "traffic light": street_life.traffic_light,
    "train": vehicles.train,
    "truck": vehicles.truck,
}


DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("foreground", "bicycle"): "bell rings (inharmonic, beating partials), freewheel ticks, tyre hiss",
    ("foreground", "bus"): "low engine (22-38 Hz firing, sometimes pulling away), air-brake/door hiss",
    ("foreground", "car"): "idling engine or Doppler pass-by with tyre roar (urban_synth engine_idling), horn"
    " sometimes",
    ("foreground", "motorcycle"): "higher-rpm engine with throttle blips, often passing by",
    ("foreground", "person"): "footsteps with talking adults, or children playing (urban_synth)",
    ("foreground", "traffic light"): "pedestrian-crossing locator beeps or ticks, often switching to the fast"
    " walk rate",
    ("foreground", "train"): "rail-joint clacks and rumble, flange squeal sometimes, horn chord",
    ("foreground", "truck"): "low diesel with knock, reverse beeper or air-brake release",
    ("background", "road"): "street traffic ambience (urban_synth street_traffic)",
    ("background", "vegetation"): "park ambience: wind, birds, distant talkers (urban_synth park)",
    ("background", "person"): "crowd babble of a pedestrian zone (urban_synth crowd)",
}


def render_foreground(label: str, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(round(duration * sr))
    x = np.nan_to_num(np.asarray(_FOREGROUND_MODELS[label](n, sr, rng), dtype=np.float64)[:n])
    x = filt(x, "highpass", 25.0, sr, order=4)  # no DC or subsonic rumble: inaudible, but it inflates peaks
    peak = float(np.max(np.abs(x))) if n else 0.0
    if peak > 0:
        x *= urban_sounds.EVENT_PEAK / peak
    return x.astype(np.float32)


def render_background(label: str, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    return urban_sounds.synthesize_background(BACKGROUND_KINDS[label], duration, sr, rng)
