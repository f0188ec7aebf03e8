"""The look of a city (heights, facades, greenery, weather) and the colours of cars, clothes and skin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    """Look of a city: building height and palette, greenery, weather."""

    storeys: tuple[int, int]
    greenery: float  # 0..1: street trees, parks, hedges
    facades: tuple[Color, ...]
    overcast: float  # probability of an overcast sky
    wide: float  # probability of extra lanes


_WARM = (
    (205, 185, 150),
    (190, 160, 128),
    (222, 206, 176),
    (168, 118, 92),
    (212, 192, 160),
    (236, 226, 200),
    (182, 150, 120),
    (200, 170, 150),
    (225, 200, 140),
)
_COOL = (
    (172, 172, 170),
    (150, 155, 160),
    (202, 200, 195),
    (122, 126, 132),
    (186, 180, 170),
    (212, 212, 206),
    (140, 135, 128),
    (165, 175, 180),
    (95, 100, 108),
)
_PASTEL = (
    (226, 214, 170),
    (200, 215, 205),
    (230, 200, 190),
    (205, 205, 225),
    (238, 232, 218),
    (190, 170, 150),
    (215, 190, 160),
    (170, 160, 150),
)


STYLES: dict[str, Style] = {
    "synthville": Style((3, 6), 0.55, _WARM, 0.6, 0.4),
    "procburg": Style((4, 7), 0.35, _COOL, 0.75, 0.3),
    "randomstadt": Style((2, 5), 0.8, _PASTEL, 0.5, 0.2),
    "noisegart": Style((3, 8), 0.5, _COOL + _WARM, 0.55, 0.6),
    "pixelheim": Style((3, 6), 0.6, _WARM + _PASTEL, 0.6, 0.4),
    "meshdorf": Style((3, 7), 0.45, _COOL, 0.7, 0.4),
    "voxelona": Style((3, 7), 0.5, _PASTEL + _COOL, 0.5, 0.4),
}
DEFAULT_STYLE = Style((2, 8), 0.55, _WARM + _COOL + _PASTEL, 0.6, 0.4)


CAR_COLOURS = (
    (238, 238, 236),
    (28, 28, 30),
    (152, 154, 158),
    (92, 94, 98),
    (28, 42, 92),
    (145, 22, 22),
    (205, 205, 210),
    (60, 72, 62),
    (182, 152, 102),
    (60, 90, 140),
    (120, 30, 40),
    (40, 40, 46),
)
CLOTHES = (
    (30, 30, 35),
    (60, 60, 70),
    (25, 35, 70),
    (120, 110, 95),
    (150, 30, 35),
    (200, 200, 200),
    (80, 50, 35),
    (40, 70, 50),
    (170, 140, 90),
    (90, 100, 130),
    (210, 170, 60),
    (110, 40, 90),
)
SKIN = ((236, 196, 160), (205, 160, 120), (160, 110, 75), (110, 72, 48), (225, 180, 140))


def tint(rgb: tuple[float, ...] | np.ndarray, k: float = 1.0) -> Color:
    """``rgb`` scaled by ``k`` as an 8-bit colour (clamped to 0..255)."""
    return tuple(int(min(255.0, max(0.0, float(v) * k))) for v in rgb)  # type: ignore[return-value]


def jitter(rgb: tuple[float, ...], rng: np.random.Generator, amount: float = 12.0, scale: float = 0.1) -> Color:
    """``rgb`` with a random brightness scale (±``scale``) and per-channel offsets (±``amount``)."""
    k = 1.0 + rng.uniform(-scale, scale)
    return tint(np.asarray(rgb, float) * k + rng.uniform(-amount, amount, 3))
