"""People: pedestrians, riders on bicycles and motorcycles, parked bicycles and motorcycles."""

from __future__ import annotations

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import BIKE, MOTO, PERSON, RIDER
from tasks.procedural.street_scenes.palette import CLOTHES, SKIN, jitter
from tasks.procedural.street_scenes.scene import Scene


def _person_parts(
    sc: Scene,
    cv: Canvas,
    u: float,
    z: float,
    p: dict,
    label: int,
    base_y: float = 0.0,
    seated: bool = False,
    dx0: float = 0.0,
) -> None:
    """Paint a person from the parameters ``p`` of ``_person_params``, standing at (u, z)."""
    hp = p["hp"]
    top, bottom, skin, hair, phase = p["top"], p["bottom"], p["skin"], p["hair"], p["phase"]

    def q(dx: list, dy: list) -> np.ndarray:
        return sc.bb(u, z, np.asarray(dx) + dx0, np.asarray(dy) + base_y)

    hip = 0.5 * hp
    if not seated:
        for sgn in (-1, 1):
            foot = sgn * 0.05 + 0.16 * phase * sgn
            cv.poly(
                q([sgn * 0.03 - 0.065, sgn * 0.03 + 0.065, foot + 0.06, foot - 0.06], [hip, hip, 0, 0]), bottom, label
            )
            cv.poly(q([foot - 0.07, foot + 0.09, foot + 0.09, foot - 0.07], [0, 0, 0.07, 0.07]), (30, 28, 26), label)
    cv.poly(q([-0.16, 0.16, 0.21, -0.21], [hip - 0.03, hip - 0.03, 0.82 * hp, 0.82 * hp]), top, label)
    for sgn in (-1, 1):
        sw = -0.1 * phase * sgn
        cv.poly(
            q([sgn * 0.17, sgn * 0.25, sgn * 0.24 + sw, sgn * 0.17 + sw], [0.81 * hp, 0.81 * hp, 0.46 * hp, 0.46 * hp]),
            top,
            label,
        )
        cv.ellipse(
            *sc.bb(u, z, sgn * 0.205 + sw + dx0, 0.44 * hp + base_y), 0.04 * sc.f / z, 0.05 * sc.f / z, skin, label
        )
    cv.poly(q([-0.045, 0.045, 0.045, -0.045], [0.8 * hp, 0.8 * hp, 0.87 * hp, 0.87 * hp]), skin, label)
    hx, hy = sc.bb(u, z, dx0, 0.93 * hp + base_y)
    s = sc.f / z
    cv.ellipse(hx, hy, 0.075 * hp * s, 0.075 * hp * s * 1.2, skin, label)
    cv.ellipse(hx, hy - 0.035 * hp * s, 0.078 * hp * s, 0.06 * hp * s, hair, label)
    if p.get("bag") and not seated:
        sgn = p["bag"]
        cv.poly(
            q([sgn * 0.22, sgn * 0.34, sgn * 0.34, sgn * 0.22], [0.45 * hp, 0.45 * hp, 0.62 * hp, 0.62 * hp]),
            p["bag_col"],
            label,
        )


def _person_params(rng: np.random.Generator) -> dict:
    """Height, clothes, skin, hair, stride phase and bag of one person."""
    return dict(
        hp=rng.uniform(1.5, 1.95),
        top=jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng, 10),
        bottom=jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng, 10, 0.05),
        skin=jitter(SKIN[int(rng.integers(len(SKIN)))], rng, 6, 0.05),
        hair=jitter(((30, 25, 20), (80, 60, 40), (160, 130, 80), (120, 120, 120))[int(rng.integers(4))], rng, 6),
        phase=rng.uniform(-1, 1),
        bag=int(rng.choice([-1, 0, 0, 1])),
        bag_col=jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng),
    )


def plan_person(sc: Scene, u: float, z: float, rng: np.random.Generator) -> None:
    """A pedestrian (billboard facing the camera) with a shadow at the feet."""
    p = _person_params(rng)
    sc.add(z, lambda cv: _person_parts(sc, cv, u, z, p, PERSON))
    if z > 1.0:
        sc.shadows.append((sc.ground(u - 0.3, u + 0.3, z - 0.15, z + 0.3), 0.35 + 0.3 * sc.sun))


