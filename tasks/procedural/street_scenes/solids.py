"""Road-aligned solids seen through the camera: boxes and side-on wheels."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.palette import Color, tint
from tasks.procedural.street_scenes.scene import Scene


def box(
    sc: Scene,
    cv: Canvas,
    u0: float,
    u1: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    col: Color | np.ndarray,
    label: int,
    near_col: Color | None = None,
) -> None:
    """A road-aligned box: the visible side face, the top if below eye level, then the near face."""
    col_arr = np.asarray(col, float)
    if sc.lateral(u0, z0) > 0:
        cv.poly(sc.side(u0, y0, y1, z0, z1), tint(col_arr, sc.lit(-1) * 0.95), label)
    elif sc.lateral(u1, z0) < 0:
        cv.poly(sc.side(u1, y0, y1, z0, z1), tint(col_arr, sc.lit(1) * 0.95), label)
    if y1 < sc.h:
        cv.poly(sc.ground(u0, u1, z0, z1, y1), tint(col_arr, 1.08), label)
    cv.poly(sc.front(u0, u1, y0, y1, z0), near_col or tint(col_arr, sc.lit(0)), label)


def wheel_side(sc: Scene, cv: Canvas, u: float, zc: float, r: float, label: int) -> None:
    """A wheel seen side-on on the plane ``u``, centred at depth ``zc``: tyre and hub."""
    t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    cv.poly(sc.proj(u, r + r * np.sin(t), zc + r * np.cos(t)), (22, 22, 24), label)
    cv.poly(sc.proj(u, r + 0.45 * r * np.sin(t), zc + 0.45 * r * np.cos(t)), (120, 120, 125), label)
