"""What frames the street: the sky with its clouds, and the hood of the ego vehicle at the bottom."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import EGO, SKY
from tasks.procedural.street_scenes.palette import tint
from tasks.procedural.street_scenes.scene import Scene


def sky(sc: Scene) -> np.ndarray:
    """The sky: a vertical gradient, grey when overcast, down to the horizon (uint8 HxWx3)."""
    rng = sc.rng
    if sc.overcast:
        top = np.array([178, 186, 196]) + rng.uniform(-22, 28)
        bottom = np.array([212, 216, 220]) + rng.uniform(-15, 25)
    else:
        top = np.array([rng.uniform(60, 120), rng.uniform(110, 160), rng.uniform(185, 235)])
        bottom = np.array([rng.uniform(170, 215), rng.uniform(190, 222), rng.uniform(215, 245)])
    t = np.clip(np.arange(sc.H, dtype=np.float32) / max(sc.vy, 1.0), 0.0, 1.0) ** 0.8
    rows = top[None, :] * (1 - t[:, None]) + bottom[None, :] * t[:, None]
    img = np.repeat(rows[:, None, :], sc.W, axis=1)
    return np.clip(img, 0, 255).astype(np.uint8)


def clouds(sc: Scene, cv: Canvas) -> None:
    """Clouds of overlapping ellipses above the horizon, more of them when overcast."""
    rng = sc.rng
    n = int(rng.poisson(6 if sc.overcast else 3))
    for _ in range(n):
        cx, cy = rng.uniform(0, sc.W), rng.uniform(-0.1, 0.75) * sc.vy
        size = rng.uniform(0.04, 0.14) * sc.W
        base = rng.uniform(200, 245) if not sc.overcast else rng.uniform(165, 225)
        for _ in range(int(rng.integers(4, 10))):
            rx = size * rng.uniform(0.3, 0.8)
            c = tint(np.full(3, base + rng.uniform(-12, 10)) + np.array([0, 1, 4]))
            cv.ellipse(
                cx + rng.uniform(-1, 1) * size,
                cy + rng.uniform(-0.3, 0.3) * size,
                rx,
                rx * rng.uniform(0.35, 0.6),
                c,
                SKY,
            )


def draw_ego(sc: Scene, cv: Canvas) -> None:
    """The hood of the car carrying the camera, across the bottom of the image (labelId ego vehicle)."""
    rng = sc.rng
    hh = sc.H * rng.uniform(0.035, 0.075)
    xs = np.linspace(-2, sc.W + 2, 24)
    t = (xs - sc.W / 2) / (sc.W / 2)
    top = sc.H - hh + hh * 0.7 * t**2
    pts = np.concatenate([np.stack([xs, top], 1), [[sc.W + 2, sc.H + 2], [-2, sc.H + 2]]])
    base = np.full(3, rng.uniform(25, 150))
    cv.poly(pts, tint(base), EGO)
    band = np.concatenate([np.stack([xs, top + hh * 0.15], 1), np.stack([xs[::-1], top[::-1] + hh * 0.35], 1)])
    cv.poly(band, tint(base * 1.35 + 20), EGO)
