"""How each category looks: a colour, a shape and a texture of its own, so a detector can learn it."""

from __future__ import annotations

import numpy as np
from PIL import Image

# (RGB colour, shape, texture) per category index; ten distinct looks, one per urban-sound class at most
LOOKS: tuple[tuple[tuple[int, int, int], str, str], ...] = (
    ((220, 40, 40), "disc", "solid"),
    ((40, 90, 230), "square", "hstripes"),
    ((250, 210, 30), "triangle", "dots"),
    ((40, 190, 70), "diamond", "checker"),
    ((200, 60, 220), "ring", "solid"),
    ((250, 130, 20), "cross", "vstripes"),
    ((30, 200, 210), "disc", "checker"),
    ((240, 240, 240), "square", "dots"),
    ((120, 70, 30), "triangle", "hstripes"),
    ((20, 20, 20), "diamond", "solid"),
)


def _shape_mask(shape: str, h: int, w: int) -> np.ndarray:
    """Boolean (h, w) mask of ``shape`` filling its box."""
    y, x = np.mgrid[0:h, 0:w]
    u, v = (x + 0.5) / w * 2 - 1, (y + 0.5) / h * 2 - 1  # [-1, 1] box coordinates
    if shape == "disc":
        return u**2 + v**2 <= 1
    if shape == "square":
        return np.ones((h, w), bool)
    if shape == "triangle":
        return np.abs(u) <= (v + 1) / 2
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1
    if shape == "ring":
        r2 = u**2 + v**2
        return (r2 <= 1) & (r2 >= 0.3)
    if shape == "cross":
        return (np.abs(u) <= 0.35) | (np.abs(v) <= 0.35)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(texture: str, h: int, w: int, period: int) -> np.ndarray:
    """(h, w) brightness factors in (0, 1]: the pattern that darkens part of the object."""
    y, x = np.mgrid[0:h, 0:w]
    if texture == "solid":
        on = np.zeros((h, w), bool)
    elif texture == "hstripes":
        on = (y // period) % 2 == 1
    elif texture == "vstripes":
        on = (x // period) % 2 == 1
    elif texture == "checker":
        on = ((x // period) + (y // period)) % 2 == 1
    elif texture == "dots":
        on = ((x % (2 * period) - period) ** 2 + (y % (2 * period) - period) ** 2) <= (period * 0.6) ** 2
    else:
        raise ValueError(f"unknown texture {texture!r}")
    return np.where(on, 0.45, 1.0)


def draw_object(img: np.ndarray, category: int, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Paint category ``category``'s look into ``img`` (H, W, 3 float) inside ``box`` = (x0, y0, x1, y1)."""
    colour, shape, texture = LOOKS[category]
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    mask = _shape_mask(shape, h, w)
    period = max(2, int(round(min(h, w) / rng.uniform(5, 8))))
    shade = _texture(texture, h, w, period) * rng.uniform(0.85, 1.0)  # a little lighting variation
    rgb = np.clip(np.asarray(colour, float) + rng.normal(0, 12, 3), 0, 255)
    patch = img[y0:y1, x0:x1]
    patch[mask] = (shade[..., None] * rgb)[mask]


def draw_background(side: int, rng: np.random.Generator) -> np.ndarray:
    """A muted, smoothly varying backdrop with pixel noise: (side, side, 3) float in 0..255."""
    coarse = np.clip(rng.uniform(70, 150, (4, 4, 3)) + rng.uniform(-20, 20, 3), 0, 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((side, side), Image.BILINEAR), float)
    return np.clip(smooth + rng.normal(0, 8, (side, side, 3)), 0, 255)
