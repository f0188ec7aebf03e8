"""The ground: terrain, set-backs, verges and sidewalks, the road with its markings, the cross street."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import (
    BUILDING,
    CAR,
    GROUND,
    PARKING,
    RAIL,
    ROAD,
    SIDEWALK,
    TERRAIN,
    UNLABELED,
    VEG,
)
from tasks.procedural.street_scenes.palette import CAR_COLOURS, jitter, tint
from tasks.procedural.street_scenes.scene import Scene


def draw_ground(sc: Scene, cv: Canvas) -> None:
    """Paint the ground, far to near in layers: terrain to the horizon and the far silhouettes, each
    side's set-backs, verge and sidewalk, then the road with everything on it."""
    y_far = float(sc.proj(0.0, 0.0, sc.z_far)[1])
    cv.poly(
        np.array([[-2, y_far], [sc.W + 2, y_far], [sc.W + 2, sc.H + 2], [-2, sc.H + 2]]),
        tint(np.asarray(sc.grass) * 0.85),
        TERRAIN,
    )
    _far_silhouettes(sc, cv)
    for s in (-1, 1):
        _draw_roadside(sc, cv, s)
    _draw_road(sc, cv)


def _draw_roadside(sc: Scene, cv: Canvas, s: int) -> None:
    rng = sc.rng
    zn, zf = 0.4, sc.z_far
    # everything beyond the frontage: set-backs, parks, lots (per block)
    for b in sc.blocks:
        if b.side != s:
            continue
        u_in = sc.front_u[s]
        u_out = u_in + s * 80.0
        if b.kind == "park":
            lab, c = (TERRAIN, sc.grass) if rng.random() < 0.8 else (GROUND, jitter((140, 125, 105), rng))
        elif b.kind == "lot":
            lab, c = (
                (PARKING, jitter((118, 116, 112), rng))
                if rng.random() < 0.6
                else (GROUND, jitter((135, 128, 118), rng))
            )
        else:
            r = rng.random()
            lab, c = (
                (SIDEWALK, sc.paving)
                if r < 0.4
                else (GROUND, jitter((138, 130, 118), rng))
                if r < 0.7
                else (TERRAIN, sc.grass)
            )
        cv.poly(sc.ground(*sorted((u_in, u_out)), max(b.z0, zn), b.z1), c, lab)
    # verge and sidewalk
    e = sc.edge[s]
    w_v, lab_v = sc.verge[s]
    if w_v > 0:
        u_a = e + s * sc.sw[s]
        c = sc.grass if lab_v == TERRAIN else jitter((140, 128, 110), rng)
        cv.poly(sc.ground(*sorted((u_a, u_a + s * w_v)), zn, zf), c, lab_v)
    cv.poly(sc.ground(*sorted((e, e + s * sc.sw[s])), zn, zf), sc.paving, SIDEWALK)
    _paving_lines(sc, cv, s)


