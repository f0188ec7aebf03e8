"""Blocks along the street: what stands on each (buildings, trees, parked cars) and their boundaries."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.buildings import plan_building
from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.furniture import plan_tree
from tasks.procedural.street_scenes.label_ids import FENCE, VEG, WALL
from tasks.procedural.street_scenes.layout import Block
from tasks.procedural.street_scenes.palette import jitter, tint
from tasks.procedural.street_scenes.scene import Scene
from tasks.procedural.street_scenes.vehicles import plan_vehicle


def plan_blocks(sc: Scene) -> None:
    """Queue what stands on each block: a building (sometimes set back behind a fence, hedge or low
    wall), a park with trees, a parking lot with cars, or a wall with buildings or trees behind."""
    rng = sc.rng
    for b in sc.blocks:
        s = b.side
        if b.kind == "building":
            setback = 0.0 if rng.random() < 0.6 else rng.uniform(1.0, 5.0)
            plan_building(sc, b, sc.front_u[s] + s * setback, rng)
            if setback > 0:  # front gardens or forecourts behind a fence, hedge or low wall
                _plan_boundary(sc, b, rng)
        elif b.kind == "park":
            _plan_boundary(sc, b, rng)
            n = int(rng.poisson((b.z1 - b.z0) / 5.0 * (0.5 + sc.style.greenery)))
            for _ in range(n):
                z = rng.uniform(b.z0, b.z1)
                u = sc.front_u[s] + s * rng.uniform(1.5, 30.0)
                plan_tree(sc, u, z, rng, scale=rng.uniform(0.9, 1.6))
            if rng.random() < 0.6:
                bb = Block(s, "building", b.z0 + rng.uniform(-5, 5), b.z1 + rng.uniform(-5, 5))
                plan_building(sc, bb, sc.front_u[s] + s * rng.uniform(20, 45), rng, tall=True)
        elif b.kind == "lot":
            _plan_boundary(sc, b, rng)
            n_cars = int(rng.poisson(2))
            if b.z1 - 2 < b.z0 + 2:  # a lot cut short by the cross street has no room for a parked car
                n_cars = 0
            for _ in range(n_cars):
                z = rng.uniform(b.z0 + 2, b.z1 - 2)
                u = sc.front_u[s] + s * rng.uniform(2.5, 12)
                plan_vehicle(sc, "car", u, z, rng, oncoming=rng.random() < 0.5)
            if rng.random() < 0.7:
                bb = Block(s, "building", b.z0, b.z1)
                plan_building(sc, bb, sc.front_u[s] + s * rng.uniform(15, 30), rng)
        else:  # wall with buildings or trees behind
            _plan_wall(sc, b, sc.front_u[s], rng.uniform(1.2, 3.0), rng)
            if rng.random() < 0.6:
                bb = Block(s, "building", b.z0, b.z1)
                plan_building(sc, bb, sc.front_u[s] + s * rng.uniform(4, 14), rng)
            else:
                for _ in range(int(rng.poisson((b.z1 - b.z0) / 6))):
                    plan_tree(sc, sc.front_u[s] + s * rng.uniform(2, 10), rng.uniform(b.z0, b.z1), rng)


def _plan_boundary(sc: Scene, b: Block, rng: np.random.Generator) -> None:
    """A fence, a hedge (in green cities) or a low wall along the block's front, or nothing."""
    r = rng.random()
    u = sc.front_u[b.side]
    if r < 0.4:
        _plan_fence(sc, b, u, rng)
    elif r < 0.7 and sc.style.greenery > 0.3:
        _plan_hedge(sc, b, u, rng)
    elif r < 0.85:
        _plan_wall(sc, b, u, rng.uniform(0.4, 1.2), rng)


def _plan_fence(sc: Scene, b: Block, u: float, rng: np.random.Generator) -> None:
    fh = rng.uniform(0.9, 2.0)
    col = jitter((95, 100, 90) if rng.random() < 0.5 else (130, 100, 70), rng)
    post = tint(col, 0.7)
    spacing = rng.uniform(1.8, 3.0)
    z0, z1 = max(b.z0, 0.45), b.z1

    def draw(cv: Canvas) -> None:
        cv.poly(sc.side(u, 0, fh, z0, z1), col, FENCE)
        cv.poly(sc.side(u, fh - 0.08, fh, z0, z1), post, FENCE)
        for z in np.arange(z0 + spacing / 2, z1, spacing):
            cv.poly(sc.side(u, 0, fh + 0.05, z, z + 0.08), post, FENCE)
        for z in np.arange(z0, min(z1, 30.0), 0.25):  # bars, near only
            cv.poly(sc.side(u, 0.05, fh - 0.08, z, z + 0.03), tint(col, 1.25), FENCE)

    sc.add(z1, draw)


def _plan_wall(sc: Scene, b: Block, u: float, wh: float, rng: np.random.Generator) -> None:
    col = jitter((165, 160, 150) if rng.random() < 0.6 else (150, 95, 75), rng, 15)
    z0, z1, s = max(b.z0, 0.45), b.z1, b.side

    def draw(cv: Canvas) -> None:
        k = sc.lit(-s)
        if z0 > 0.5:
            cv.poly(sc.front(*sorted((u, u + s * 0.3)), 0, wh, z0), tint(col, sc.lit(0)), WALL)
        cv.poly(sc.side(u, 0, wh, z0, z1), tint(col, k), WALL)
        cv.poly(sc.side(u, wh - 0.12, wh, z0, z1), tint(col, k * 1.12), WALL)

    sc.add(z1, draw)


def _plan_hedge(sc: Scene, b: Block, u: float, rng: np.random.Generator) -> None:
    hh = rng.uniform(0.7, 1.9)
    c = sc.greens[int(rng.integers(len(sc.greens)))]
    z0, z1, s = max(b.z0, 0.45), b.z1, b.side
    seed = int(rng.integers(2**31))

    def draw(cv: Canvas) -> None:
        r = np.random.default_rng(seed)
        cv.poly(sc.side(u, 0, hh, z0, z1), tint(c, 0.85), VEG)
        if hh < sc.h:
            cv.poly(sc.ground(*sorted((u, u + s * 0.8)), z0, z1, y=hh), tint(c, 1.05), VEG)
        for z in np.arange(z0, min(z1, 60.0), 0.7):
            x, y = sc.proj(u, hh, z + 0.35)
            rr = sc.f / z * 0.4
            cv.ellipse(x, y, rr, rr * 0.7, tint(c, r.uniform(0.85, 1.15)), VEG)

    sc.add(z1, draw)
