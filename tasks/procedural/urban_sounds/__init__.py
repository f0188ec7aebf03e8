"""Procedural urban sounds: the ten UrbanSound8K classes, street backgrounds, and a dataset in UrbanSound8K's layout.

Every clip is synthesised from a seeded signal model of one of UrbanSound8K's ten classes, mixed over a
street-ambience background at a random SNR and passed through a random "recording chain" (distance,
reverb, microphone band-limits). The models have wide parameter ranges that overlap between acoustically
related classes, so a classifier can learn them but not trivially: at 0 dB an air conditioner under
traffic rumble really is hard to tell from an idling engine.

The dataset is the pipeline's offline default audio (stage ``urban_synth``); the backgrounds are reused
as Scaper backgrounds by :mod:`tasks.procedural.sound_library`.

Modules, from the bottom up: ``dsp`` (noise, filters, harmonic stacks, envelopes); the event models
``machines``, ``alerts``, ``voices`` and ``music``; ``events`` (the class list, ``synthesize_event``);
``backgrounds`` (``synthesize_background``); ``clips`` (event over background: ``render_clip``);
``writer`` (``generate_dataset``).
"""

from tasks.procedural.urban_sounds.backgrounds import BACKGROUND_RMS, BACKGROUNDS, synthesize_background
from tasks.procedural.urban_sounds.clips import MAX_PEAK, render_clip
from tasks.procedural.urban_sounds.events import CLASSES, EVENT_PEAK, GENERATOR_VERSION, synthesize_event
from tasks.procedural.urban_sounds.writer import METADATA_COLUMNS, generate_dataset

__all__ = [
    "BACKGROUNDS",
    "BACKGROUND_RMS",
    "CLASSES",
    "EVENT_PEAK",
    "GENERATOR_VERSION",
    "MAX_PEAK",
    "METADATA_COLUMNS",
    "generate_dataset",
    "render_clip",
    "synthesize_background",
    "synthesize_event",
]
