"""Procedural street scenes written in the Cityscapes layout (offline default data of workflow 1).

Cityscapes needs a login, so the pipeline's offline default is this generator. It writes exactly
the files the real download has for semantic segmentation::

    leftImg8bit/<split>/<city>/<city>_<seq:06d>_<frame:06d>_leftImg8bit.png     RGB
    gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_labelIds.png      uint8 labelIds
    gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_color.png         RGB, for looking at

so the loader that reads real Cityscapes (:mod:`tasks.segmentation.cityscapes`) is the one tested.
Labels are *labelIds* as in the real data (road 7, car 26, ...), including ids the loader maps to
ignore: unlabeled (0), ego vehicle (1, the hood at the bottom), static (4), dynamic (5), ground (6),
parking (9) and rail track (10).

Each scene is a street seen from a car's roof at about 1.3 m, projected with a pinhole camera onto a
ground plane with a vanishing point (and sometimes a gentle curve): sky with clouds, buildings along
both sides (window grids, shops, roofs, varied colours, heights and set-backs), side streets, parks,
walls, fences and hedges, a road with lane markings, crossings and patches, sidewalks and kerbs,
street trees, lamp posts, traffic lights and signs, parked and moving cars, trucks, buses, the odd
tram, pedestrians, cyclists and motorcyclists (riders), parked bicycles and motorcycles, bins and
benches. Everything is painted far to near (painter's algorithm) into the image and the label map
with the same polygons, so occlusion is consistent. Lighting varies (overcast or sunny, a sun side
with cast shadows, exposure, colour cast, vignetting), and per-class texture noise, a slight blur and
sensor noise make the task learnable but not trivial. Pixel frequencies are roughly Cityscapes-like:
road, building, vegetation and sky large; person, rider, motorcycle, bicycle and traffic light small.

Image ``i`` of split ``s`` (train 0, val 1, test 2) is rendered from
``np.random.default_rng([seed, s, i])`` and does not depend on how many images are generated.
Unlike the real test split (whose labels are withheld), the test split here has true labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from soundflow.io import CC0_README_SECTION, generated_folder

from tasks.segmentation.cityscapes import ID_TO_COLOR

__all__ = ["CITIES", "GENERATOR_VERSION", "SPLITS", "generate_street_scenes", "render_scene"]

# Bump when the scene model changes, so datasets generated with the same seed are known to differ.
GENERATOR_VERSION = "1"

SPLITS: tuple[str, ...] = ("train", "val", "test")  # split_index = position here
CITIES: dict[str, tuple[str, ...]] = {  # disjoint per split, as in Cityscapes
    "train": ("synthville", "procburg", "randomstadt", "noisegart"),
    "val": ("pixelheim", "meshdorf"),
    "test": ("voxelona",),
}
FRAME = 19  # Cityscapes annotates the 20th frame of each 30-frame snippet

# labelIds (cityscapesScripts)
UNLABELED, EGO, STATIC, DYNAMIC, GROUND = 0, 1, 4, 5, 6
ROAD, SIDEWALK, PARKING, RAIL = 7, 8, 9, 10
BUILDING, WALL, FENCE = 11, 12, 13
POLE, TLIGHT, TSIGN = 17, 19, 20
VEG, TERRAIN, SKY = 21, 22, 23
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTO, BIKE = 24, 25, 26, 27, 28, 31, 32, 33

Color = tuple[int, int, int]


@dataclass(frozen=True)
class _Style:
    """Look of a city: building height and palette, greenery, weather."""

    storeys: tuple[int, int]
    greenery: float  # 0..1: street trees, parks, hedges
    facades: tuple[Color, ...]
    overcast: float  # probability of an overcast sky
    wide: float  # probability of extra lanes


_WARM = ((205, 185, 150), (190, 160, 128), (222, 206, 176), (168, 118, 92), (212, 192, 160), (236, 226, 200),
         (182, 150, 120), (200, 170, 150), (225, 200, 140))
_COOL = ((172, 172, 170), (150, 155, 160), (202, 200, 195), (122, 126, 132), (186, 180, 170), (212, 212, 206),
         (140, 135, 128), (165, 175, 180), (95, 100, 108))
_PASTEL = ((226, 214, 170), (200, 215, 205), (230, 200, 190), (205, 205, 225), (238, 232, 218), (190, 170, 150),
           (215, 190, 160), (170, 160, 150))

_STYLES: dict[str, _Style] = {
    "synthville": _Style((3, 6), 0.55, _WARM, 0.6, 0.4),
    "procburg": _Style((4, 7), 0.35, _COOL, 0.75, 0.3),
    "randomstadt": _Style((2, 5), 0.8, _PASTEL, 0.5, 0.2),
    "noisegart": _Style((3, 8), 0.5, _COOL + _WARM, 0.55, 0.6),
    "pixelheim": _Style((3, 6), 0.6, _WARM + _PASTEL, 0.6, 0.4),
    "meshdorf": _Style((3, 7), 0.45, _COOL, 0.7, 0.4),
    "voxelona": _Style((3, 7), 0.5, _PASTEL + _COOL, 0.5, 0.4),
}
_DEFAULT_STYLE = _Style((2, 8), 0.55, _WARM + _COOL + _PASTEL, 0.6, 0.4)

_CAR_COLOURS = ((238, 238, 236), (28, 28, 30), (152, 154, 158), (92, 94, 98), (28, 42, 92), (145, 22, 22),
                (205, 205, 210), (60, 72, 62), (182, 152, 102), (60, 90, 140), (120, 30, 40), (40, 40, 46))
_CLOTHES = ((30, 30, 35), (60, 60, 70), (25, 35, 70), (120, 110, 95), (150, 30, 35), (200, 200, 200),
            (80, 50, 35), (40, 70, 50), (170, 140, 90), (90, 100, 130), (210, 170, 60), (110, 40, 90))
_SKIN = ((236, 196, 160), (205, 160, 120), (160, 110, 75), (110, 72, 48), (225, 180, 140))

# Per-labelId texture amplitude: fine grain, medium-scale mottling.
_TEX_FINE = np.zeros(256, np.float32)
_TEX_MED = np.zeros(256, np.float32)
for _ids, _f, _m in (
    ((ROAD, PARKING, RAIL), 0.07, 0.06),
    ((SIDEWALK, GROUND), 0.06, 0.05),
    ((BUILDING, WALL), 0.05, 0.05),
    ((FENCE, POLE, STATIC, DYNAMIC), 0.04, 0.03),
    ((VEG,), 0.16, 0.14),
    ((TERRAIN,), 0.12, 0.10),
    ((SKY,), 0.006, 0.02),
    ((PERSON, RIDER), 0.04, 0.03),
    ((CAR, TRUCK, BUS, TRAIN, MOTO, BIKE, EGO), 0.025, 0.02),
    ((TLIGHT, TSIGN), 0.03, 0.02),
):
    _TEX_FINE[list(_ids)] = _f
    _TEX_MED[list(_ids)] = _m


def _col(rgb: tuple[float, ...] | np.ndarray, k: float = 1.0) -> Color:
    return tuple(int(min(255.0, max(0.0, float(v) * k))) for v in rgb)  # type: ignore[return-value]


def _jitter(rgb: tuple[float, ...], rng: np.random.Generator, amount: float = 12.0, scale: float = 0.1) -> Color:
    k = 1.0 + rng.uniform(-scale, scale)
    return _col(np.asarray(rgb, float) * k + rng.uniform(-amount, amount, 3))


# --------------------------------------------------------------------------- #
# Canvas: image, label map and shadow mask painted with the same primitives   #
# --------------------------------------------------------------------------- #


class _Canvas:
    def __init__(self, sky: np.ndarray) -> None:
        self.H, self.W = sky.shape[:2]
        self.img = Image.fromarray(sky, "RGB")
        self.lab = Image.new("L", (self.W, self.H), SKY)
        self.shade = Image.new("L", (self.W, self.H), 0)
        self._di = ImageDraw.Draw(self.img)
        self._dl = ImageDraw.Draw(self.lab)
        self._ds = ImageDraw.Draw(self.shade)

    def _on_screen(self, pts: np.ndarray) -> bool:
        return bool(
            pts[:, 0].max() >= -1 and pts[:, 0].min() <= self.W and pts[:, 1].max() >= -1 and pts[:, 1].min() <= self.H
        )

    def poly(self, pts: np.ndarray, color: Color, label: int) -> None:
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 3 or not np.all(np.isfinite(pts)) or not self._on_screen(pts):
            return
        xy = [(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()]
        self._di.polygon(xy, fill=color)
        self._dl.polygon(xy, fill=label)
        self._ds.polygon(xy, fill=0)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: Color, label: int) -> None:
        if cx + rx < -1 or cx - rx > self.W or cy + ry < -1 or cy - ry > self.H or not (rx >= 0.35 and ry >= 0.35):
            return
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        self._di.ellipse(box, fill=color)
        self._dl.ellipse(box, fill=label)
        self._ds.ellipse(box, fill=0)

    def ring(self, cx: float, cy: float, rx: float, ry: float, width: float, color: Color, label: int) -> None:
        if cx + rx < -1 or cx - rx > self.W or cy + ry < -1 or cy - ry > self.H or not (rx >= 0.5 and ry >= 0.5):
            return
        wpx = max(1, int(round(width)))
        if 2 * wpx >= min(rx, ry):
            self.ellipse(cx, cy, rx, ry, color, label)
            return
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        self._di.ellipse(box, outline=color, width=wpx)
        self._dl.ellipse(box, outline=label, width=wpx)
        self._ds.ellipse(box, outline=0, width=wpx)

    def line(self, pts: np.ndarray, width: float, color: Color, label: int) -> None:
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 2 or not self._on_screen(pts):
            return
        xy = [(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()]
        wpx = max(1, int(round(width)))
        self._di.line(xy, fill=color, width=wpx)
        self._dl.line(xy, fill=label, width=wpx)
        self._ds.line(xy, fill=0, width=wpx)

    def shadow(self, pts: np.ndarray, strength: float) -> None:
        """Darken what is painted here so far by ``strength`` (0..1); later paint clears it."""
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 3 or strength <= 0 or not self._on_screen(pts):
            return
        self._ds.polygon([(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()], fill=int(255 * min(strength, 0.9)))


# --------------------------------------------------------------------------- #
# Scene                                                                       #
# --------------------------------------------------------------------------- #


@dataclass
class _Block:
    side: int  # -1 left, +1 right
    kind: str  # "building", "park", "lot", "wall"
    z0: float
    z1: float
    height: float = 0.0  # buildings: height and the road-side facade's u, once planned
    facade_u: float = 0.0


class _Scene:
    """One street: camera, layout, and the drawing of every element.

    World coordinates: ``u`` metres to the right of the road's centre line, ``y`` metres up, ``z``
    metres ahead of the camera. The camera sits at ``u = o``, height ``h``; the road may curve
    (lateral offset ``curv * z**2 / 2``).
    """

    def __init__(self, height: int, width: int, rng: np.random.Generator, style: _Style) -> None:
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
        self.items: list[tuple[float, int, Callable[[_Canvas], None]]] = []

    # ---------------------------------------------------------------- geometry
    def proj(self, u: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
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

    def _zs(self, z0: float, z1: float) -> np.ndarray:
        a, b = max(z0, 0.3), max(z1, 0.31)
        return a * (b / a) ** self._t_strip

    def ground(self, u0: float, u1: float, z0: float, z1: float, y: float = 0.0) -> np.ndarray:
        zs = self._zs(z0, z1)
        return np.concatenate([self.proj(u0, y, zs), self.proj(u1, y, zs[::-1])])

    def side(self, u: float, y0: float, y1: float, z0: float, z1: float) -> np.ndarray:
        zs = self._zs(z0, z1)
        return np.concatenate([self.proj(u, y0, zs), self.proj(u, y1, zs[::-1])])

    def front(self, u0: float, u1: float, y0: float, y1: float, z: float) -> np.ndarray:
        return self.proj(np.array([u0, u1, u1, u0]), np.array([y0, y0, y1, y1]), z)

    def bb(self, u: float, z: float, dx: np.ndarray | list, dy: np.ndarray | list) -> np.ndarray:
        """Billboard at (u, z) facing the camera: local metres (dx right, dy up) -> screen points."""
        x0, y0 = self.proj(u, 0.0, z)
        s = self.f / z
        return np.stack([x0 + s * np.asarray(dx, float), y0 - s * np.asarray(dy, float)], axis=-1)

    def add(self, key_z: float, fn: Callable[[_Canvas], None]) -> None:
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

    # ---------------------------------------------------------------- layout
    def layout(self) -> None:
        rng, st = self.rng, self.style
        self.two_way = rng.random() < 0.75
        self.lane_w = rng.uniform(2.9, 3.6)
        extra = rng.random() < st.wide
        self.n_right = 1 + int(extra or rng.random() < 0.3)
        self.n_left = (1 + int(extra and rng.random() < 0.6)) if self.two_way else 0
        if not self.two_way and rng.random() < 0.5:
            self.n_right += 1
        self.median = rng.uniform(1.2, 3.0) if (self.two_way and self.n_right + self.n_left >= 3 and rng.random() < 0.3) else 0.0
        m2 = self.median / 2
        self.park_l = rng.random() < 0.3
        self.park_r = rng.random() < 0.35
        self.uL = -(m2 + self.n_left * self.lane_w + 2.3 * self.park_l)
        self.uR = m2 + self.n_right * self.lane_w + 2.3 * self.park_r
        lane = int(rng.integers(0, self.n_right))
        self.cam_lane = lane
        self.o = m2 + (lane + 0.5) * self.lane_w + rng.uniform(-0.35, 0.35)
        self.sw = {-1: rng.uniform(1.8, 5.0), 1: rng.uniform(1.8, 5.0)}
        self.verge = {}
        for s in (-1, 1):
            if rng.random() < 0.45:
                self.verge[s] = (rng.uniform(0.8, 4.0), TERRAIN if rng.random() < 0.7 else GROUND)
            else:
                self.verge[s] = (0.0, TERRAIN)
        self.edge = {-1: self.uL, 1: self.uR}
        self.front_u = {s: self.edge[s] + s * (self.sw[s] + self.verge[s][0]) for s in (-1, 1)}
        self.has_x = rng.random() < 0.35
        if self.has_x:
            self.zx0 = rng.uniform(14.0, 55.0)
            self.sx = rng.uniform(2.0, 4.0)  # cross-street sidewalk
            self.zx1 = self.zx0 + 2 * self.sx + rng.uniform(7.0, 13.0)
        else:
            self.zx0 = self.zx1 = self.sx = float("inf")
        self.tram = rng.random() < 0.06
        self.asphalt = _col(np.full(3, rng.uniform(68, 112)) + rng.uniform(-5, 5, 3))
        self.paving = _jitter((150, 148, 142), rng, 18, 0.15)
        self.grass = _jitter((112, 140, 72), rng, 14, 0.15)
        self.greens = [_jitter(g, rng, 8, 0.15) for g in ((62, 92, 38), (78, 108, 42), (52, 80, 40), (92, 118, 52))]
        self.blocks: list[_Block] = []
        self.z_end = rng.uniform(110.0, 240.0)
        for s in (-1, 1):
            self._plan_side(s)

    def in_x(self, z0: float, z1: float) -> bool:
        """Whether [z0, z1] overlaps the cross street."""
        return z1 > self.zx0 and z0 < self.zx1

    def _plan_side(self, s: int) -> None:
        rng, st = self.rng, self.style
        z = rng.uniform(-4.0, 2.0)
        kinds = ("building", "park", "lot", "wall")
        p = np.array([0.7, 0.16 * (0.4 + st.greenery), 0.06, 0.1])
        while z < self.z_end:
            kind = str(rng.choice(kinds, p=p / p.sum()))
            length = {"building": rng.uniform(10, 45), "park": rng.uniform(15, 50), "lot": rng.uniform(10, 25),
                      "wall": rng.uniform(8, 25)}[kind]
            z0, z1 = z, z + length
            if self.in_x(z0, z1):
                if z0 < self.zx0 - 3:
                    self.blocks.append(_Block(s, kind, z0, self.zx0))
                z = self.zx1
                continue
            self.blocks.append(_Block(s, kind, z0, z1))
            z = z1 + (rng.uniform(2.0, 6.0) if rng.random() < 0.12 else 0.0)

    # ---------------------------------------------------------------- sky
    def sky(self) -> np.ndarray:
        rng = self.rng
        if self.overcast:
            top = np.array([178, 186, 196]) + rng.uniform(-22, 28)
            bottom = np.array([212, 216, 220]) + rng.uniform(-15, 25)
        else:
            top = np.array([rng.uniform(60, 120), rng.uniform(110, 160), rng.uniform(185, 235)])
            bottom = np.array([rng.uniform(170, 215), rng.uniform(190, 222), rng.uniform(215, 245)])
        t = np.clip(np.arange(self.H, dtype=np.float32) / max(self.vy, 1.0), 0.0, 1.0) ** 0.8
        rows = top[None, :] * (1 - t[:, None]) + bottom[None, :] * t[:, None]
        img = np.repeat(rows[:, None, :], self.W, axis=1)
        return np.clip(img, 0, 255).astype(np.uint8)

    def clouds(self, cv: _Canvas) -> None:
        rng = self.rng
        n = int(rng.poisson(6 if self.overcast else 3))
        for _ in range(n):
            cx, cy = rng.uniform(0, self.W), rng.uniform(-0.1, 0.75) * self.vy
            size = rng.uniform(0.04, 0.14) * self.W
            base = rng.uniform(200, 245) if not self.overcast else rng.uniform(165, 225)
            for _ in range(int(rng.integers(4, 10))):
                rx = size * rng.uniform(0.3, 0.8)
                c = _col(np.full(3, base + rng.uniform(-12, 10)) + np.array([0, 1, 4]))
                cv.ellipse(cx + rng.uniform(-1, 1) * size, cy + rng.uniform(-0.3, 0.3) * size, rx, rx * rng.uniform(0.35, 0.6), c, SKY)

    # ---------------------------------------------------------------- ground
    def draw_ground(self, cv: _Canvas) -> None:
        rng = self.rng
        y_far = float(self.proj(0.0, 0.0, self.z_far)[1])
        cv.poly(np.array([[-2, y_far], [self.W + 2, y_far], [self.W + 2, self.H + 2], [-2, self.H + 2]]),
                _col(np.asarray(self.grass) * 0.85), TERRAIN)
        self._far_silhouettes(cv)
        zn, zf = 0.4, self.z_far
        for s in (-1, 1):
            # everything beyond the frontage: set-backs, parks, lots (per block)
            for b in self.blocks:
                if b.side != s:
                    continue
                u_in = self.front_u[s]
                u_out = u_in + s * 80.0
                if b.kind == "park":
                    lab, c = (TERRAIN, self.grass) if rng.random() < 0.8 else (GROUND, _jitter((140, 125, 105), rng))
                elif b.kind == "lot":
                    lab, c = (PARKING, _jitter((118, 116, 112), rng)) if rng.random() < 0.6 else (GROUND, _jitter((135, 128, 118), rng))
                else:
                    r = rng.random()
                    lab, c = (SIDEWALK, self.paving) if r < 0.4 else (GROUND, _jitter((138, 130, 118), rng)) if r < 0.7 else (TERRAIN, self.grass)
                cv.poly(self.ground(*sorted((u_in, u_out)), max(b.z0, zn), b.z1), c, lab)
            # verge and sidewalk
            e = self.edge[s]
            w_v, lab_v = self.verge[s]
            if w_v > 0:
                u_a = e + s * self.sw[s]
                c = self.grass if lab_v == TERRAIN else _jitter((140, 128, 110), rng)
                cv.poly(self.ground(*sorted((u_a, u_a + s * w_v)), zn, zf), c, lab_v)
            cv.poly(self.ground(*sorted((e, e + s * self.sw[s])), zn, zf), self.paving, SIDEWALK)
            self._paving_lines(cv, s)
        # road
        cv.poly(self.ground(self.uL, self.uR, zn, zf), self.asphalt, ROAD)
        for _ in range(int(rng.poisson(3))):  # repaired patches, darker or lighter asphalt
            u0 = rng.uniform(self.uL, self.uR - 1)
            z0 = rng.uniform(self.z_bottom, 60)
            cv.poly(self.ground(u0, min(u0 + rng.uniform(0.8, 4), self.uR), z0, z0 + rng.uniform(1, 8)),
                    _col(self.asphalt, rng.uniform(0.82, 1.12)), ROAD)
        if self.median:
            m2 = self.median / 2
            lab_m = TERRAIN if rng.random() < 0.5 else GROUND
            cv.poly(self.side(-m2, 0, 0.15, zn, zf), _col(self.paving, 0.9), SIDEWALK)
            cv.poly(self.ground(-m2, m2, zn, zf, 0.15), self.grass if lab_m == TERRAIN else _jitter((150, 140, 125), rng), lab_m)
        for s in (-1, 1):  # parking lanes
            if (self.park_l if s < 0 else self.park_r):
                e = self.edge[s]
                cv.poly(self.ground(*sorted((e, e - s * 2.3)), zn, zf), _jitter((105, 102, 100), rng, 8, 0.08), PARKING)
        self._markings(cv)
        if self.tram:
            for du in (-0.72, 0.72):
                uc = self.tram_u + du
                cv.poly(self.ground(uc - 0.05, uc + 0.05, zn, zf), (150, 148, 145), RAIL)
        for s in (-1, 1):  # kerbs: the vertical face between road and sidewalk
            cv.poly(self.side(self.edge[s], 0.0, 0.13, zn, zf), _col(self.paving, 1.08), SIDEWALK)
        if self.has_x:
            self._cross_street(cv)
        for _ in range(int(rng.poisson(1.2))):  # manholes
            u = rng.uniform(self.uL + 0.5, self.uR - 0.5)
            z = rng.uniform(self.z_bottom, 40)
            t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            cv.poly(self.proj(u + 0.35 * np.cos(t), 0, z + 0.35 * np.sin(t)), _col(self.asphalt, 0.7), ROAD)

    def _far_silhouettes(self, cv: _Canvas) -> None:
        rng = self.rng
        z = self.z_far * rng.uniform(0.75, 0.95)
        u = -160.0
        while u < 160:
            w = rng.uniform(8, 30)
            r = rng.random()
            if r < 0.65:
                hgt = rng.uniform(6, 34)
                cv.poly(self.front(u, u + w, 0, hgt, z), _jitter((150, 150, 155), rng, 20, 0.1), BUILDING)
            elif r < 0.9:
                hgt = rng.uniform(6, 15)
                c = _col(self.greens[0], 0.9)
                x0, y0 = self.proj(u + w / 2, hgt * 0.6, z)
                s = self.f / z
                cv.ellipse(x0, y0, s * w / 2, s * hgt * 0.5, c, VEG)
                cv.poly(self.front(u, u + w, 0, hgt * 0.55, z), c, VEG)
            else:  # far clutter nobody could name
                cv.poly(self.front(u, u + w * 0.3, 0, rng.uniform(2, 5), z), _jitter((120, 120, 120), rng), UNLABELED)
            u += w
        # a few distant vehicles near the vanishing point
        for _ in range(int(rng.poisson(2))):
            zc = rng.uniform(110, 220)
            uc = rng.uniform(self.uL + 1, self.uR - 1)
            c = _jitter(_CAR_COLOURS[int(rng.integers(len(_CAR_COLOURS)))], rng)
            self.add(zc, lambda cv, uc=uc, zc=zc, c=c: cv.poly(self.front(uc - 0.9, uc + 0.9, 0.2, 1.5, zc), c, CAR))

    def _paving_lines(self, cv: _Canvas, s: int) -> None:
        e, w = self.edge[s], self.sw[s]
        c = _col(self.paving, 0.82)
        tile = self.rng.uniform(0.5, 1.2)
        lo, hi = sorted((e, e + s * w))
        for z in np.arange(max(self.z_bottom * 0.6, 1.0), 30.0, tile):
            cv.poly(self.ground(lo, hi, z, z + 0.04), c, SIDEWALK)
        for uu in np.arange(lo + tile, hi, tile):
            cv.poly(self.ground(uu - 0.02, uu + 0.02, 0.5, 40.0), c, SIDEWALK)

    def _markings(self, cv: _Canvas) -> None:
        rng = self.rng
        white = _col(np.full(3, rng.uniform(195, 235)))
        yellowish = white if rng.random() < 0.7 else (220, 200, 120)
        wl = 0.13
        zn, zf = 0.4, self.z_far
        m2 = self.median / 2
        dash, gap = rng.uniform(2.5, 4.5), rng.uniform(4.0, 9.0)
        start = rng.uniform(0, dash + gap)

        def dashed(uc: float) -> None:
            z = start
            while z < 160:
                if not self.in_x(z, z + dash):
                    cv.poly(self.ground(uc - wl / 2, uc + wl / 2, max(z, zn), z + dash), white, ROAD)
                z += dash + gap

        for k in range(1, self.n_right):
            dashed(m2 + k * self.lane_w)
        for k in range(1, self.n_left):
            dashed(-m2 - k * self.lane_w)
        if self.two_way and not self.median:
            if rng.random() < 0.5:
                cv.poly(self.ground(-wl / 2, wl / 2, zn, zf), yellowish, ROAD)
            else:
                dashed(0.0)
        for s, park in ((-1, self.park_l), (1, self.park_r)):
            u = self.edge[s] - s * (2.3 if park else 0.3)
            if rng.random() < 0.7:
                cv.poly(self.ground(u - wl / 2, u + wl / 2, zn, zf), white, ROAD)
        if rng.random() < 0.25:  # a painted arrow in the camera's lane
            uc = m2 + (self.cam_lane + 0.5) * self.lane_w
            z = rng.uniform(self.z_bottom + 2, 25)
            cv.poly(self.proj(np.array([uc - 0.15, uc + 0.15, uc + 0.15, uc + 0.45, uc, uc - 0.45, uc - 0.15]), 0,
                              np.array([z, z, z + 3, z + 3, z + 4.5, z + 3, z + 3])), white, ROAD)
        if self.has_x:  # zebra crossing and stop line before the cross street
            zc = self.zx0 - rng.uniform(3.0, 4.0)
            u = self.uL + 0.3
            while u < self.uR - 0.3:
                cv.poly(self.ground(u, min(u + 0.5, self.uR), zc, zc + 3.0), white, ROAD)
                u += 1.0
            cv.poly(self.ground(m2 if self.two_way else self.uL, self.uR, zc - 1.6, zc - 1.3), white, ROAD)

    def _cross_street(self, cv: _Canvas) -> None:
        z0, z1, sx = self.zx0, self.zx1, self.sx
        for s in (-1, 1):
            lo, hi = sorted((self.edge[s], self.edge[s] + s * 90.0))
            cv.poly(self.ground(lo, hi, z0, z1), self.paving, SIDEWALK)
        cv.poly(self.ground(-90.0, 90.0, z0 + sx, z1 - sx), self.asphalt, ROAD)
        for zz in (z0 + sx, z1 - sx):  # kerbs of the cross street
            for s in (-1, 1):
                lo, hi = sorted((self.edge[s], self.edge[s] + s * 90.0))
                cv.poly(self.proj(np.array([lo, hi, hi, lo]), np.array([0, 0, 0.13, 0.13]), zz), _col(self.paving, 1.08), SIDEWALK)

    # ---------------------------------------------------------------- shadows on the ground
    def draw_ground_shadows(self, cv: _Canvas) -> None:
        if self.sun <= 0:
            return
        rng = self.rng
        for b in self.blocks:
            # buildings on the sun's side throw a band of shadow onto the street
            if b.kind != "building" or b.side != self.sun_side:
                continue
            width = b.height * rng.uniform(0.2, 0.7)
            u_f = b.facade_u
            lo, hi = sorted((u_f, u_f - b.side * width))
            cv.shadow(self.ground(lo, hi, max(b.z0, 0.4), b.z1), self.sun)

    # ---------------------------------------------------------------- blocks along the street
    def plan_blocks(self) -> None:
        rng = self.rng
        for b in self.blocks:
            s = b.side
            if b.kind == "building":
                setback = 0.0 if rng.random() < 0.6 else rng.uniform(1.0, 5.0)
                self._plan_building(b, self.front_u[s] + s * setback, rng)
                if setback > 0:  # front gardens or forecourts behind a fence, hedge or low wall
                    self._plan_boundary(b, rng)
            elif b.kind == "park":
                self._plan_boundary(b, rng)
                n = int(rng.poisson((b.z1 - b.z0) / 5.0 * (0.5 + self.style.greenery)))
                for _ in range(n):
                    z = rng.uniform(b.z0, b.z1)
                    u = self.front_u[s] + s * rng.uniform(1.5, 30.0)
                    self._plan_tree(u, z, rng, scale=rng.uniform(0.9, 1.6))
                if rng.random() < 0.6:
                    bb = _Block(s, "building", b.z0 + rng.uniform(-5, 5), b.z1 + rng.uniform(-5, 5))
                    self._plan_building(bb, self.front_u[s] + s * rng.uniform(20, 45), rng, tall=True)
            elif b.kind == "lot":
                self._plan_boundary(b, rng)
                for _ in range(int(rng.poisson(2))):
                    z = rng.uniform(b.z0 + 2, b.z1 - 2)
                    u = self.front_u[s] + s * rng.uniform(2.5, 12)
                    self._plan_vehicle("car", u, z, rng, oncoming=rng.random() < 0.5)
                if rng.random() < 0.7:
                    bb = _Block(s, "building", b.z0, b.z1)
                    self._plan_building(bb, self.front_u[s] + s * rng.uniform(15, 30), rng)
            else:  # wall with buildings or trees behind
                self._plan_wall(b, self.front_u[s], rng.uniform(1.2, 3.0), rng)
                if rng.random() < 0.6:
                    bb = _Block(s, "building", b.z0, b.z1)
                    self._plan_building(bb, self.front_u[s] + s * rng.uniform(4, 14), rng)
                else:
                    for _ in range(int(rng.poisson((b.z1 - b.z0) / 6))):
                        self._plan_tree(self.front_u[s] + s * rng.uniform(2, 10), rng.uniform(b.z0, b.z1), rng)

    def _plan_boundary(self, b: _Block, rng: np.random.Generator) -> None:
        r = rng.random()
        u = self.front_u[b.side]
        if r < 0.4:
            self._plan_fence(b, u, rng)
        elif r < 0.7 and self.style.greenery > 0.3:
            self._plan_hedge(b, u, rng)
        elif r < 0.85:
            self._plan_wall(b, u, rng.uniform(0.4, 1.2), rng)

    def _plan_building(self, b: _Block, u_f: float, rng: np.random.Generator, tall: bool = False) -> None:
        st = self.style
        s = b.side
        storeys = int(rng.integers(st.storeys[0], st.storeys[1] + 1)) + (int(rng.integers(2, 6)) if tall else 0)
        floor_h = rng.uniform(2.8, 3.5)
        ground_h = rng.uniform(3.2, 4.6)
        height = ground_h + (storeys - 1) * floor_h + rng.uniform(0.3, 1.2)
        b.height, b.facade_u = height, u_f
        col = np.asarray(st.facades[int(rng.integers(len(st.facades)))], float)
        col = col * rng.uniform(0.85, 1.12) + rng.uniform(-10, 10, 3)
        glass = _col(np.array([55, 65, 78]) * rng.uniform(0.6, 1.4) + rng.uniform(-8, 8, 3))
        params = dict(
            s=s, u_f=u_f, z0=max(b.z0, 0.45), z1=b.z1, height=height, col=col, glass=glass, floor_h=floor_h,
            ground_h=ground_h, storeys=storeys, win_w=rng.uniform(0.9, 1.6), win_h=rng.uniform(1.2, 1.9),
            pitch=rng.uniform(2.2, 3.6), shop=rng.random() < 0.55, depth=rng.uniform(10, 25),
            roof=rng.random() < 0.35, roof_col=_jitter((120, 70, 55) if rng.random() < 0.6 else (80, 82, 88), rng),
            shop_col=_jitter(_CLOTHES[int(rng.integers(len(_CLOTHES)))], rng, 20), cornice=rng.random() < 0.6,
            seed=int(rng.integers(2**31)),
        )
        self.add(b.z1, lambda cv, p=params: self._draw_building(cv, **p))

    def _window_grid(self, cv: _Canvas, plane: str, fixed: float, a0: float, a1: float, p: dict, k_light: float) -> None:
        """Windows on a facade (plane 'side': along z at u = fixed) or a front face ('front': along u at z = fixed)."""
        rng = np.random.default_rng(p["seed"])
        pitch, ww, wh = p["pitch"], p["win_w"], p["win_h"]
        n_cols = int((a1 - a0 - 0.6) // pitch)
        if n_cols < 1:
            return
        centres = a0 + (a1 - a0 - n_cols * pitch) / 2 + pitch * (np.arange(n_cols) + 0.5)
        floors = [p["ground_h"] + j * p["floor_h"] + 0.85 for j in range(p["storeys"] - 1)]
        glass = np.asarray(p["glass"], float)
        if not floors:
            return
        y0 = np.asarray(floors)[:, None, None]
        y1 = y0 + min(wh, p["floor_h"] - 1.0)
        lo = centres[None, :, None] - ww / 2
        hi = centres[None, :, None] + ww / 2
        ys = np.broadcast_to(np.concatenate([y0, y0, y1, y1], axis=2), (len(floors), n_cols, 4))
        along = np.broadcast_to(np.concatenate([lo, hi, hi, lo], axis=2), (len(floors), n_cols, 4))
        pts = self.proj(fixed, ys, along) if plane == "side" else self.proj(along, ys, fixed)
        pts = pts.reshape(-1, 4, 2)
        n = len(pts)
        k_glass = rng.uniform(0.7, 1.5, n) * k_light
        bright = rng.random(n) >= 0.85
        k_bright = rng.uniform(0.7, 1.0, n)
        ext = pts.max(axis=1) - pts.min(axis=1)
        keep = (ext[:, 0] >= 1.0) & (ext[:, 1] >= 1.0)
        keep &= (pts[:, :, 0].max(1) >= 0) & (pts[:, :, 0].min(1) <= self.W) & (pts[:, :, 1].max(1) >= 0) & (pts[:, :, 1].min(1) <= self.H)
        for k in np.flatnonzero(keep):
            g = np.array([200, 205, 210.0]) * k_bright[k] if bright[k] else glass * k_glass[k]
            cv.poly(pts[k], _col(g), BUILDING)
        if p["shop"]:
            n = max(1, int((a1 - a0) // rng.uniform(4, 8)))
            edges = np.linspace(a0 + 0.4, a1 - 0.4, n + 1)
            for lo, hi in zip(edges[:-1], edges[1:]):
                lo, hi = lo + 0.25, hi - 0.25
                yy = np.array([0.4, 0.4, p["ground_h"] - 0.9, p["ground_h"] - 0.9])
                if plane == "side":
                    pts = self.proj(fixed, yy, np.array([lo, hi, hi, lo]))
                else:
                    pts = self.proj(np.array([lo, hi, hi, lo]), yy, fixed)
                cv.poly(pts, _col(glass * rng.uniform(0.6, 1.1)), BUILDING)
            yy = np.array([p["ground_h"] - 0.8, p["ground_h"] - 0.8, p["ground_h"] - 0.2, p["ground_h"] - 0.2])
            if plane == "side":
                pts = self.proj(fixed, yy, np.array([a0 + 0.3, a1 - 0.3, a1 - 0.3, a0 + 0.3]))
            else:
                pts = self.proj(np.array([a0 + 0.3, a1 - 0.3, a1 - 0.3, a0 + 0.3]), yy, fixed)
            cv.poly(pts, _col(np.asarray(p["shop_col"], float) * k_light), BUILDING)

    def _draw_building(self, cv: _Canvas, *, s: int, u_f: float, z0: float, z1: float, height: float, col: np.ndarray,
                       depth: float, roof: bool, roof_col: Color, cornice: bool, **p: object) -> None:
        u_back = u_f + s * depth
        k_front, k_side = self.lit(0), self.lit(-s)
        if roof:  # pitched roof rising away from the street
            rh = float(np.clip(depth * 0.25, 2.0, 4.5))
            zs = self._zs(z0, z1)
            a = self.proj(u_f, height, zs)
            b = self.proj(u_f + s * depth * 0.5, height + rh, zs[::-1])
            cv.poly(np.concatenate([a, b]), roof_col, BUILDING)
            tri = self.proj(np.array([u_f, u_f + s * depth * 0.5, u_back]), np.array([height, height + rh, height]), z0)
            cv.poly(tri, _col(col, k_front * 0.95), BUILDING)
        if z0 > 0.5:  # front face towards the camera
            lo, hi = sorted((u_f, u_back))
            cv.poly(self.front(lo, hi, 0, height, z0), _col(col, k_front), BUILDING)
            if cornice:
                cv.poly(self.front(lo, hi, height - 0.5, height, z0), _col(col, k_front * 0.8), BUILDING)
            cv.poly(self.front(lo, hi, 0, 0.5, z0), _col(col, k_front * 0.75), BUILDING)
            self._window_grid(cv, "front", z0, lo, hi, p, k_front)
        cv.poly(self.side(u_f, 0, height, z0, z1), _col(col, k_side), BUILDING)
        if cornice:
            cv.poly(self.side(u_f, height - 0.5, height, z0, z1), _col(col, k_side * 0.8), BUILDING)
        cv.poly(self.side(u_f, 0, 0.5, z0, z1), _col(col, k_side * 0.75), BUILDING)
        self._window_grid(cv, "side", u_f, z0, z1, p, k_side)

    def _plan_fence(self, b: _Block, u: float, rng: np.random.Generator) -> None:
        fh = rng.uniform(0.9, 2.0)
        col = _jitter((95, 100, 90) if rng.random() < 0.5 else (130, 100, 70), rng)
        post = _col(col, 0.7)
        spacing = rng.uniform(1.8, 3.0)
        z0, z1 = max(b.z0, 0.45), b.z1

        def draw(cv: _Canvas) -> None:
            cv.poly(self.side(u, 0, fh, z0, z1), col, FENCE)
            cv.poly(self.side(u, fh - 0.08, fh, z0, z1), post, FENCE)
            for z in np.arange(z0 + spacing / 2, z1, spacing):
                cv.poly(self.side(u, 0, fh + 0.05, z, z + 0.08), post, FENCE)
            for z in np.arange(z0, min(z1, 30.0), 0.25):  # bars, near only
                cv.poly(self.side(u, 0.05, fh - 0.08, z, z + 0.03), _col(col, 1.25), FENCE)

        self.add(z1, draw)

    def _plan_wall(self, b: _Block, u: float, wh: float, rng: np.random.Generator) -> None:
        col = _jitter((165, 160, 150) if rng.random() < 0.6 else (150, 95, 75), rng, 15)
        z0, z1, s = max(b.z0, 0.45), b.z1, b.side

        def draw(cv: _Canvas) -> None:
            k = self.lit(-s)
            if z0 > 0.5:
                cv.poly(self.front(*sorted((u, u + s * 0.3)), 0, wh, z0), _col(col, self.lit(0)), WALL)
            cv.poly(self.side(u, 0, wh, z0, z1), _col(col, k), WALL)
            cv.poly(self.side(u, wh - 0.12, wh, z0, z1), _col(col, k * 1.12), WALL)

        self.add(z1, draw)

    def _plan_hedge(self, b: _Block, u: float, rng: np.random.Generator) -> None:
        hh = rng.uniform(0.7, 1.9)
        c = self.greens[int(rng.integers(len(self.greens)))]
        z0, z1, s = max(b.z0, 0.45), b.z1, b.side
        seed = int(rng.integers(2**31))

        def draw(cv: _Canvas) -> None:
            r = np.random.default_rng(seed)
            cv.poly(self.side(u, 0, hh, z0, z1), _col(c, 0.85), VEG)
            if hh < self.h:
                cv.poly(self.ground(*sorted((u, u + s * 0.8)), z0, z1, y=hh), _col(c, 1.05), VEG)
            for z in np.arange(z0, min(z1, 60.0), 0.7):
                x, y = self.proj(u, hh, z + 0.35)
                rr = self.f / z * 0.4
                cv.ellipse(x, y, rr, rr * 0.7, _col(c, r.uniform(0.85, 1.15)), VEG)

        self.add(z1, draw)

    # ---------------------------------------------------------------- street furniture and vegetation
    def _plan_tree(self, u: float, z: float, rng: np.random.Generator, scale: float = 1.0) -> None:
        trunk_h = rng.uniform(1.8, 3.2) * scale
        trunk_w = rng.uniform(0.18, 0.38) * scale
        r = rng.uniform(1.5, 3.4) * scale
        cy = trunk_h + r * rng.uniform(0.7, 1.0)
        n = int(rng.integers(10, 20))
        ang = rng.uniform(0, 2 * np.pi, n)
        rad = np.sqrt(rng.uniform(0, 1, n))
        bx = np.cos(ang) * rad * r * 0.75
        by = np.sin(ang) * rad * r * rng.uniform(0.6, 0.9)
        br = r * rng.uniform(0.3, 0.55, n)
        order = np.argsort(by)  # lower blobs first: darker, behind
        shades = [self.greens[int(i)] for i in rng.integers(0, len(self.greens), n)]
        jit = rng.uniform(0.8, 1.15, n)
        bark = _jitter((92, 80, 68), rng, 10)
        sun = self.sun_side

        def draw(cv: _Canvas) -> None:
            cv.poly(self.bb(u, z, [-trunk_w / 2, trunk_w / 2, trunk_w * 0.3, -trunk_w * 0.3],
                            [0, 0, cy, cy]), bark, VEG)
            s = self.f / z
            x0, y0 = self.proj(u, cy, z)
            for i in order:
                light = jit[i] * (0.85 + 0.25 * (by[i] / r + 0.5)) * (1.0 + 0.08 * sun * np.sign(bx[i]))
                cv.ellipse(x0 + s * bx[i], y0 - s * by[i], s * br[i], s * br[i] * 0.9, _col(shades[i], light), VEG)

        if self.sun > 0:  # round shadow on the ground, offset away from the sun
            t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
            pts = self.proj(u - sun * r * 0.8 + r * 0.8 * np.cos(t), 0.0, z + r * 0.6 * np.sin(t) + 0.01)
            if z > 1.0:
                self.shadows.append((pts, self.sun * 0.8))
        self.add(z, draw)

    def _plan_streetlight(self, u: float, z: float, s: int, rng: np.random.Generator) -> None:
        hgt = rng.uniform(5.5, 9.0)
        w = rng.uniform(0.14, 0.24)
        arm = rng.uniform(0.8, 2.5)
        col = _jitter((110, 112, 110) if rng.random() < 0.6 else (55, 70, 60), rng, 10)

        def draw(cv: _Canvas) -> None:
            cv.poly(self.bb(u, z, [-w / 2, w / 2, w * 0.3, -w * 0.3], [0, 0, hgt, hgt]), col, POLE)
            ua = u - s * arm
            pts = self.proj(np.array([u, ua, ua, u]), np.array([hgt - 0.1, hgt - 0.1, hgt + 0.02, hgt + 0.02]), z)
            cv.poly(pts, col, POLE)
            cv.poly(self.proj(np.array([ua - 0.3, ua + 0.3, ua + 0.3, ua - 0.3]),
                              np.array([hgt - 0.25, hgt - 0.25, hgt - 0.05, hgt - 0.05]), z), _col(col, 0.8), POLE)

        self.add(z, draw)

    def _plan_sign(self, u: float, z: float, rng: np.random.Generator) -> None:
        hgt = rng.uniform(2.0, 3.0)
        kind = int(rng.integers(0, 5))
        size = rng.uniform(0.5, 0.85)
        pole_col = _jitter((140, 140, 140), rng, 10)
        colour_sets = [((200, 30, 30), (235, 235, 235)), ((30, 70, 160), (235, 235, 235)),
                       ((200, 30, 30), (240, 240, 240)), ((230, 190, 30), (30, 30, 30)), ((40, 110, 60), (235, 235, 235))]
        outer, inner = colour_sets[kind]

        def draw(cv: _Canvas) -> None:
            cv.poly(self.bb(u, z, [-0.035, 0.035, 0.035, -0.035], [0, 0, hgt, hgt]), pole_col, POLE)
            x, y = self.proj(u, hgt + size / 2, z)
            s = self.f / z
            r = s * size / 2
            if kind in (0, 1):  # round: red ring on white, or blue disc
                cv.ellipse(x, y, r, r, outer, TSIGN)
                if kind == 0:
                    cv.ellipse(x, y, r * 0.75, r * 0.75, inner, TSIGN)
                else:
                    cv.poly(np.array([[x - r * 0.5, y + r * 0.1], [x + r * 0.2, y + r * 0.1], [x + r * 0.2, y + r * 0.4],
                                      [x + r * 0.6, y], [x + r * 0.2, y - r * 0.4], [x + r * 0.2, y - r * 0.1],
                                      [x - r * 0.5, y - r * 0.1]]), inner, TSIGN)
            elif kind == 2:  # triangle
                cv.poly(np.array([[x - r, y + r * 0.8], [x + r, y + r * 0.8], [x, y - r]]), outer, TSIGN)
                cv.poly(np.array([[x - r * 0.6, y + r * 0.55], [x + r * 0.6, y + r * 0.55], [x, y - r * 0.45]]), inner, TSIGN)
            elif kind == 3:  # diamond
                cv.poly(np.array([[x - r, y], [x, y - r], [x + r, y], [x, y + r]]), outer, TSIGN)
                cv.poly(np.array([[x - r * 0.6, y], [x, y - r * 0.6], [x + r * 0.6, y], [x, y + r * 0.6]]), (240, 240, 240), TSIGN)
            else:  # rectangular panel
                cv.poly(np.array([[x - r * 1.3, y - r * 0.5], [x + r * 1.3, y - r * 0.5], [x + r * 1.3, y + r * 0.5],
                                  [x - r * 1.3, y + r * 0.5]]), outer, TSIGN)
                cv.poly(np.array([[x - r * 0.9, y - r * 0.08], [x + r * 0.9, y - r * 0.08], [x + r * 0.9, y + r * 0.08],
                                  [x - r * 0.9, y + r * 0.08]]), inner, TSIGN)

        self.add(z, draw)

    def _plan_traffic_light(self, u: float, z: float, s: int, rng: np.random.Generator, mast: bool) -> None:
        hgt = rng.uniform(2.6, 3.6)
        lit = int(rng.integers(0, 3))
        housing = _jitter((40, 42, 40) if rng.random() < 0.7 else (190, 170, 40), rng, 8)
        pole_col = _jitter((120, 122, 120), rng, 10)
        arm_len = rng.uniform(3.0, 7.0)
        arm_h = rng.uniform(5.2, 6.5)
        n_hang = 1 + int(rng.random() < 0.5)

        def head(cv: _Canvas, uu: float, yc: float) -> None:
            s_ = self.f / z
            x, y = self.proj(uu, yc, z)
            hw, hh = 0.17 * s_, 0.48 * s_
            cv.poly(np.array([[x - hw, y - hh], [x + hw, y - hh], [x + hw, y + hh], [x - hw, y + hh]]), housing, TLIGHT)
            on = ((255, 40, 30), (255, 170, 20), (60, 230, 120))
            off = ((70, 20, 20), (70, 55, 15), (20, 60, 35))
            for k in range(3):
                c = on[k] if k == lit else off[k]
                cv.ellipse(x, y + (k - 1) * 0.3 * s_, 0.1 * s_, 0.1 * s_, c, TLIGHT)

        def draw(cv: _Canvas) -> None:
            top = arm_h if mast else hgt + 0.6
            cv.poly(self.bb(u, z, [-0.08, 0.08, 0.07, -0.07], [0, 0, top, top]), pole_col, POLE)
            head(cv, u, hgt)
            if mast:
                ua = u - s * arm_len
                cv.poly(self.proj(np.array([u, ua, ua, u]), np.array([arm_h - 0.12, arm_h - 0.05, arm_h, arm_h]), z), pole_col, POLE)
                for k in range(n_hang):
                    head(cv, u - s * arm_len * (0.55 + 0.4 * k), arm_h - 0.6)

        self.add(z, draw)

    def _plan_static(self, u: float, z: float, rng: np.random.Generator) -> None:
        kind = int(rng.integers(0, 4))
        col = _jitter(((40, 70, 50), (90, 90, 95), (120, 90, 60), (150, 150, 150))[kind], rng, 10)
        w, hgt, depth = ((0.55, 1.0, 0.55), (0.9, 1.3, 0.4), (1.6, 0.5, 0.5), (0.25, 0.9, 0.25))[kind]
        self.add(z, lambda cv: self._box(cv, u - w / 2, u + w / 2, 0.0, hgt, z, z + depth, col, STATIC))

    def _plan_dynamic(self, u: float, z: float, rng: np.random.Generator) -> None:
        col = _jitter((50, 60, 110) if rng.random() < 0.5 else (60, 60, 60), rng, 10)

        def draw(cv: _Canvas) -> None:
            self._box(cv, u - 0.6, u + 0.6, 0.15, 1.25, z, z + 0.9, col, DYNAMIC)
            for du in (-0.45, 0.45):
                x, y = self.proj(u + du, 0.1, z)
                r = 0.1 * self.f / z
                cv.ellipse(x, y, r, r, (25, 25, 25), DYNAMIC)

        self.add(z, draw)

    # ---------------------------------------------------------------- vehicles
    def _box(self, cv: _Canvas, u0: float, u1: float, y0: float, y1: float, z0: float, z1: float,
             col: Color | np.ndarray, label: int, near_col: Color | None = None) -> None:
        """A road-aligned box: the visible side face, the top if below eye level, then the near face."""
        col_arr = np.asarray(col, float)
        if self.lateral(u0, z0) > 0:
            cv.poly(self.side(u0, y0, y1, z0, z1), _col(col_arr, self.lit(-1) * 0.95), label)
        elif self.lateral(u1, z0) < 0:
            cv.poly(self.side(u1, y0, y1, z0, z1), _col(col_arr, self.lit(1) * 0.95), label)
        if y1 < self.h:
            cv.poly(self.ground(u0, u1, z0, z1, y1), _col(col_arr, 1.08), label)
        cv.poly(self.front(u0, u1, y0, y1, z0), near_col or _col(col_arr, self.lit(0)), label)

    def _wheel_side(self, cv: _Canvas, u: float, zc: float, r: float, label: int) -> None:
        t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        cv.poly(self.proj(u, r + r * np.sin(t), zc + r * np.cos(t)), (22, 22, 24), label)
        cv.poly(self.proj(u, r + 0.45 * r * np.sin(t), zc + 0.45 * r * np.cos(t)), (120, 120, 125), label)

    def _plan_vehicle(self, kind: str, uc: float, z0: float, rng: np.random.Generator, oncoming: bool) -> None:
        if kind == "car":
            w, length = rng.uniform(1.65, 1.95), rng.uniform(3.9, 4.9)
            body_top, roof = rng.uniform(0.85, 1.05), rng.uniform(1.35, 1.65)
            if rng.random() < 0.12:  # van
                length, body_top, roof = rng.uniform(4.8, 5.6), rng.uniform(1.0, 1.2), rng.uniform(1.9, 2.3)
            col = _jitter(_CAR_COLOURS[int(rng.integers(len(_CAR_COLOURS)))], rng, 8, 0.06)
            label = CAR
        elif kind == "truck":
            w, length = rng.uniform(2.3, 2.55), rng.uniform(6.5, 10.0)
            body_top, roof = rng.uniform(3.0, 3.8), 0.0
            col = _jitter(((230, 230, 230), (200, 40, 40), (40, 80, 160), (220, 190, 60), (90, 110, 80))[int(rng.integers(5))], rng)
            label = TRUCK
        elif kind == "bus":
            w, length = 2.55, rng.uniform(11.0, 13.0)
            body_top, roof = rng.uniform(3.0, 3.3), 0.0
            col = _jitter(((225, 205, 40), (190, 30, 30), (235, 235, 235), (40, 90, 170), (60, 140, 80))[int(rng.integers(5))], rng)
            label = BUS
        else:  # tram
            w, length = 2.6, rng.uniform(25.0, 32.0)
            body_top, roof = 3.4, 0.0
            col = _jitter(((235, 235, 230), (200, 40, 40), (230, 200, 50))[int(rng.integers(3))], rng)
            label = TRAIN
        glass = _col(np.array([38, 44, 52]) * rng.uniform(0.7, 1.5))
        cab_front = rng.uniform(0.7, 1.1)
        cab_back = rng.uniform(0.8, 1.3)
        u0, u1, z1 = uc - w / 2, uc + w / 2, z0 + length
        light_on = rng.random() < 0.3
        pillar = rng.uniform(1.0, 1.6)  # spacing of bus/tram window pillars

        def draw(cv: _Canvas) -> None:
            dark = (25, 25, 27)
            if kind == "car":
                self._box(cv, u0 + 0.1, u1 - 0.1, 0.0, 0.4, z0 + 0.5, z1 - 0.5, dark, label)  # tyres under the body
                self._box(cv, u0, u1, 0.22, body_top, z0, z1, col, label)
                zc0, zc1 = z0 + (cab_front if oncoming else cab_back), z1 - (cab_back if oncoming else cab_front)
                self._box(cv, u0 + 0.12, u1 - 0.12, body_top, roof, zc0, zc1, col, label)
                # windows: the near window of the cabin and a band on the visible side
                cv.poly(self.proj(np.array([u0 + 0.2, u1 - 0.2, u1 - 0.22, u0 + 0.22]),
                                  np.array([body_top + 0.05, body_top + 0.05, roof - 0.08, roof - 0.08]),
                                  np.array([zc0 - 0.35, zc0 - 0.35, zc0, zc0])), glass, label)
                for uu, visible in ((u0 + 0.12, self.lateral(u0, z0) > 0), (u1 - 0.12, self.lateral(u1, z0) < 0)):
                    if visible:
                        cv.poly(self.side(uu, body_top + 0.08, roof - 0.1, zc0 + 0.1, zc1 - 0.1), glass, label)
                        self._wheel_side(cv, uu - 0.12 if uu < uc else uu + 0.12, z0 + 0.8, 0.32, label)
                        self._wheel_side(cv, uu - 0.12 if uu < uc else uu + 0.12, z1 - 0.8, 0.32, label)
                lamp = (240, 235, 210) if oncoming else ((255, 50, 40) if light_on else (160, 25, 25))
                for a, b in ((u0 + 0.08, u0 + 0.38), (u1 - 0.38, u1 - 0.08)):
                    cv.poly(self.front(a, b, body_top - 0.25, body_top - 0.08, z0 - 0.01), lamp, label)
                cv.poly(self.front(uc - 0.26, uc + 0.26, 0.38, 0.5, z0 - 0.01), (225, 225, 220), label)
                cv.poly(self.front(u0 + 0.05, u1 - 0.05, 0.22, 0.34, z0 - 0.01), _col(col, 0.5), label)
            elif kind in ("truck", "bus", "tram"):
                self._box(cv, u0 + 0.15, u1 - 0.15, 0.0, 0.55, z0 + 0.8, z1 - 1.0, dark, label)
                self._box(cv, u0, u1, 0.35, body_top, z0, z1, col, label)
                vis = [uu for uu, v in ((u0, self.lateral(u0, z0) > 0), (u1, self.lateral(u1, z0) < 0)) if v]
                if kind in ("bus", "tram"):
                    for uu in vis:
                        cv.poly(self.side(uu, 1.1, body_top - 0.45, z0 + 0.5, z1 - 0.5), glass, label)
                        zz = z0 + 0.5
                        while zz < z1 - 1.0:
                            cv.poly(self.side(uu, 1.1, body_top - 0.45, zz, zz + 0.12), _col(col, 0.7), label)
                            zz += pillar
                    cv.poly(self.front(u0 + 0.15, u1 - 0.15, 1.2 if oncoming else 1.9, body_top - 0.3, z0 - 0.01), glass, label)
                    cv.poly(self.front(u0 + 0.4, u1 - 0.4, body_top - 0.28, body_top - 0.06, z0 - 0.01), (40, 30, 10), label)
                else:
                    for uu in vis:
                        cv.poly(self.side(uu, 0.9, body_top - 0.2, z0 + 0.2, z1 - 0.2), _col(col, 0.9), label)
                    if oncoming:
                        cv.poly(self.front(u0 + 0.15, u1 - 0.15, 1.6, 2.5, z0 - 0.01), glass, label)
                    else:
                        cv.poly(self.front(uc - 0.03, uc + 0.03, 0.5, body_top - 0.1, z0 - 0.01), _col(col, 0.6), label)
                for uu in vis:
                    side_u = uu - 0.02 if uu < uc else uu + 0.02
                    self._wheel_side(cv, side_u, z0 + 1.2, 0.5, label)
                    self._wheel_side(cv, side_u, z1 - 1.5, 0.5, label)
                lamp = (240, 235, 210) if oncoming else (170, 30, 25)
                for a, b in ((u0 + 0.1, u0 + 0.4), (u1 - 0.4, u1 - 0.1)):
                    cv.poly(self.front(a, b, 0.6, 0.85, z0 - 0.02), lamp, label)
                if kind == "tram":
                    cv.line(self.proj(np.array([uc - 0.6, uc, uc + 0.6]), np.array([body_top, body_top + 1.2, body_top]), z0 + 6),
                            max(1.0, 0.05 * self.f / z0), (40, 40, 40), label)

        if z0 > 0.8:
            self.shadows.append((self.ground(u0 - 0.15, u1 + 0.15, z0 - 0.25, z1 + 0.3), 0.45 + self.sun * 0.4))
        self.add(z0, draw)

    # ---------------------------------------------------------------- people
    def _person_parts(self, cv: _Canvas, u: float, z: float, p: dict, label: int, base_y: float = 0.0,
                      seated: bool = False, dx0: float = 0.0) -> None:
        hp = p["hp"]
        top, bottom, skin, hair, phase = p["top"], p["bottom"], p["skin"], p["hair"], p["phase"]

        def q(dx: list, dy: list) -> np.ndarray:
            return self.bb(u, z, np.asarray(dx) + dx0, np.asarray(dy) + base_y)

        hip = 0.5 * hp
        if not seated:
            for sgn in (-1, 1):
                foot = sgn * 0.05 + 0.16 * phase * sgn
                cv.poly(q([sgn * 0.03 - 0.065, sgn * 0.03 + 0.065, foot + 0.06, foot - 0.06], [hip, hip, 0, 0]), bottom, label)
                cv.poly(q([foot - 0.07, foot + 0.09, foot + 0.09, foot - 0.07], [0, 0, 0.07, 0.07]), (30, 28, 26), label)
        cv.poly(q([-0.16, 0.16, 0.21, -0.21], [hip - 0.03, hip - 0.03, 0.82 * hp, 0.82 * hp]), top, label)
        for sgn in (-1, 1):
            sw = -0.1 * phase * sgn
            cv.poly(q([sgn * 0.17, sgn * 0.25, sgn * 0.24 + sw, sgn * 0.17 + sw], [0.81 * hp, 0.81 * hp, 0.46 * hp, 0.46 * hp]), top, label)
            cv.ellipse(*self.bb(u, z, sgn * 0.205 + sw + dx0, 0.44 * hp + base_y), 0.04 * self.f / z, 0.05 * self.f / z, skin, label)
        cv.poly(q([-0.045, 0.045, 0.045, -0.045], [0.8 * hp, 0.8 * hp, 0.87 * hp, 0.87 * hp]), skin, label)
        hx, hy = self.bb(u, z, dx0, 0.93 * hp + base_y)
        s = self.f / z
        cv.ellipse(hx, hy, 0.075 * hp * s, 0.075 * hp * s * 1.2, skin, label)
        cv.ellipse(hx, hy - 0.035 * hp * s, 0.078 * hp * s, 0.06 * hp * s, hair, label)
        if p.get("bag") and not seated:
            sgn = p["bag"]
            cv.poly(q([sgn * 0.22, sgn * 0.34, sgn * 0.34, sgn * 0.22], [0.45 * hp, 0.45 * hp, 0.62 * hp, 0.62 * hp]), p["bag_col"], label)

    def _person_params(self, rng: np.random.Generator) -> dict:
        return dict(
            hp=rng.uniform(1.5, 1.95), top=_jitter(_CLOTHES[int(rng.integers(len(_CLOTHES)))], rng, 10),
            bottom=_jitter(_CLOTHES[int(rng.integers(len(_CLOTHES)))], rng, 10, 0.05),
            skin=_jitter(_SKIN[int(rng.integers(len(_SKIN)))], rng, 6, 0.05),
            hair=_jitter(((30, 25, 20), (80, 60, 40), (160, 130, 80), (120, 120, 120))[int(rng.integers(4))], rng, 6),
            phase=rng.uniform(-1, 1), bag=int(rng.choice([-1, 0, 0, 1])),
            bag_col=_jitter(_CLOTHES[int(rng.integers(len(_CLOTHES)))], rng),
        )

    def _plan_person(self, u: float, z: float, rng: np.random.Generator) -> None:
        p = self._person_params(rng)
        self.add(z, lambda cv: self._person_parts(cv, u, z, p, PERSON))
        if z > 1.0:
            self.shadows.append((self.ground(u - 0.3, u + 0.3, z - 0.15, z + 0.3), 0.35 + 0.3 * self.sun))

    def _plan_bike_side(self, u: float, z: float, rng: np.random.Generator, motor: bool, rider: bool) -> None:
        """A bicycle or motorcycle seen from the side (crossing the street, or parked across it)."""
        d = 1 if rng.random() < 0.5 else -1
        frame = _jitter(((30, 30, 30), (160, 20, 20), (20, 60, 140), (200, 200, 200), (30, 110, 60))[int(rng.integers(5))], rng)
        p = self._person_params(rng)
        label = MOTO if motor else BIKE
        r = 0.3 if motor else 0.34
        base = 0.7 if motor else 0.52
        helmet = rng.random() < 0.5

        def draw(cv: _Canvas) -> None:
            s = self.f / z
            for sgn in (-1, 1):
                x, y = self.bb(u, z, sgn * base, r)
                if motor:
                    cv.ellipse(x, y, r * s, r * s, (22, 22, 22), label)
                    cv.ellipse(x, y, 0.45 * r * s, 0.45 * r * s, (130, 130, 135), label)
                else:
                    cv.ring(x, y, r * s, r * s, 0.05 * s, (25, 25, 25), label)
            if motor:
                cv.poly(self.bb(u, z, d * np.array([-0.7, -0.35, 0.15, 0.55, 0.7, 0.35, -0.2, -0.75]),
                                [0.45, 0.35, 0.3, 0.45, 0.75, 0.95, 0.85, 0.75]), frame, label)
                cv.poly(self.bb(u, z, d * np.array([0.55, 0.62, 0.72, 0.65]), [0.75, 1.05, 1.05, 0.75]), (30, 30, 30), label)
            else:
                pts = self.bb(u, z, d * np.array([-base, -0.12, 0.38, base, 0.38, -0.12, -base]),
                              [r, 0.35, 0.88, r, 0.88, 0.86, r])
                cv.line(pts, 0.035 * s, frame, label)
                cv.line(self.bb(u, z, d * np.array([0.38, 0.42, 0.3]), [0.88, 1.02, 1.05]), 0.03 * s, (30, 30, 30), label)
                cv.line(self.bb(u, z, d * np.array([-0.12, -0.16]), [0.86, 0.95]), 0.03 * s, (30, 30, 30), label)
                cv.poly(self.bb(u, z, d * np.array([-0.3, -0.05, -0.05, -0.3]), [0.95, 0.95, 1.0, 1.0]), (20, 20, 20), label)
            if rider:
                hp = p["hp"]
                seat_dx = -0.15 if not motor else -0.1
                lift = 0.95 - 0.48 * hp
                q = lambda dx, dy: self.bb(u, z, d * np.asarray(dx), np.asarray(dy))  # noqa: E731
                cv.poly(q([seat_dx - 0.08, seat_dx + 0.08, 0.12, -0.02], [0.95, 0.95, 0.35, 0.35]), p["bottom"], RIDER)
                cv.poly(q([seat_dx - 0.1, seat_dx + 0.14, 0.1 + seat_dx + 0.25, seat_dx + 0.1],
                          [0.93, 0.93, 0.82 * hp + lift, 0.85 * hp + lift]), p["top"], RIDER)
                cv.poly(q([seat_dx + 0.22, seat_dx + 0.3, 0.44, 0.38], [0.78 * hp + lift, 0.8 * hp + lift, 1.02, 0.98]), p["top"], RIDER)
                hx, hy = q(seat_dx + 0.3, 0.93 * hp + lift)
                cv.ellipse(hx, hy, 0.13 * s, 0.15 * s, (35, 35, 40) if motor or helmet else p["skin"], RIDER)

        self.add(z, draw)

    def _plan_cyclist_rear(self, u: float, z: float, rng: np.random.Generator, motor: bool) -> None:
        """A cyclist or motorcyclist riding ahead of the camera (seen from behind) or towards it."""
        p = self._person_params(rng)
        label = MOTO if motor else BIKE
        frame = _jitter(((30, 30, 30), (160, 20, 20), (20, 60, 140), (200, 200, 200))[int(rng.integers(4))], rng)

        def draw(cv: _Canvas) -> None:
            tw = 0.14 if motor else 0.045
            q = lambda dx, dy: self.bb(u, z, dx, dy)  # noqa: E731
            cv.poly(q([-tw / 2, tw / 2, tw / 2, -tw / 2], [0, 0, 0.62 if motor else 0.68, 0.62 if motor else 0.68]), (25, 25, 25), label)
            if motor:
                cv.poly(q([-0.3, 0.3, 0.28, -0.28], [0.4, 0.4, 0.85, 0.85]), frame, label)
                cv.poly(q([-0.08, 0.08, 0.08, -0.08], [0.6, 0.6, 0.7, 0.7]), (200, 30, 30), label)
            else:
                cv.poly(q([-0.1, 0.1, 0.1, -0.1], [0.85, 0.85, 0.92, 0.92]), (20, 20, 20), label)
                cv.line(q([-0.28, 0.28], [1.0, 1.0]), max(1.0, 0.03 * self.f / z), (30, 30, 30), label)
            y_seat = 0.85 if motor else 0.92
            for sgn in (-1, 1):
                cv.poly(q([sgn * 0.05, sgn * 0.17, sgn * 0.14, sgn * 0.06], [y_seat, y_seat, 0.3, 0.3]), p["bottom"], RIDER)
            cv.poly(q([-0.19, 0.19, 0.22, -0.22], [y_seat, y_seat, y_seat + 0.55, y_seat + 0.55]), p["top"], RIDER)
            for sgn in (-1, 1):
                cv.poly(q([sgn * 0.18, sgn * 0.24, sgn * 0.3, sgn * 0.24], [y_seat + 0.5, y_seat + 0.5, 1.0, 1.0]), p["top"], RIDER)
            hx, hy = q(0.0, y_seat + 0.68)
            s = self.f / z
            cv.ellipse(hx, hy, 0.12 * s, 0.14 * s, (35, 35, 40) if motor else p["hair"], RIDER)

        if z > 1.0:
            self.shadows.append((self.ground(u - 0.3, u + 0.3, z - 0.4, z + 1.2), 0.3 + 0.3 * self.sun))
        self.add(z, draw)

    # ---------------------------------------------------------------- populate the street
    def plan_street(self) -> None:
        rng, st = self.rng, self.style
        zb = self.z_bottom
        m2 = self.median / 2
        # moving traffic, lane by lane
        lanes = [(m2 + (k + 0.5) * self.lane_w, False) for k in range(self.n_right)]
        lanes += [(-m2 - (k + 0.5) * self.lane_w, True) for k in range(self.n_left)]
        if self.tram:
            self.tram_u = lanes[int(rng.integers(len(lanes)))][0]
            ztr = rng.uniform(zb + 6, 45)
            self._plan_vehicle("tram", self.tram_u, ztr, rng, oncoming=rng.random() < 0.5)
        for k, (uc, oncoming) in enumerate(lanes):
            own = k == self.cam_lane and not oncoming
            z = (zb + rng.uniform(6, 25)) if own else (zb * rng.uniform(0.4, 1.0) + rng.uniform(0, 14))
            while z < 110:
                r = rng.random()
                kind = "car" if r < 0.92 or z < zb + 12 else "truck" if r < 0.96 else "bus"
                if self.tram and abs(uc - self.tram_u) < 0.1 and ztr - 15 < z < ztr + 32:
                    z += 20
                    continue
                if rng.random() < (0.4 if z > zb + 6 else 0.2):
                    self._plan_vehicle(kind, uc + rng.uniform(-0.3, 0.3), max(z, 0.9), rng, oncoming)
                length = {"car": 4.5, "truck": 9.0, "bus": 12.0}[kind]
                z += length + rng.uniform(3.0, 30.0)
        # parked cars
        for s, park in ((-1, self.park_l), (1, self.park_r)):
            if not park:
                continue
            z = zb * rng.uniform(0.2, 0.9)
            while z < 90:
                if rng.random() < (0.5 if z > zb + 6 else 0.25) and not self.in_x(z - 6, z + 6):
                    self._plan_vehicle("car", self.edge[s] - s * 1.15, max(z, 0.9), rng,
                                       oncoming=rng.random() < 0.3)
                z += rng.uniform(5.3, 7.5)
        # cyclists and motorcyclists in the traffic
        for _ in range(int(rng.poisson(0.7))):
            motor = rng.random() < 0.4
            u = self.uR - (2.3 if self.park_r else 0) - rng.uniform(0.5, 1.2) if rng.random() < 0.7 else rng.uniform(self.uL + 0.5, self.uR - 0.5)
            self._plan_cyclist_rear(u, rng.uniform(zb + 1.5, 50), rng, motor)
        # sidewalks: trees, lamp posts, signs, bins, people, parked bicycles
        for s in (-1, 1):
            e, w = self.edge[s], self.sw[s]
            curb_u = e + s * 0.5
            if rng.random() < st.greenery:
                spacing = rng.uniform(7, 14)
                z = rng.uniform(-2, spacing)
                u_tree = e + s * min(rng.uniform(0.7, 1.3), w - 0.4)
                while z < 130:
                    if not self.in_x(z - 2, z + 2) and z > 0.8:
                        self._plan_tree(u_tree, z + rng.uniform(-1, 1), rng, scale=rng.uniform(0.8, 1.3))
                    z += spacing * rng.uniform(0.8, 1.2)
            spacing = rng.uniform(18, 35)
            z = rng.uniform(0, spacing)
            while z < 140:
                if not self.in_x(z - 1, z + 1) and z > 0.8:
                    self._plan_streetlight(curb_u, z, s, rng)
                z += spacing
            for _ in range(int(rng.poisson(2.0))):
                z = rng.uniform(zb * 0.8, 60)
                if not self.in_x(z - 1, z + 1):
                    self._plan_sign(curb_u + s * 0.1, z, rng)
            for _ in range(int(rng.poisson(0.9))):
                z = rng.uniform(zb * 0.7, 50)
                u = (e + s * rng.uniform(0.4, 0.8)) if rng.random() < 0.5 else (e + s * (w - 0.5))
                if not self.in_x(z - 1, z + 2):
                    self._plan_static(u, z, rng)
            if rng.random() < 0.12:
                z = rng.uniform(zb, 40)
                if not self.in_x(z - 1, z + 2):
                    self._plan_dynamic(e + s * (w - 0.8), z, rng)
            n_people = int(rng.poisson(2.5 + 3.5 * rng.random()))
            for _ in range(n_people):
                z = rng.uniform(zb * 0.8, 65)
                u = e + s * rng.uniform(0.5, max(0.6, w - 0.3))
                if not self.in_x(z, z):
                    self._plan_person(u, z, rng)
                    if rng.random() < 0.25:  # walking together
                        self._plan_person(u + s * rng.uniform(0.5, 0.8), z + rng.uniform(-0.4, 0.6), rng)
            for _ in range(int(rng.poisson(0.8))):  # parked bicycles (in a row) or a motorcycle
                z = rng.uniform(zb * 0.9, 35)
                motor = rng.random() < 0.25
                for k in range(1 if motor else int(rng.integers(1, 5))):
                    zk = z + k * rng.uniform(0.55, 0.8)
                    if not self.in_x(zk - 1, zk + 1):
                        self._plan_bike_side(e + s * (w - 0.6), zk, rng, motor=motor, rider=False)
        # the crossing: lights, pedestrians, crossing riders
        if self.has_x:
            mast = rng.random() < 0.5
            for s in (-1, 1):
                self._plan_traffic_light(self.edge[s] + s * 0.5, self.zx0 + 0.5, s, rng, mast and s == 1)
                if rng.random() < 0.6:
                    self._plan_traffic_light(self.edge[s] + s * 0.5, self.zx1 - 0.5, s, rng, False)
            zc = self.zx0 - rng.uniform(2.5, 3.5)
            for _ in range(int(rng.poisson(1.5))):
                self._plan_person(rng.uniform(self.uL + 0.3, self.uR - 0.3), zc + rng.uniform(0, 2.8), rng)
            for _ in range(int(rng.poisson(0.5))):
                self._plan_bike_side(rng.uniform(self.uL + 1, self.uR - 1), self.zx0 + self.sx + rng.uniform(1, 5), rng,
                                     motor=rng.random() < 0.4, rider=True)
        elif rng.random() < 0.3:  # a pedestrian light without a crossing street
            s = 1 if rng.random() < 0.5 else -1
            self._plan_traffic_light(self.edge[s] + s * 0.5, rng.uniform(zb + 4, 40), s, rng, False)

    # ---------------------------------------------------------------- ego vehicle
    def draw_ego(self, cv: _Canvas) -> None:
        rng = self.rng
        hh = self.H * rng.uniform(0.035, 0.075)
        xs = np.linspace(-2, self.W + 2, 24)
        t = (xs - self.W / 2) / (self.W / 2)
        top = self.H - hh + hh * 0.7 * t**2
        pts = np.concatenate([np.stack([xs, top], 1), [[self.W + 2, self.H + 2], [-2, self.H + 2]]])
        base = np.full(3, rng.uniform(25, 150))
        cv.poly(pts, _col(base), EGO)
        band = np.concatenate([np.stack([xs, top + hh * 0.15], 1), np.stack([xs[::-1], top[::-1] + hh * 0.35], 1)])
        cv.poly(band, _col(base * 1.35 + 20), EGO)

    # ---------------------------------------------------------------- render
    def render(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        self.shadows: list[tuple[np.ndarray, float]] = []
        self.layout()
        self.plan_blocks()
        self.plan_street()
        cv = _Canvas(self.sky())
        self.clouds(cv)
        self.draw_ground(cv)
        self.draw_ground_shadows(cv)
        for pts, strength in self.shadows:
            cv.shadow(pts, strength)
        for _, _, fn in sorted(self.items, key=lambda t: (-t[0], t[1])):
            fn(cv)
        self.draw_ego(cv)
        return self._finish(cv, rng)

    def _finish(self, cv: _Canvas, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        H, W = self.H, self.W
        lab = np.asarray(cv.lab, dtype=np.uint8).copy()
        img = np.asarray(cv.img, dtype=np.float32) / 255.0
        img *= 1.0 - np.asarray(cv.shade, dtype=np.float32)[..., None] / 255.0

        def smooth_noise(h: int, w: int) -> np.ndarray:
            small = rng.standard_normal((max(h, 2), max(w, 2))).astype(np.float32)
            return np.asarray(Image.fromarray(small, mode="F").resize((W, H), Image.BILINEAR))

        fine = rng.standard_normal((H, W)).astype(np.float32)
        med = smooth_noise(H // 4, W // 4)
        coarse = smooth_noise(H // 32, W // 32)
        tex = 1.0 + _TEX_FINE[lab] * fine + _TEX_MED[lab] * med * 1.6
        img *= tex[..., None]
        # illumination: exposure, colour cast, slow brightness changes, vignetting, gamma
        gain = rng.uniform(0.72, 1.22)
        cast = 1.0 + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
        vign = 1.0 - rng.uniform(0.0, 0.25) * r2 / 2
        light = gain * vign * (1.0 + rng.uniform(0.02, 0.08) * coarse)
        img = img * light[..., None] * cast
        img = np.clip(img, 0.0, 1.0) ** rng.uniform(0.85, 1.15)
        u8 = Image.fromarray(np.round(img * 255).astype(np.uint8), "RGB")
        u8 = u8.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8) * W / 512))
        out = np.asarray(u8, dtype=np.float32) + rng.normal(0.0, rng.uniform(1.0, 4.0), (H, W, 1)).astype(np.float32)
        return np.clip(np.round(out), 0, 255).astype(np.uint8), lab


def render_scene(height: int, width: int, rng: np.random.Generator, city: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render one street scene.

    Args:
        height, width: image size in pixels.
        rng: source of all randomness.
        city: one of the names in ``CITIES`` (selects the city's look), or None for a mixed style.

    Returns:
        ``(rgb, label_ids)``: uint8 HxWx3 image and uint8 HxW Cityscapes labelIds.
    """
    if city is not None and city not in _STYLES:
        raise ValueError(f"city must be one of {sorted(_STYLES)} or None, got {city!r}")
    if not _is_int(height) or not _is_int(width) or height < 16 or width < 16:
        raise ValueError(f"height and width must be integers >= 16, got {height!r} x {width!r}")
    style = _STYLES[city] if city is not None else _DEFAULT_STYLE
    return _Scene(int(height), int(width), rng, style).render()


