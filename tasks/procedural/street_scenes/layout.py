"""The street's layout: lanes, median, parking, sidewalks, verges, a cross street, blocks along both sides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.procedural.street_scenes.label_ids import GROUND, TERRAIN
from tasks.procedural.street_scenes.palette import jitter, tint
from tasks.procedural.street_scenes.scene import Scene


@dataclass
class Block:
    """A stretch of one side of the street, from z0 to z1 metres ahead."""

    side: int  # -1 left, +1 right
    kind: str  # "building", "park", "lot", "wall"
    z0: float
    z1: float
    height: float = 0.0  # buildings: height and the road-side facade's u, once planned
    facade_u: float = 0.0


def lay_out(sc: Scene) -> None:
    """Draw the street's layout into ``sc`` (the attributes ``Scene`` lists under "layout")."""
    rng, st = sc.rng, sc.style
    sc.two_way = rng.random() < 0.75
    sc.lane_w = rng.uniform(2.9, 3.6)
    extra = rng.random() < st.wide
    sc.n_right = 1 + int(extra or rng.random() < 0.3)
    sc.n_left = (1 + int(extra and rng.random() < 0.6)) if sc.two_way else 0
    if not sc.two_way and rng.random() < 0.5:
        sc.n_right += 1
    sc.median = rng.uniform(1.2, 3.0) if (sc.two_way and sc.n_right + sc.n_left >= 3 and rng.random() < 0.3) else 0.0
    m2 = sc.median / 2
    sc.park_l = rng.random() < 0.3
    sc.park_r = rng.random() < 0.35
    sc.uL = -(m2 + sc.n_left * sc.lane_w + 2.3 * sc.park_l)
    sc.uR = m2 + sc.n_right * sc.lane_w + 2.3 * sc.park_r
    lane = int(rng.integers(0, sc.n_right))
    sc.cam_lane = lane
    sc.o = m2 + (lane + 0.5) * sc.lane_w + rng.uniform(-0.35, 0.35)
    sc.sw = {-1: rng.uniform(1.8, 5.0), 1: rng.uniform(1.8, 5.0)}
    sc.verge = {}
    for s in (-1, 1):
        if rng.random() < 0.45:
            sc.verge[s] = (rng.uniform(0.8, 4.0), TERRAIN if rng.random() < 0.7 else GROUND)
        else:
            sc.verge[s] = (0.0, TERRAIN)
    sc.edge = {-1: sc.uL, 1: sc.uR}
    sc.front_u = {s: sc.edge[s] + s * (sc.sw[s] + sc.verge[s][0]) for s in (-1, 1)}
    sc.has_x = rng.random() < 0.35
    if sc.has_x:
        sc.zx0 = rng.uniform(14.0, 55.0)
        sc.sx = rng.uniform(2.0, 4.0)  # cross-street sidewalk
        sc.zx1 = sc.zx0 + 2 * sc.sx + rng.uniform(7.0, 13.0)
    else:
        sc.zx0 = sc.zx1 = sc.sx = float("inf")
    sc.tram = rng.random() < 0.06
    sc.asphalt = tint(np.full(3, rng.uniform(68, 112)) + rng.uniform(-5, 5, 3))
    sc.paving = jitter((150, 148, 142), rng, 18, 0.15)
    sc.grass = jitter((112, 140, 72), rng, 14, 0.15)
    sc.greens = [jitter(g, rng, 8, 0.15) for g in ((62, 92, 38), (78, 108, 42), (52, 80, 40), (92, 118, 52))]
    sc.blocks = []
    sc.z_end = rng.uniform(110.0, 240.0)
    for s in (-1, 1):
        _plan_side(sc, s)


def _plan_side(sc: Scene, s: int) -> None:
    rng, st = sc.rng, sc.style
    z = rng.uniform(-4.0, 2.0)
    kinds = ("building", "park", "lot", "wall")
    p = np.array([0.7, 0.16 * (0.4 + st.greenery), 0.06, 0.1])
    while z < sc.z_end:
        kind = str(rng.choice(kinds, p=p / p.sum()))
        length = {
            "building": rng.uniform(10, 45),
            "park": rng.uniform(15, 50),
            "lot": rng.uniform(10, 25),
            "wall": rng.uniform(8, 25),
        }[kind]
        z0, z1 = z, z + length
        if sc.in_x(z0, z1):
            if z0 < sc.zx0 - 3:
                sc.blocks.append(Block(s, kind, z0, sc.zx0))
            z = sc.zx1
            continue
        sc.blocks.append(Block(s, kind, z0, z1))
        z = z1 + (rng.uniform(2.0, 6.0) if rng.random() < 0.12 else 0.0)
