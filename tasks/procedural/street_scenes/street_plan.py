"""Populating the street: traffic, parked cars, riders, the sidewalks' furniture and people, the crossing."""

from __future__ import annotations

from tasks.procedural.street_scenes.furniture import (
    plan_dynamic,
    plan_sign,
    plan_static,
    plan_streetlight,
    plan_traffic_light,
    plan_tree,
)
from tasks.procedural.street_scenes.people import plan_bike_side, plan_cyclist_rear, plan_person
from tasks.procedural.street_scenes.scene import Scene
from tasks.procedural.street_scenes.vehicles import plan_vehicle


def plan_street(sc: Scene) -> None:
    """Queue what is on the street and its sidewalks.

    The order is part of the scene (every element draws from the one rng): moving traffic (and the
    odd tram), parked cars, riders in the traffic, each sidewalk's furniture then its people, the
    crossing.
    """
    _plan_traffic(sc)
    _plan_parked_cars(sc)
    _plan_riders(sc)
    for s in (-1, 1):
        _plan_sidewalk_furniture(sc, s)
        _plan_sidewalk_people(sc, s)
    _plan_crossing(sc)


def _plan_traffic(sc: Scene) -> None:
    """Moving traffic, lane by lane, around the odd tram."""
    rng, zb, m2 = sc.rng, sc.z_bottom, sc.median / 2
    lanes = [(m2 + (k + 0.5) * sc.lane_w, False) for k in range(sc.n_right)]
    lanes += [(-m2 - (k + 0.5) * sc.lane_w, True) for k in range(sc.n_left)]
    if sc.tram:
        sc.tram_u = lanes[int(rng.integers(len(lanes)))][0]
        ztr = rng.uniform(zb + 6, 45)
        plan_vehicle(sc, "tram", sc.tram_u, ztr, rng, oncoming=rng.random() < 0.5)
    for k, (uc, oncoming) in enumerate(lanes):
        own = k == sc.cam_lane and not oncoming
        z = (zb + rng.uniform(6, 25)) if own else (zb * rng.uniform(0.4, 1.0) + rng.uniform(0, 14))
        while z < 110:
            r = rng.random()
            kind = "car" if r < 0.92 or z < zb + 12 else "truck" if r < 0.96 else "bus"
            if sc.tram and abs(uc - sc.tram_u) < 0.1 and ztr - 15 < z < ztr + 32:
                z += 20
                continue
            if rng.random() < (0.4 if z > zb + 6 else 0.2):
                plan_vehicle(sc, kind, uc + rng.uniform(-0.3, 0.3), max(z, 0.9), rng, oncoming)
            length = {"car": 4.5, "truck": 9.0, "bus": 12.0}[kind]
            z += length + rng.uniform(3.0, 30.0)


def _plan_parked_cars(sc: Scene) -> None:
    rng, zb = sc.rng, sc.z_bottom
    for s, park in ((-1, sc.park_l), (1, sc.park_r)):
        if not park:
            continue
        z = zb * rng.uniform(0.2, 0.9)
        while z < 90:
            if rng.random() < (0.5 if z > zb + 6 else 0.25) and not sc.in_x(z - 6, z + 6):
                plan_vehicle(sc, "car", sc.edge[s] - s * 1.15, max(z, 0.9), rng, oncoming=rng.random() < 0.3)
            z += rng.uniform(5.3, 7.5)


def _plan_riders(sc: Scene) -> None:
    """Cyclists and motorcyclists in the traffic, mostly near the right kerb."""
    rng, zb = sc.rng, sc.z_bottom
    for _ in range(int(rng.poisson(0.7))):
        motor = rng.random() < 0.4
        u = (
            sc.uR - (2.3 if sc.park_r else 0) - rng.uniform(0.5, 1.2)
            if rng.random() < 0.7
            else rng.uniform(sc.uL + 0.5, sc.uR - 0.5)
        )
        plan_cyclist_rear(sc, u, rng.uniform(zb + 1.5, 50), rng, motor)