# --------------------------------------------------------------------------- #
# Dataset writer                                                              #
# --------------------------------------------------------------------------- #

_README_TITLE = "# Synthetic Cityscapes-style street scenes (soundflow street_scenes)"


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _validate(n_train: object, n_val: object, n_test: object, height: object, width: object, seed: object) -> None:
    for name, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not _is_int(v) or v < 0:  # type: ignore[operator]
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if n_train + n_val + n_test < 1:  # type: ignore[operator]
        raise ValueError("n_train + n_val + n_test must be >= 1: nothing to generate")
    for name, v in (("height", height), ("width", width)):
        if not _is_int(v) or not 32 <= v <= 4096:  # type: ignore[operator]
            raise ValueError(f"{name} must be an integer in 32..4096 pixels, got {v!r}")
    if not _is_int(seed) or seed < 0:  # type: ignore[operator]
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _readme_text(params: dict[str, object], counts: dict[str, int]) -> str:
    lines = [
        _README_TITLE,
        "",
        "Procedurally generated street scenes in the Cityscapes layout, for semantic segmentation",
        "(`leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`,",
        "`gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png` and `..._gtFine_color.png`).",
        "No photograph is involved: every image is drawn from a seeded scene model (perspective street,",
        "buildings, vegetation, road users, lighting). Labels are Cityscapes labelIds; map them to the 19",
        "trainIds with `tasks.segmentation.cityscapes.LABEL_TO_TRAIN`. Instance ids and polygon files",
        "are not written. The test split carries true labels (the real one withholds them).",
        "",
        f"- Generator: `tasks.datasets.street_scenes.generate_street_scenes` (model version {GENERATOR_VERSION})",
    ]
    lines += [f"- {k}: `{v}`" for k, v in params.items()]
    lines += ["- Images: " + ", ".join(f"{s} {n}" for s, n in counts.items())]
    lines += [
        "",
        "Image i of split s (train 0, val 1, test 2) is rendered from",
        "`numpy.random.default_rng([seed, s, i])` and belongs to city `CITIES[split][i % n_cities]`,",
        f"sequence `i // n_cities`, frame {FRAME}. Re-running the generator with the same parameters",
        "reproduces these files byte for byte.",
        "",
        *CC0_README_SECTION,
    ]
    return "\n".join(lines)


