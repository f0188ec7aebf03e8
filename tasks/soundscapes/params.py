"""Parameters of image -> soundscape synthesis (workflow 1, second half): the ``soundscapes`` section.

The sound library it draws from by default is procedural (``data.sound_library``, :mod:`tasks.procedural.params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, StrictBool, field_validator
from pydantic.dataclasses import dataclass

from soundflow.params_base import STRICT, SampleRate, Seed, Strict, ordered

# Upper bounds, far above the method's values, so that a typo is refused before Scaper allocates it.
MAX_DURATION = 600.0  # seconds of one soundscape or event (defaults: 30 s soundscapes, 12-16 s events)
MAX_EVENTS = 1000  # foreground events per soundscape (default: 4-7)
MAX_SOUNDSCAPES_PER_IMAGE = 1000  # default: 3

EventSeconds = Annotated[float, Field(gt=0, le=MAX_DURATION)]
EventCount = Annotated[int, Field(ge=0, le=MAX_EVENTS)]
StandardDeviation = Annotated[float, Field(ge=0)]
StretchFactor = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


# A (pydantic) dataclass rather than a model: callers vary it with dataclasses.replace, which validates again
@dataclass(config=STRICT)
class SoundscapeParams:
    """Soundscape parameters; every default is the method's value (docs/methods.md#scaper).

    Distributions are Scaper's: ``bg_source_time`` is (mean, sd) of a normal, ``event_time`` (mean,
    sd) of a normal truncated to [0, duration], the ``(lo, hi)`` pairs are uniform.
    """

    duration: float = Field(default=30.0, gt=0, le=MAX_DURATION)  # seconds per soundscape
    ref_db: float = -3.0  # background loudness (LUFS)
    bg_source_time: tuple[float, StandardDeviation] = (20.0, 8.0)  # normal(mean, sd), clipped to the background clip
    n_events: tuple[EventCount, EventCount] = (4, 7)  # uniform integer, inclusive
    event_time: tuple[float, StandardDeviation] = (20.0, 9.0)  # normal(mean, sd) truncated to [0, duration]
    source_time: float = Field(default=0.0, ge=0)  # seconds into the foreground clip
    event_duration: tuple[EventSeconds, EventSeconds] = (12.0, 16.0)  # uniform; capped by Scaper at the source length
    snr: tuple[float, float] = (3.0, 5.0)  # dB over the background, uniform
    pitch_shift: StrictBool = False
    pitch_shift_range: tuple[float, float] = (-0.2, 0.2)  # semitones, used when pitch_shift is on
    time_stretch: StrictBool = False
    time_stretch_range: tuple[StretchFactor, StretchFactor] = (0.5, 1.0)  # factor, used when time_stretch is on
    reverb: Fraction | None = 0.1  # Scaper reverb 0..1, None = off
    peak_normalization: StrictBool = True
    soundscapes_per_image: int = Field(default=3, ge=1, le=MAX_SOUNDSCAPES_PER_IMAGE)
    min_pixel_fraction: Fraction = 0.0  # a class is present if fraction > 0 and >= this
    sample_rate: SampleRate | None = None  # None = the library's sample rate
    seed: Seed = 0

    _ordered = field_validator("n_events", "event_duration", "snr", "pitch_shift_range", "time_stretch_range")(ordered)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SoundscapeParams:
        """Build from a config mapping (e.g. a params.yaml section); raises ValueError naming the field."""
        return cls(**values)


class SoundscapesParams(Strict):
    """Scaper soundscapes from segmentation output (workflow 1, second half)."""

    mapping: str  # class -> sound-library label file
    library: str  # Scaper layout: <library>/foreground/<label>/*.wav, <library>/background/<label>/*.wav
    synthesis: SoundscapeParams