def _plan_sidewalk_furniture(sc: Scene, s: int) -> None:
    """Trees, lamp posts, signs, bins and benches (static), containers (dynamic) on side ``s``."""
    rng, zb = sc.rng, sc.z_bottom
    e, w = sc.edge[s], sc.sw[s]
    curb_u = e + s * 0.5
    if rng.random() < sc.style.greenery:
        spacing = rng.uniform(7, 14)
        z = rng.uniform(-2, spacing)
        u_tree = e + s * min(rng.uniform(0.7, 1.3), w - 0.4)
        while z < 130:
            if not sc.in_x(z - 2, z + 2) and z > 0.8:
                plan_tree(sc, u_tree, z + rng.uniform(-1, 1), rng, scale=rng.uniform(0.8, 1.3))
            z += spacing * rng.uniform(0.8, 1.2)
    spacing = rng.uniform(18, 35)
    z = rng.uniform(0, spacing)
    while z < 140:
        if not sc.in_x(z - 1, z + 1) and z > 0.8:
            plan_streetlight(sc, curb_u, z, s, rng)
        z += spacing
    for _ in range(int(rng.poisson(2.0))):
        z = rng.uniform(zb * 0.8, 60)
        if not sc.in_x(z - 1, z + 1):
            plan_sign(sc, curb_u + s * 0.1, z, rng)
    for _ in range(int(rng.poisson(0.9))):
        z = rng.uniform(zb * 0.7, 50)
        u = (e + s * rng.uniform(0.4, 0.8)) if rng.random() < 0.5 else (e + s * (w - 0.5))
        if not sc.in_x(z - 1, z + 2):
            plan_static(sc, u, z, rng)
    if rng.random() < 0.12:
        z = rng.uniform(zb, 40)
        if not sc.in_x(z - 1, z + 2):
            plan_dynamic(sc, e + s * (w - 0.8), z, rng)


def _plan_sidewalk_people(sc: Scene, s: int) -> None:
    """Pedestrians (some in pairs) and parked bicycles or a motorcycle on side ``s``."""
    rng, zb = sc.rng, sc.z_bottom
    e, w = sc.edge[s], sc.sw[s]
    n_people = int(rng.poisson(2.5 + 3.5 * rng.random()))
    for _ in range(n_people):
        z = rng.uniform(zb * 0.8, 65)
        u = e + s * rng.uniform(0.5, max(0.6, w - 0.3))
        if not sc.in_x(z, z):
            plan_person(sc, u, z, rng)
            if rng.random() < 0.25:  # walking together
                plan_person(sc, u + s * rng.uniform(0.5, 0.8), z + rng.uniform(-0.4, 0.6), rng)
    for _ in range(int(rng.poisson(0.8))):  # parked bicycles (in a row) or a motorcycle
        z = rng.uniform(zb * 0.9, 35)
        motor = rng.random() < 0.25
        for k in range(1 if motor else int(rng.integers(1, 5))):
            zk = z + k * rng.uniform(0.55, 0.8)
            if not sc.in_x(zk - 1, zk + 1):
                plan_bike_side(sc, e + s * (w - 0.6), zk, rng, motor=motor, rider=False)


def _plan_crossing(sc: Scene) -> None:
    """At the cross street: traffic lights, pedestrians and riders crossing; elsewhere maybe a pedestrian light."""
    rng, zb = sc.rng, sc.z_bottom
    if sc.has_x:
        mast = rng.random() < 0.5
        for s in (-1, 1):
            plan_traffic_light(sc, sc.edge[s] + s * 0.5, sc.zx0 + 0.5, s, rng, mast and s == 1)
            if rng.random() < 0.6:
                plan_traffic_light(sc, sc.edge[s] + s * 0.5, sc.zx1 - 0.5, s, rng, False)
        zc = sc.zx0 - rng.uniform(2.5, 3.5)
        for _ in range(int(rng.poisson(1.5))):
            plan_person(sc, rng.uniform(sc.uL + 0.3, sc.uR - 0.3), zc + rng.uniform(0, 2.8), rng)
        for _ in range(int(rng.poisson(0.5))):
            plan_bike_side(
                sc,
                rng.uniform(sc.uL + 1, sc.uR - 1),
                sc.zx0 + sc.sx + rng.uniform(1, 5),
                rng,
                motor=rng.random() < 0.4,
                rider=True,
            )
    elif rng.random() < 0.3:  # a pedestrian light without a crossing street
        s = 1 if rng.random() < 0.5 else -1
        plan_traffic_light(sc, sc.edge[s] + s * 0.5, rng.uniform(zb + 4, 40), s, rng, False)
