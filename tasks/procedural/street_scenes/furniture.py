"""Street furniture and trees: trees, lamp posts, signs, traffic lights, bins and benches, containers."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import DYNAMIC, POLE, STATIC, TLIGHT, TSIGN, VEG
from tasks.procedural.street_scenes.palette import jitter, tint
from tasks.procedural.street_scenes.scene import Scene
from tasks.procedural.street_scenes.solids import box


def plan_tree(sc: Scene, u: float, z: float, rng: np.random.Generator, scale: float = 1.0) -> None:
    """A street or park tree (trunk and a crown of leaf blobs), with a round shadow when sunny."""
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
    shades = [sc.greens[int(i)] for i in rng.integers(0, len(sc.greens), n)]
    jit = rng.uniform(0.8, 1.15, n)
    bark = jitter((92, 80, 68), rng, 10)
    sun = sc.sun_side

    def draw(cv: Canvas) -> None:
        cv.poly(sc.bb(u, z, [-trunk_w / 2, trunk_w / 2, trunk_w * 0.3, -trunk_w * 0.3], [0, 0, cy, cy]), bark, VEG)
        s = sc.f / z
        x0, y0 = sc.proj(u, cy, z)
        for i in order:
            light = jit[i] * (0.85 + 0.25 * (by[i] / r + 0.5)) * (1.0 + 0.08 * sun * np.sign(bx[i]))
            cv.ellipse(x0 + s * bx[i], y0 - s * by[i], s * br[i], s * br[i] * 0.9, tint(shades[i], light), VEG)

    if sc.sun > 0:  # round shadow on the ground, offset away from the sun
        t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        pts = sc.proj(u - sun * r * 0.8 + r * 0.8 * np.cos(t), 0.0, z + r * 0.6 * np.sin(t) + 0.01)
        if z > 1.0:
            sc.shadows.append((pts, sc.sun * 0.8))
    sc.add(z, draw)


def plan_streetlight(sc: Scene, u: float, z: float, s: int, rng: np.random.Generator) -> None:
    """A lamp post at the kerb on side ``s``, its arm over the road."""
    hgt = rng.uniform(5.5, 9.0)
    w = rng.uniform(0.14, 0.24)
    arm = rng.uniform(0.8, 2.5)
    col = jitter((110, 112, 110) if rng.random() < 0.6 else (55, 70, 60), rng, 10)

    def draw(cv: Canvas) -> None:
        cv.poly(sc.bb(u, z, [-w / 2, w / 2, w * 0.3, -w * 0.3], [0, 0, hgt, hgt]), col, POLE)
        ua = u - s * arm
        pts = sc.proj(np.array([u, ua, ua, u]), np.array([hgt - 0.1, hgt - 0.1, hgt + 0.02, hgt + 0.02]), z)
        cv.poly(pts, col, POLE)
        cv.poly(
            sc.proj(
                np.array([ua - 0.3, ua + 0.3, ua + 0.3, ua - 0.3]),
                np.array([hgt - 0.25, hgt - 0.25, hgt - 0.05, hgt - 0.05]),
                z,
            ),
            tint(col, 0.8),
            POLE,
        )

    sc.add(z, draw)


def plan_sign(sc: Scene, u: float, z: float, rng: np.random.Generator) -> None:
    """A traffic sign on a pole: round (prohibition or mandatory), triangle, diamond or panel."""
    hgt = rng.uniform(2.0, 3.0)
    kind = int(rng.integers(0, 5))
    size = rng.uniform(0.5, 0.85)
    pole_col = jitter((140, 140, 140), rng, 10)
    colour_sets = [
        ((200, 30, 30), (235, 235, 235)),
        ((30, 70, 160), (235, 235, 235)),
        ((200, 30, 30), (240, 240, 240)),
        ((230, 190, 30), (30, 30, 30)),
        ((40, 110, 60), (235, 235, 235)),
    ]
    outer, inner = colour_sets[kind]

    def draw(cv: Canvas) -> None:
        cv.poly(sc.bb(u, z, [-0.035, 0.035, 0.035, -0.035], [0, 0, hgt, hgt]), pole_col, POLE)
        x, y = sc.proj(u, hgt + size / 2, z)
        s = sc.f / z
        r = s * size / 2
        if kind in (0, 1):  # round: red ring on white, or blue disc
            cv.ellipse(x, y, r, r, outer, TSIGN)
            if kind == 0:
                cv.ellipse(x, y, r * 0.75, r * 0.75, inner, TSIGN)
            else:
                cv.poly(
                    np.array(
                        [
                            [x - r * 0.5, y + r * 0.1],
                            [x + r * 0.2, y + r * 0.1],
                            [x + r * 0.2, y + r * 0.4],
                            [x + r * 0.6, y],
                            [x + r * 0.2, y - r * 0.4],
                            [x + r * 0.2, y - r * 0.1],
                            [x - r * 0.5, y - r * 0.1],
                        ]
                    ),
                    inner,
                    TSIGN,
                )
        elif kind == 2:  # triangle
            cv.poly(np.array([[x - r, y + r * 0.8], [x + r, y + r * 0.8], [x, y - r]]), outer, TSIGN)
            cv.poly(
                np.array([[x - r * 0.6, y + r * 0.55], [x + r * 0.6, y + r * 0.55], [x, y - r * 0.45]]), inner, TSIGN
            )
        elif kind == 3:  # diamond
            cv.poly(np.array([[x - r, y], [x, y - r], [x + r, y], [x, y + r]]), outer, TSIGN)
            cv.poly(
                np.array([[x - r * 0.6, y], [x, y - r * 0.6], [x + r * 0.6, y], [x, y + r * 0.6]]),
                (240, 240, 240),
                TSIGN,
            )
        else:  # rectangular panel
            cv.poly(_panel(x, y, r * 1.3, r * 0.5), outer, TSIGN)
            cv.poly(_panel(x, y, r * 0.9, r * 0.08), inner, TSIGN)

    sc.add(z, draw)


def _panel(x: float, y: float, half_width: float, half_height: float) -> np.ndarray:
    """The corners of an upright rectangle centred on (x, y), clockwise from the top left."""
    return np.array(
        [
            [x - half_width, y - half_height],
            [x + half_width, y - half_height],
            [x + half_width, y + half_height],
            [x - half_width, y + half_height],
        ]
    )


def plan_traffic_light(sc: Scene, u: float, z: float, s: int, rng: np.random.Generator, mast: bool) -> None:
    """A traffic light on a pole, or (``mast``) with heads hanging over the road from an arm."""
    hgt = rng.uniform(2.6, 3.6)
    lit = int(rng.integers(0, 3))
    housing = jitter((40, 42, 40) if rng.random() < 0.7 else (190, 170, 40), rng, 8)
    pole_col = jitter((120, 122, 120), rng, 10)
    arm_len = rng.uniform(3.0, 7.0)
    arm_h = rng.uniform(5.2, 6.5)
    n_hang = 1 + int(rng.random() < 0.5)

    def head(cv: Canvas, uu: float, yc: float) -> None:
        s_ = sc.f / z
        x, y = sc.proj(uu, yc, z)
        hw, hh = 0.17 * s_, 0.48 * s_
        cv.poly(np.array([[x - hw, y - hh], [x + hw, y - hh], [x + hw, y + hh], [x - hw, y + hh]]), housing, TLIGHT)
        on = ((255, 40, 30), (255, 170, 20), (60, 230, 120))
        off = ((70, 20, 20), (70, 55, 15), (20, 60, 35))
        for k in range(3):
            c = on[k] if k == lit else off[k]
            cv.ellipse(x, y + (k - 1) * 0.3 * s_, 0.1 * s_, 0.1 * s_, c, TLIGHT)

    def draw(cv: Canvas) -> None:
        top = arm_h if mast else hgt + 0.6
        cv.poly(sc.bb(u, z, [-0.08, 0.08, 0.07, -0.07], [0, 0, top, top]), pole_col, POLE)
        head(cv, u, hgt)
        if mast:
            ua = u - s * arm_len
            cv.poly(
                sc.proj(np.array([u, ua, ua, u]), np.array([arm_h - 0.12, arm_h - 0.05, arm_h, arm_h]), z),
                pole_col,
                POLE,
            )
            for k in range(n_hang):
                head(cv, u - s * arm_len * (0.55 + 0.4 * k), arm_h - 0.6)

    sc.add(z, draw)


def plan_static(sc: Scene, u: float, z: float, rng: np.random.Generator) -> None:
    """A bin, a cabinet, a bench or a bollard (labelId static)."""
    kind = int(rng.integers(0, 4))
    col = jitter(((40, 70, 50), (90, 90, 95), (120, 90, 60), (150, 150, 150))[kind], rng, 10)
    w, hgt, depth = ((0.55, 1.0, 0.55), (0.9, 1.3, 0.4), (1.6, 0.5, 0.5), (0.25, 0.9, 0.25))[kind]
    sc.add(z, lambda cv: box(sc, cv, u - w / 2, u + w / 2, 0.0, hgt, z, z + depth, col, STATIC))


def plan_dynamic(sc: Scene, u: float, z: float, rng: np.random.Generator) -> None:
    """A wheeled container (labelId dynamic: things that move now and then)."""
    col = jitter((50, 60, 110) if rng.random() < 0.5 else (60, 60, 60), rng, 10)

    def draw(cv: Canvas) -> None:
        box(sc, cv, u - 0.6, u + 0.6, 0.15, 1.25, z, z + 0.9, col, DYNAMIC)
        for du in (-0.45, 0.45):
            x, y = sc.proj(u + du, 0.1, z)
            r = 0.1 * sc.f / z
            cv.ellipse(x, y, r, r, (25, 25, 25), DYNAMIC)

    sc.add(z, draw)