def _draw_road(sc: Scene, cv: Canvas) -> None:
    rng = sc.rng
    zn, zf = 0.4, sc.z_far
    cv.poly(sc.ground(sc.uL, sc.uR, zn, zf), sc.asphalt, ROAD)
    for _ in range(int(rng.poisson(3))):  # repaired patches, darker or lighter asphalt
        u0 = rng.uniform(sc.uL, sc.uR - 1)
        z0 = rng.uniform(sc.z_bottom, 60)
        cv.poly(
            sc.ground(u0, min(u0 + rng.uniform(0.8, 4), sc.uR), z0, z0 + rng.uniform(1, 8)),
            tint(sc.asphalt, rng.uniform(0.82, 1.12)),
            ROAD,
        )
    if sc.median:
        m2 = sc.median / 2
        lab_m = TERRAIN if rng.random() < 0.5 else GROUND
        cv.poly(sc.side(-m2, 0, 0.15, zn, zf), tint(sc.paving, 0.9), SIDEWALK)
        cv.poly(sc.ground(-m2, m2, zn, zf, 0.15), sc.grass if lab_m == TERRAIN else jitter((150, 140, 125), rng), lab_m)
    for s in (-1, 1):  # parking lanes
        if sc.park_l if s < 0 else sc.park_r:
            e = sc.edge[s]
            cv.poly(sc.ground(*sorted((e, e - s * 2.3)), zn, zf), jitter((105, 102, 100), rng, 8, 0.08), PARKING)
    _markings(sc, cv)
    if sc.tram:
        for du in (-0.72, 0.72):
            uc = sc.tram_u + du
            cv.poly(sc.ground(uc - 0.05, uc + 0.05, zn, zf), (150, 148, 145), RAIL)
    for s in (-1, 1):  # kerbs: the vertical face between road and sidewalk
        cv.poly(sc.side(sc.edge[s], 0.0, 0.13, zn, zf), tint(sc.paving, 1.08), SIDEWALK)
    if sc.has_x:
        _cross_street(sc, cv)
    for _ in range(int(rng.poisson(1.2))):  # manholes
        u = rng.uniform(sc.uL + 0.5, sc.uR - 0.5)
        z = rng.uniform(sc.z_bottom, 40)
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        cv.poly(sc.proj(u + 0.35 * np.cos(t), 0, z + 0.35 * np.sin(t)), tint(sc.asphalt, 0.7), ROAD)


def _far_silhouettes(sc: Scene, cv: Canvas) -> None:
    """Buildings, trees and clutter on the horizon, and a few distant vehicles."""
    rng = sc.rng
    z = sc.z_far * rng.uniform(0.75, 0.95)
    u = -160.0
    while u < 160:
        w = rng.uniform(8, 30)
        r = rng.random()
        if r < 0.65:
            hgt = rng.uniform(6, 34)
            cv.poly(sc.front(u, u + w, 0, hgt, z), jitter((150, 150, 155), rng, 20, 0.1), BUILDING)
        elif r < 0.9:
            hgt = rng.uniform(6, 15)
            c = tint(sc.greens[0], 0.9)
            x0, y0 = sc.proj(u + w / 2, hgt * 0.6, z)
            s = sc.f / z
            cv.ellipse(x0, y0, s * w / 2, s * hgt * 0.5, c, VEG)
            cv.poly(sc.front(u, u + w, 0, hgt * 0.55, z), c, VEG)
        else:  # far clutter nobody could name
            cv.poly(sc.front(u, u + w * 0.3, 0, rng.uniform(2, 5), z), jitter((120, 120, 120), rng), UNLABELED)
        u += w
    # a few distant vehicles near the vanishing point
    for _ in range(int(rng.poisson(2))):
        zc = rng.uniform(110, 220)
        uc = rng.uniform(sc.uL + 1, sc.uR - 1)
        c = jitter(CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], rng)
        sc.add(zc, lambda cv, uc=uc, zc=zc, c=c: cv.poly(sc.front(uc - 0.9, uc + 0.9, 0.2, 1.5, zc), c, CAR))


def _paving_lines(sc: Scene, cv: Canvas, s: int) -> None:
    """Joints between the sidewalk's paving slabs on side ``s`` (near the camera only)."""
    e, w = sc.edge[s], sc.sw[s]
    c = tint(sc.paving, 0.82)
    tile = sc.rng.uniform(0.5, 1.2)
    lo, hi = sorted((e, e + s * w))
    for z in np.arange(max(sc.z_bottom * 0.6, 1.0), 30.0, tile):
        cv.poly(sc.ground(lo, hi, z, z + 0.04), c, SIDEWALK)
    for uu in np.arange(lo + tile, hi, tile):
        cv.poly(sc.ground(uu - 0.02, uu + 0.02, 0.5, 40.0), c, SIDEWALK)