def _save_png(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, format="PNG", compress_level=4)


def generate_street_scenes(
    out_dir: Path,
    *,
    n_train: int,
    n_val: int,
    n_test: int = 0,
    height: int = 256,
    width: int = 512,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write procedural street scenes in the Cityscapes layout under ``out_dir`` and return it.

    Image ``i`` of split ``s`` (train 0, val 1, test 2) is rendered from
    ``np.random.default_rng([seed, s, i])`` and named
    ``<city>_<i // n_cities:06d>_000019`` with ``city = CITIES[split][i % n_cities]``, so it does not
    depend on how many images are generated. The dataset is built in a sibling temporary directory
    and moved into place with a rename, replacing a previous output of this function at
    ``out_dir``; an interrupted run never leaves a complete-looking ``out_dir``.

    Args:
        out_dir: dataset root to create; an earlier output of this function there is replaced.
        n_train, n_val, n_test: images per split (>= 0 each, >= 1 in all); a split with 0 images
            gets no folder.
        height, width: image size in pixels (32..4096 each).
        seed: base seed (non-negative integer).
        progress: show a tqdm progress bar.

    Returns:
        ``out_dir``.

    Raises:
        ValueError: naming the offending argument when an argument is invalid.
        FileExistsError: if ``out_dir`` exists, is not empty and was not written by this function.
    """
    _validate(n_train, n_val, n_test, height, width, seed)
    out_dir = Path(out_dir)
    counts = {"train": int(n_train), "val": int(n_val), "test": int(n_test)}
    with generated_folder(out_dir, _README_TITLE, "street_scenes.generate_street_scenes") as tmp:
        jobs = [(si, split, i) for si, split in enumerate(SPLITS) for i in range(counts[split])]
        for si, split, i in tqdm(jobs, desc="street_scenes", unit="img", disable=not progress):
            cities = CITIES[split]
            city = cities[i % len(cities)]
            stem = f"{city}_{i // len(cities):06d}_{FRAME:06d}"
            rgb, ids = render_scene(height, width, np.random.default_rng([seed, si, i]), city)
            img_dir = tmp / "leftImg8bit" / split / city
            gt_dir = tmp / "gtFine" / split / city
            img_dir.mkdir(parents=True, exist_ok=True)
            gt_dir.mkdir(parents=True, exist_ok=True)
            _save_png(rgb, img_dir / f"{stem}_leftImg8bit.png")
            _save_png(ids, gt_dir / f"{stem}_gtFine_labelIds.png")
            _save_png(ID_TO_COLOR[ids], gt_dir / f"{stem}_gtFine_color.png")
        params = {"height": height, "width": width, "seed": seed, "cities": {s: list(c) for s, c in CITIES.items()}}
        (tmp / "README.md").write_text(_readme_text(params, counts), encoding="utf-8")

    return out_dir
