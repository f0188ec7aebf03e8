"""The UrbanSound8K format's class table (Salamon, Jacoby and Bello, ACM MM 2014): ``classID`` is the index.

Shared by the procedural urban sounds (which write this layout) and the checks of params against a
dataset's metadata; the download recipe is :mod:`tasks.datasets.corpora.urbansound8k`.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)  # classID = index, as in UrbanSound8K