def _markings(sc: Scene, cv: Canvas) -> None:
    """Lane lines, the centre line, edge lines, an arrow, and the zebra crossing before a cross street."""
    rng = sc.rng
    white = tint(np.full(3, rng.uniform(195, 235)))
    yellowish = white if rng.random() < 0.7 else (220, 200, 120)
    wl = 0.13
    zn, zf = 0.4, sc.z_far
    m2 = sc.median / 2
    dash, gap = rng.uniform(2.5, 4.5), rng.uniform(4.0, 9.0)
    start = rng.uniform(0, dash + gap)

    def dashed(uc: float) -> None:
        z = start
        while z < 160:
            if not sc.in_x(z, z + dash):
                cv.poly(sc.ground(uc - wl / 2, uc + wl / 2, max(z, zn), z + dash), white, ROAD)
            z += dash + gap

    for k in range(1, sc.n_right):
        dashed(m2 + k * sc.lane_w)
    for k in range(1, sc.n_left):
        dashed(-m2 - k * sc.lane_w)
    if sc.two_way and not sc.median:
        if rng.random() < 0.5:
            cv.poly(sc.ground(-wl / 2, wl / 2, zn, zf), yellowish, ROAD)
        else:
            dashed(0.0)
    for s, park in ((-1, sc.park_l), (1, sc.park_r)):
        u = sc.edge[s] - s * (2.3 if park else 0.3)
        if rng.random() < 0.7:
            cv.poly(sc.ground(u - wl / 2, u + wl / 2, zn, zf), white, ROAD)
    if rng.random() < 0.25:  # a painted arrow in the camera's lane
        uc = m2 + (sc.cam_lane + 0.5) * sc.lane_w
        z = rng.uniform(sc.z_bottom + 2, 25)
        cv.poly(
            sc.proj(
                np.array([uc - 0.15, uc + 0.15, uc + 0.15, uc + 0.45, uc, uc - 0.45, uc - 0.15]),
                0,
                np.array([z, z, z + 3, z + 3, z + 4.5, z + 3, z + 3]),
            ),
            white,
            ROAD,
        )
    if sc.has_x:  # zebra crossing and stop line before the cross street
        zc = sc.zx0 - rng.uniform(3.0, 4.0)
        u = sc.uL + 0.3
        while u < sc.uR - 0.3:
            cv.poly(sc.ground(u, min(u + 0.5, sc.uR), zc, zc + 3.0), white, ROAD)
            u += 1.0
        cv.poly(sc.ground(m2 if sc.two_way else sc.uL, sc.uR, zc - 1.6, zc - 1.3), white, ROAD)


def _cross_street(sc: Scene, cv: Canvas) -> None:
    """The cross street: its sidewalks, asphalt and kerbs, across the whole width."""
    z0, z1, sx = sc.zx0, sc.zx1, sc.sx
    for s in (-1, 1):
        lo, hi = sorted((sc.edge[s], sc.edge[s] + s * 90.0))
        cv.poly(sc.ground(lo, hi, z0, z1), sc.paving, SIDEWALK)
    cv.poly(sc.ground(-90.0, 90.0, z0 + sx, z1 - sx), sc.asphalt, ROAD)
    for zz in (z0 + sx, z1 - sx):  # kerbs of the cross street
        for s in (-1, 1):
            lo, hi = sorted((sc.edge[s], sc.edge[s] + s * 90.0))
            cv.poly(
                sc.proj(np.array([lo, hi, hi, lo]), np.array([0, 0, 0.13, 0.13]), zz), tint(sc.paving, 1.08), SIDEWALK
            )


def draw_ground_shadows(sc: Scene, cv: Canvas) -> None:
    """Bands of shadow cast onto the street by the buildings on the sun's side."""
    if sc.sun <= 0:
        return
    rng = sc.rng
    for b in sc.blocks:
        # buildings on the sun's side throw a band of shadow onto the street
        if b.kind != "building" or b.side != sc.sun_side:
            continue
        width = b.height * rng.uniform(0.2, 0.7)
        u_f = b.facade_u
        lo, hi = sorted((u_f, u_f - b.side * width))
        cv.shadow(sc.ground(lo, hi, max(b.z0, 0.4), b.z1), sc.sun)
