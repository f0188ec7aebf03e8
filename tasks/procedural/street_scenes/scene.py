"""Scene: the camera (a pinhole over a ground plane that may curve), the sun, and the paint queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.palette import Color, Style

if TYPE_CHECKING:
    from tasks.procedural.street_scenes.layout import Block


class Scene:
    """One street: the camera, the sun, the layout, and the queue of elements to paint.

    World coordinates: ``u`` metres to the right of the road's centre line, ``y`` metres up, ``z``
    metres ahead of the camera. The camera sits at ``u = o``, height ``h``; the road may curve
    (lateral offset ``curv * z**2 / 2``).

    The planners (:mod:`~tasks.procedural.street_scenes.layout`, ``blocks``, ``street_plan``) fill
    the layout below and queue upright elements with ``add``; ``render`` paints them far to near.
    Every random draw comes from ``rng``, in the order the planners and painters run.
    """

    # The layout, set by layout.lay_out (``o``, the camera's lateral position, too).
    two_way: bool
    lane_w: float  # metres
    n_right: int  # lanes in the camera's direction, and oncoming
    n_left: int
    median: float  # width, 0 for none
    park_l: bool  # a parking lane on the left / right
    park_r: bool
    uL: float  # the kerbs' u
    uR: float
    cam_lane: int
    o: float
    sw: dict[int, float]  # side (-1, +1) -> sidewalk width
    verge: dict[int, tuple[float, int]]  # side -> (width, labelId) of the strip behind the sidewalk
    edge: dict[int, float]  # side -> kerb's u
    front_u: dict[int, float]  # side -> u where the blocks begin
    has_x: bool  # a cross street from zx0 to zx1, with sidewalks sx wide (inf when there is none)
    zx0: float
    zx1: float
    sx: float
    tram: bool
    tram_u: float  # the tram's lane, set by street_plan when there is a tram
    asphalt: Color
    paving: Color
    grass: Color
    greens: list[Color]
    blocks: list[Block]
    z_end: float  # blocks are planned up to this depth

    def __init__(self, height: int, width: int, rng: np.random.Generator, style: Style) -> None:
        self.H, self.W, self.rng, self.style = height, width, rng, style
        self.f = width * rng.uniform(0.95, 1.2)
        self.vy = height * rng.uniform(0.36, 0.46)
        self.vx = width * (0.5 + rng.uniform(-0.05, 0.05))
        self.h = rng.uniform(1.2, 1.45)
        self.curv = float(rng.normal(0.0, 0.0012)) if rng.random() < 0.4 else 0.0
        self.n_strip = 10 if self.curv else 2
        self._t_strip = np.linspace(0.0, 1.0, self.n_strip)
        self.z_bottom = self.f * self.h / (height - self.vy)  # depth seen at the bottom row
        self.z_far = 320.0
        self.overcast = rng.random() < style.overcast
        self.sun = 0.0 if self.overcast else rng.uniform(0.25, 0.55)  # cast-shadow strength
        self.sun_side = 1 if rng.random() < 0.5 else -1  # the sun shines from +u (1) or -u (-1)
        self.items: list[tuple[float, int, Callable[[Canvas], None]]] = []
        self.shadows: list[tuple[np.ndarray, float]] = []  # ground polygons and their darkness, painted first

    def proj(self, u: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
        """Screen points (x, y) of world points (u, y, z); broadcasts, last axis of the result is (x, y)."""
        u, y, z = np.asarray(u, float), np.asarray(y, float), np.asarray(z, float)
        x_world = u - self.o + 0.5 * self.curv * z * z
        xs = self.vx + self.f * x_world / z
        ys = self.vy + self.f * (self.h - y) / z
        out = np.empty(np.broadcast_shapes(xs.shape, ys.shape) + (2,))
        out[..., 0] = xs
        out[..., 1] = ys
        return out

    def lateral(self, u: float, z: float) -> float:
        """World x (metres right of the camera) of road coordinate ``u`` at depth ``z``."""
        return u - self.o + 0.5 * self.curv * z * z

    def zs(self, z0: float, z1: float) -> np.ndarray:
        """Depths from ``z0`` to ``z1``, geometrically spaced: enough vertices to follow the road's curve."""
        a, b = max(z0, 0.3), max(z1, 0.31)
        return a * (b / a) ** self._t_strip

    def ground(self, u0: float, u1: float, z0: float, z1: float, y: float = 0.0) -> np.ndarray:
        """Polygon of the horizontal strip u0..u1, z0..z1 at height ``y``."""
        zs = self.zs(z0, z1)
        return np.concatenate([self.proj(u0, y, zs), self.proj(u1, y, zs[::-1])])

    def side(self, u: float, y0: float, y1: float, z0: float, z1: float) -> np.ndarray:
        """Polygon of the vertical strip at ``u`` from height y0 to y1, z0..z1 (a face along the street)."""
        zs = self.zs(z0, z1)
        return np.concatenate([self.proj(u, y0, zs), self.proj(u, y1, zs[::-1])])

    def front(self, u0: float, u1: float, y0: float, y1: float, z: float) -> np.ndarray:
        """Polygon of the rectangle u0..u1, y0..y1 facing the camera at depth ``z``."""
        return self.proj(np.array([u0, u1, u1, u0]), np.array([y0, y0, y1, y1]), z)

    def bb(self, u: float, z: float, dx: np.ndarray | list, dy: np.ndarray | list) -> np.ndarray:
        """Billboard at (u, z) facing the camera: local metres (dx right, dy up) -> screen points."""
        x0, y0 = self.proj(u, 0.0, z)
        s = self.f / z
        return np.stack([x0 + s * np.asarray(dx, float), y0 - s * np.asarray(dy, float)], axis=-1)

    def add(self, key_z: float, fn: Callable[[Canvas], None]) -> None:
        """Queue an upright element; elements are painted by decreasing ``key_z`` (far first)."""
        if key_z > 0.4:
            self.items.append((key_z, len(self.items), fn))

    def lit(self, normal_u: int) -> float:
        """Brightness of a vertical surface whose normal points along ``normal_u`` (+1/-1) or 0 (towards camera)."""
        if normal_u == 0:
            return 0.93
        if self.overcast:
            return 0.9 + 0.05 * normal_u * self.sun_side
        return 1.0 if normal_u == self.sun_side else 0.72

    def in_x(self, z0: float, z1: float) -> bool:
        """Whether [z0, z1] overlaps the cross street."""
        return z1 > self.zx0 and z0 < self.zx1
