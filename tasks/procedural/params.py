"""Parameters of the procedural datasets: ``data.urban_synth``, ``data.street_scenes``, ``data.sound_library``.

The bounds are the generators' own: every value these models accept, the generators
(:func:`tasks.procedural.urban_sounds.generate_dataset`, :func:`tasks.procedural.street_scenes.
generate_street_scenes`, :func:`tasks.procedural.sound_library.build_sound_library`) accept too, so a value
that passes ``soundflow params`` cannot fail inside a generator. The pipeline asks for a little more than a
generator called directly: at least two folds (one is held out), a training and a validation image.
``tests/soundflow/pipeline/test_params_bounds.py`` calls each generator at these bounds.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from soundflow.params_base import (
    MAX_CLIP_SECONDS,
    MAX_CLIPS_PER_CLASS,
    MAX_IMAGE_SIDE,
    SampleRate,
    Seed,
    Strict,
    ordered,
)

MAX_FOLDS = 10  # UrbanSound8K's folds; the AED holds out whole folds
MAX_IMAGES_PER_SPLIT = 100_000  # Cityscapes has 2975 training images
MIN_SCENE_SIDE = 32  # pixels: the scene model's smallest buildings, poles and signs need this much to be drawn
MIN_LIBRARY_EVENT_SECONDS = 0.5  # Scaper's loudness measure (LUFS) needs at least this much of a library sound
MIN_BACKGROUND_SECONDS = 1.0  # one library background: the ambience models need a second

ClipSeconds = Annotated[float, Field(gt=0, le=MAX_CLIP_SECONDS)]
SceneSide = Annotated[int, Field(ge=MIN_SCENE_SIDE, le=MAX_IMAGE_SIDE)]
LibraryEventSeconds = Annotated[float, Field(ge=MIN_LIBRARY_EVENT_SECONDS, le=MAX_CLIP_SECONDS)]


class UrbanSynthParams(Strict):
    """Procedural urban-sound dataset (the offline default data)."""

    clips_per_class: int = Field(ge=1, le=MAX_CLIPS_PER_CLASS)
    n_folds: int = Field(ge=2, le=MAX_FOLDS)
    sample_rate: SampleRate
    duration: tuple[ClipSeconds, ClipSeconds]
    snr_db: tuple[float, float]
    seed: Seed = 0

    _snr_ordered = field_validator("snr_db")(ordered)

    @field_validator("duration")
    @classmethod
    def _at_least_one_sample(cls, v: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        ordered(v)
        rate = info.data.get("sample_rate")  # absent when the rate itself was refused
        if rate is not None and v[0] * rate < 1:
            raise ValueError(f"the shortest clip ({v[0]:g} s) is shorter than one sample at {rate} Hz")
        return v


class StreetScenesParams(Strict):
    """Procedural street scenes in the Cityscapes layout (the offline default for segmentation)."""

    n_train: int = Field(ge=1, le=MAX_IMAGES_PER_SPLIT)
    n_val: int = Field(ge=1, le=MAX_IMAGES_PER_SPLIT)
    n_test: int = Field(ge=0, le=MAX_IMAGES_PER_SPLIT)
    height: SceneSide
    width: SceneSide
    seed: Seed


class SoundLibraryParams(Strict):
    """Scaper sound library made from procedural sounds (foreground events, background ambiences)."""

    clips_per_label: int = Field(ge=1, le=MAX_CLIPS_PER_CLASS)
    sample_rate: SampleRate
    event_duration: tuple[LibraryEventSeconds, LibraryEventSeconds]
    background_duration: float = Field(ge=MIN_BACKGROUND_SECONDS, le=MAX_CLIP_SECONDS)
    seed: Seed

    _event_duration = field_validator("event_duration")(ordered)
