"""Procedural Scaper sound library for image-driven soundscapes.

The original project drew its soundscapes from a library of recorded clips labelled bicycle, bus, car,
motorcycle, person, road, traffic light, train, truck and vegetation
(:data:`tasks.datasets.sound_library.LIBRARY_LABELS`). ``build_sound_library`` builds a library with the same
labels in Scaper's layout::

    <library>/foreground/<label>/<label>_<k>.wav     short sound events (bicycle bells, engines, ...)
    <library>/background/<label>/<label>_<k>.wav     long ambiences (street traffic, park, crowd)
    <library>/README.md                              labels, counts, parameters, licence (CC0)

without any recorded audio: backgrounds and some events come from the urban-sound models
(:mod:`tasks.procedural.urban_sounds`), the other events from small signal models (engines, bells, beeps,
footsteps, ...). Label folders are named exactly like the labels (``traffic light`` has a space), because
Scaper takes labels from folder names.

Clip ``k`` of a label is rendered from ``numpy.random.default_rng([seed, role_id, label_id, k])``, so a
clip does not depend on how many clips are generated; the same arguments reproduce the library byte for
byte.

Modules: ``dsp`` (filters, gates, impact trains); the models ``vehicles`` and ``street_life``; ``clips``
(labels -> one clip); ``writer`` (``build_sound_library``).
"""

from tasks.procedural.sound_library.clips import BACKGROUND_LABELS, FOREGROUND_LABELS
from tasks.procedural.sound_library.writer import LIBRARY_VERSION, build_sound_library

__all__ = ["BACKGROUND_LABELS", "FOREGROUND_LABELS", "LIBRARY_VERSION", "build_sound_library"]
