"""Buildings: a facade along the street and a face towards the camera, with windows, shops and roofs."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import BUILDING
from tasks.procedural.street_scenes.layout import Block
from tasks.procedural.street_scenes.palette import CLOTHES, Color, jitter, tint
from tasks.procedural.street_scenes.scene import Scene


def plan_building(sc: Scene, b: Block, u_f: float, rng: np.random.Generator, tall: bool = False) -> None:
    st = sc.style
    s = b.side
    storeys = int(rng.integers(st.storeys[0], st.storeys[1] + 1)) + (int(rng.integers(2, 6)) if tall else 0)
    floor_h = rng.uniform(2.8, 3.5)
    ground_h = rng.uniform(3.2, 4.6)
    height = ground_h + (storeys - 1) * floor_h + rng.uniform(0.3, 1.2)
    b.height, b.facade_u = height, u_f
    col = np.asarray(st.facades[int(rng.integers(len(st.facades)))], float)
    col = col * rng.uniform(0.85, 1.12) + rng.uniform(-10, 10, 3)
    glass = tint(np.array([55, 65, 78]) * rng.uniform(0.6, 1.4) + rng.uniform(-8, 8, 3))
    params = dict(
        s=s,
        u_f=u_f,
        z0=max(b.z0, 0.45),
        z1=b.z1,
        height=height,
        col=col,
        glass=glass,
        floor_h=floor_h,
        ground_h=ground_h,
        storeys=storeys,
        win_w=rng.uniform(0.9, 1.6),
        win_h=rng.uniform(1.2, 1.9),
        pitch=rng.uniform(2.2, 3.6),
        shop=rng.random() < 0.55,
        depth=rng.uniform(10, 25),
        roof=rng.random() < 0.35,
        roof_col=jitter((120, 70, 55) if rng.random() < 0.6 else (80, 82, 88), rng),
        shop_col=jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng, 20),
        cornice=rng.random() < 0.6,
        seed=int(rng.integers(2**31)),
    )
    sc.add(b.z1, lambda cv, p=params: _draw_building(sc, cv, **p))


def _window_grid(
    sc: Scene, cv: Canvas, plane: str, fixed: float, a0: float, a1: float, p: dict, k_light: float
) -> None:
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
    pts = sc.proj(fixed, ys, along) if plane == "side" else sc.proj(along, ys, fixed)
    pts = pts.reshape(-1, 4, 2)
    n = len(pts)
    k_glass = rng.uniform(0.7, 1.5, n) * k_light
    bright = rng.random(n) >= 0.85
    k_bright = rng.uniform(0.7, 1.0, n)
    ext = pts.max(axis=1) - pts.min(axis=1)
    keep = (ext[:, 0] >= 1.0) & (ext[:, 1] >= 1.0)
    keep &= (
        (pts[:, :, 0].max(1) >= 0)
        & (pts[:, :, 0].min(1) <= sc.W)
        & (pts[:, :, 1].max(1) >= 0)
        & (pts[:, :, 1].min(1) <= sc.H)
    )
    for k in np.flatnonzero(keep):
        g = np.array([200, 205, 210.0]) * k_bright[k] if bright[k] else glass * k_glass[k]
        cv.poly(pts[k], tint(g), BUILDING)
    if p["shop"]:
        n = max(1, int((a1 - a0) // rng.uniform(4, 8)))
        edges = np.linspace(a0 + 0.4, a1 - 0.4, n + 1)
        for lo, hi in zip(edges[:-1], edges[1:]):
            lo, hi = lo + 0.25, hi - 0.25
            yy = np.array([0.4, 0.4, p["ground_h"] - 0.9, p["ground_h"] - 0.9])
            if plane == "side":
                pts = sc.proj(fixed, yy, np.array([lo, hi, hi, lo]))
            else:
                pts = sc.proj(np.array([lo, hi, hi, lo]), yy, fixed)
            cv.poly(pts, tint(glass * rng.uniform(0.6, 1.1)), BUILDING)
        yy = np.array([p["ground_h"] - 0.8, p["ground_h"] - 0.8, p["ground_h"] - 0.2, p["ground_h"] - 0.2])
        if plane == "side":
            pts = sc.proj(fixed, yy, np.array([a0 + 0.3, a1 - 0.3, a1 - 0.3, a0 + 0.3]))
        else:
            pts = sc.proj(np.array([a0 + 0.3, a1 - 0.3, a1 - 0.3, a0 + 0.3]), yy, fixed)
        cv.poly(pts, tint(np.asarray(p["shop_col"], float) * k_light), BUILDING)


def _draw_building(
    sc: Scene,
    cv: Canvas,
    *,
    s: int,
    u_f: float,
    z0: float,
    z1: float,
    height: float,
    col: np.ndarray,
    depth: float,
    roof: bool,
    roof_col: Color,
    cornice: bool,
    **p: object,
) -> None:
    u_back = u_f + s * depth
    k_front, k_side = sc.lit(0), sc.lit(-s)
    if roof:  # pitched roof rising away from the street
        rh = float(np.clip(depth * 0.25, 2.0, 4.5))
        zs = sc.zs(z0, z1)
        a = sc.proj(u_f, height, zs)
        b = sc.proj(u_f + s * depth * 0.5, height + rh, zs[::-1])
        cv.poly(np.concatenate([a, b]), roof_col, BUILDING)
        tri = sc.proj(np.array([u_f, u_f + s * depth * 0.5, u_back]), np.array([height, height + rh, height]), z0)
        cv.poly(tri, tint(col, k_front * 0.95), BUILDING)
    if z0 > 0.5:  # front face towards the camera
        lo, hi = sorted((u_f, u_back))
        cv.poly(sc.front(lo, hi, 0, height, z0), tint(col, k_front), BUILDING)
        if cornice:
            cv.poly(sc.front(lo, hi, height - 0.5, height, z0), tint(col, k_front * 0.8), BUILDING)
        cv.poly(sc.front(lo, hi, 0, 0.5, z0), tint(col, k_front * 0.75), BUILDING)
        _window_grid(sc, cv, "front", z0, lo, hi, p, k_front)
    cv.poly(sc.side(u_f, 0, height, z0, z1), tint(col, k_side), BUILDING)
    if cornice:
        cv.poly(sc.side(u_f, height - 0.5, height, z0, z1), tint(col, k_side * 0.8), BUILDING)
    cv.poly(sc.side(u_f, 0, 0.5, z0, z1), tint(col, k_side * 0.75), BUILDING)
    _window_grid(sc, cv, "side", u_f, z0, z1, p, k_side)