def plan_bike_side(sc: Scene, u: float, z: float, rng: np.random.Generator, motor: bool, rider: bool) -> None:
    """A bicycle or motorcycle seen from the side (crossing the street, or parked across it)."""
    d = 1 if rng.random() < 0.5 else -1
    frame = jitter(
        ((30, 30, 30), (160, 20, 20), (20, 60, 140), (200, 200, 200), (30, 110, 60))[int(rng.integers(5))], rng
    )
    p = _person_params(rng)
    label = MOTO if motor else BIKE
    r = 0.3 if motor else 0.34
    base = 0.7 if motor else 0.52
    helmet = rng.random() < 0.5

    def draw(cv: Canvas) -> None:
        s = sc.f / z
        for sgn in (-1, 1):
            x, y = sc.bb(u, z, sgn * base, r)
            if motor:
                cv.ellipse(x, y, r * s, r * s, (22, 22, 22), label)
                cv.ellipse(x, y, 0.45 * r * s, 0.45 * r * s, (130, 130, 135), label)
            else:
                cv.ring(x, y, r * s, r * s, 0.05 * s, (25, 25, 25), label)
        if motor:
            cv.poly(
                sc.bb(
                    u,
                    z,
                    d * np.array([-0.7, -0.35, 0.15, 0.55, 0.7, 0.35, -0.2, -0.75]),
                    [0.45, 0.35, 0.3, 0.45, 0.75, 0.95, 0.85, 0.75],
                ),
                frame,
                label,
            )
            cv.poly(sc.bb(u, z, d * np.array([0.55, 0.62, 0.72, 0.65]), [0.75, 1.05, 1.05, 0.75]), (30, 30, 30), label)
        else:
            pts = sc.bb(
                u, z, d * np.array([-base, -0.12, 0.38, base, 0.38, -0.12, -base]), [r, 0.35, 0.88, r, 0.88, 0.86, r]
            )
            cv.line(pts, 0.035 * s, frame, label)
            cv.line(sc.bb(u, z, d * np.array([0.38, 0.42, 0.3]), [0.88, 1.02, 1.05]), 0.03 * s, (30, 30, 30), label)
            cv.line(sc.bb(u, z, d * np.array([-0.12, -0.16]), [0.86, 0.95]), 0.03 * s, (30, 30, 30), label)
            cv.poly(sc.bb(u, z, d * np.array([-0.3, -0.05, -0.05, -0.3]), [0.95, 0.95, 1.0, 1.0]), (20, 20, 20), label)
        if rider:
            hp = p["hp"]
            seat_dx = -0.15 if not motor else -0.1
            lift = 0.95 - 0.48 * hp
            q = lambda dx, dy: sc.bb(u, z, d * np.asarray(dx), np.asarray(dy))  # noqa: E731
            cv.poly(q([seat_dx - 0.08, seat_dx + 0.08, 0.12, -0.02], [0.95, 0.95, 0.35, 0.35]), p["bottom"], RIDER)
            cv.poly(
                q(
                    [seat_dx - 0.1, seat_dx + 0.14, 0.1 + seat_dx + 0.25, seat_dx + 0.1],
                    [0.93, 0.93, 0.82 * hp + lift, 0.85 * hp + lift],
                ),
                p["top"],
                RIDER,
            )
            cv.poly(
                q([seat_dx + 0.22, seat_dx + 0.3, 0.44, 0.38], [0.78 * hp + lift, 0.8 * hp + lift, 1.02, 0.98]),
                p["top"],
                RIDER,
            )
            hx, hy = q(seat_dx + 0.3, 0.93 * hp + lift)
            cv.ellipse(hx, hy, 0.13 * s, 0.15 * s, (35, 35, 40) if motor or helmet else p["skin"], RIDER)

    sc.add(z, draw)


def plan_cyclist_rear(sc: Scene, u: float, z: float, rng: np.random.Generator, motor: bool) -> None:
    """A cyclist or motorcyclist riding ahead of the camera (seen from behind) or towards it."""
    p = _person_params(rng)
    label = MOTO if motor else BIKE
    frame = jitter(((30, 30, 30), (160, 20, 20), (20, 60, 140), (200, 200, 200))[int(rng.integers(4))], rng)

    def draw(cv: Canvas) -> None:
        tw = 0.14 if motor else 0.045
        q = lambda dx, dy: sc.bb(u, z, dx, dy)  # noqa: E731
        cv.poly(
            q([-tw / 2, tw / 2, tw / 2, -tw / 2], [0, 0, 0.62 if motor else 0.68, 0.62 if motor else 0.68]),
            (25, 25, 25),
            label,
        )
        if motor:
            cv.poly(q([-0.3, 0.3, 0.28, -0.28], [0.4, 0.4, 0.85, 0.85]), frame, label)
            cv.poly(q([-0.08, 0.08, 0.08, -0.08], [0.6, 0.6, 0.7, 0.7]), (200, 30, 30), label)
        else:
            cv.poly(q([-0.1, 0.1, 0.1, -0.1], [0.85, 0.85, 0.92, 0.92]), (20, 20, 20), label)
            cv.line(q([-0.28, 0.28], [1.0, 1.0]), max(1.0, 0.03 * sc.f / z), (30, 30, 30), label)
        y_seat = 0.85 if motor else 0.92
        for sgn in (-1, 1):
            cv.poly(q([sgn * 0.05, sgn * 0.17, sgn * 0.14, sgn * 0.06], [y_seat, y_seat, 0.3, 0.3]), p["bottom"], RIDER)
        cv.poly(q([-0.19, 0.19, 0.22, -0.22], [y_seat, y_seat, y_seat + 0.55, y_seat + 0.55]), p["top"], RIDER)
        for sgn in (-1, 1):
            cv.poly(
                q([sgn * 0.18, sgn * 0.24, sgn * 0.3, sgn * 0.24], [y_seat + 0.5, y_seat + 0.5, 1.0, 1.0]),
                p["top"],
                RIDER,
            )
        hx, hy = q(0.0, y_seat + 0.68)
        s = sc.f / z
        cv.ellipse(hx, hy, 0.12 * s, 0.14 * s, (35, 35, 40) if motor else p["hair"], RIDER)

    if z > 1.0:
        sc.shadows.append((sc.ground(u - 0.3, u + 0.3, z - 0.4, z + 1.2), 0.3 + 0.3 * sc.sun))
    sc.add(z, draw)
