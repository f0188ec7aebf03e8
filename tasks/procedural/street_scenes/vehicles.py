"""Vehicles: cars (and vans), trucks, buses and trams, moving or parked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import BUS, CAR, TRAIN, TRUCK
from tasks.procedural.street_scenes.palette import CAR_COLOURS, Color, jitter, tint
from tasks.procedural.street_scenes.scene import Scene
from tasks.procedural.street_scenes.solids import box, wheel_side


@dataclass(frozen=True)
class _Vehicle:
    """What is drawn of one vehicle, all drawn from the rng at planning time."""

    kind: str  # car | truck | bus | tram
    label: int
    uc: float  # centre line and sides (u), near and far end (z)
    u0: float
    u1: float
    z0: float
    z1: float
    body_top: float
    roof: float  # cars: the cabin's top (others: 0)
    col: Color
    glass: Color
    oncoming: bool
    cab_front: float  # cars: the cabin's distance from the front and the back
    cab_back: float
    light_on: bool  # cars seen from behind: brake lights on
    pillar: float  # buses and trams: spacing of the window pillars


def plan_vehicle(sc: Scene, kind: str, uc: float, z0: float, rng: np.random.Generator, oncoming: bool) -> None:
    """Queue a vehicle of ``kind`` (car, truck, bus, tram) centred on ``uc`` whose near end is at ``z0``."""
    w, length, body_top, roof, col, label = _body(kind, rng)
    glass = tint(np.array([38, 44, 52]) * rng.uniform(0.7, 1.5))
    cab_front = rng.uniform(0.7, 1.1)
    cab_back = rng.uniform(0.8, 1.3)
    u0, u1, z1 = uc - w / 2, uc + w / 2, z0 + length
    light_on = rng.random() < 0.3
    pillar = rng.uniform(1.0, 1.6)
    v = _Vehicle(
        kind, label, uc, u0, u1, z0, z1, body_top, roof, col, glass, oncoming, cab_front, cab_back, light_on, pillar
    )
    if z0 > 0.8:
        sc.shadows.append((sc.ground(u0 - 0.15, u1 + 0.15, z0 - 0.25, z1 + 0.3), 0.45 + sc.sun * 0.4))
    sc.add(z0, lambda cv: _draw_car(sc, cv, v) if kind == "car" else _draw_large(sc, cv, v))


def _body(kind: str, rng: np.random.Generator) -> tuple[float, float, float, float, Color, int]:
    """Width, length, body height, roof height (cars), colour and labelId of a vehicle of ``kind``."""
    if kind == "car":
        w, length = rng.uniform(1.65, 1.95), rng.uniform(3.9, 4.9)
        body_top, roof = rng.uniform(0.85, 1.05), rng.uniform(1.35, 1.65)
        if rng.random() < 0.12:  # van
            length, body_top, roof = rng.uniform(4.8, 5.6), rng.uniform(1.0, 1.2), rng.uniform(1.9, 2.3)
        col = jitter(CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], rng, 8, 0.06)
        label = CAR
    elif kind == "truck":
        w, length = rng.uniform(2.3, 2.55), rng.uniform(6.5, 10.0)
        body_top, roof = rng.uniform(3.0, 3.8), 0.0
        col = jitter(
            ((230, 230, 230), (200, 40, 40), (40, 80, 160), (220, 190, 60), (90, 110, 80))[int(rng.integers(5))], rng
        )
        label = TRUCK
    elif kind == "bus":
        w, length = 2.55, rng.uniform(11.0, 13.0)
        body_top, roof = rng.uniform(3.0, 3.3), 0.0
        col = jitter(
            ((225, 205, 40), (190, 30, 30), (235, 235, 235), (40, 90, 170), (60, 140, 80))[int(rng.integers(5))], rng
        )
        label = BUS
    else:  # tram
        w, length = 2.6, rng.uniform(25.0, 32.0)
        body_top, roof = 3.4, 0.0
        col = jitter(((235, 235, 230), (200, 40, 40), (230, 200, 50))[int(rng.integers(3))], rng)
        label = TRAIN
    return w, length, body_top, roof, col, label


def _draw_car(sc: Scene, cv: Canvas, v: _Vehicle) -> None:
    """A car or van: tyres, body, cabin, windows, wheels on the visible side, lamps and number plate."""
    label, uc, u0, u1, z0, z1 = v.label, v.uc, v.u0, v.u1, v.z0, v.z1
    body_top, roof, col, glass, oncoming = v.body_top, v.roof, v.col, v.glass, v.oncoming
    cab_front, cab_back, light_on = v.cab_front, v.cab_back, v.light_on
    dark = (25, 25, 27)
    box(sc, cv, u0 + 0.1, u1 - 0.1, 0.0, 0.4, z0 + 0.5, z1 - 0.5, dark, label)  # tyres under the body
    box(sc, cv, u0, u1, 0.22, body_top, z0, z1, col, label)
    zc0, zc1 = z0 + (cab_front if oncoming else cab_back), z1 - (cab_back if oncoming else cab_front)
    box(sc, cv, u0 + 0.12, u1 - 0.12, body_top, roof, zc0, zc1, col, label)
    # windows: the near window of the cabin and a band on the visible side
    cv.poly(
        sc.proj(
            np.array([u0 + 0.2, u1 - 0.2, u1 - 0.22, u0 + 0.22]),
            np.array([body_top + 0.05, body_top + 0.05, roof - 0.08, roof - 0.08]),
            np.array([zc0 - 0.35, zc0 - 0.35, zc0, zc0]),
        ),
        glass,
        label,
    )
    for uu, visible in ((u0 + 0.12, sc.lateral(u0, z0) > 0), (u1 - 0.12, sc.lateral(u1, z0) < 0)):
        if visible:
            cv.poly(sc.side(uu, body_top + 0.08, roof - 0.1, zc0 + 0.1, zc1 - 0.1), glass, label)
            wheel_side(sc, cv, uu - 0.12 if uu < uc else uu + 0.12, z0 + 0.8, 0.32, label)
            wheel_side(sc, cv, uu - 0.12 if uu < uc else uu + 0.12, z1 - 0.8, 0.32, label)
    lamp = (240, 235, 210) if oncoming else ((255, 50, 40) if light_on else (160, 25, 25))
    for a, b in ((u0 + 0.08, u0 + 0.38), (u1 - 0.38, u1 - 0.08)):
        cv.poly(sc.front(a, b, body_top - 0.25, body_top - 0.08, z0 - 0.01), lamp, label)
    cv.poly(sc.front(uc - 0.26, uc + 0.26, 0.38, 0.5, z0 - 0.01), (225, 225, 220), label)
    cv.poly(sc.front(u0 + 0.05, u1 - 0.05, 0.22, 0.34, z0 - 0.01), tint(col, 0.5), label)


def _draw_large(sc: Scene, cv: Canvas, v: _Vehicle) -> None:
    """A truck, bus or tram: a tall box with windows (bus, tram) or a cargo body (truck)."""
    kind, label, uc, u0, u1, z0, z1 = v.kind, v.label, v.uc, v.u0, v.u1, v.z0, v.z1
    body_top, col, glass, oncoming, pillar = v.body_top, v.col, v.glass, v.oncoming, v.pillar
    dark = (25, 25, 27)
    box(sc, cv, u0 + 0.15, u1 - 0.15, 0.0, 0.55, z0 + 0.8, z1 - 1.0, dark, label)
    box(sc, cv, u0, u1, 0.35, body_top, z0, z1, col, label)
    vis = [uu for uu, shown in ((u0, sc.lateral(u0, z0) > 0), (u1, sc.lateral(u1, z0) < 0)) if shown]
    if kind in ("bus", "tram"):
        for uu in vis:
            cv.poly(sc.side(uu, 1.1, body_top - 0.45, z0 + 0.5, z1 - 0.5), glass, label)
            zz = z0 + 0.5
            while zz < z1 - 1.0:
                cv.poly(sc.side(uu, 1.1, body_top - 0.45, zz, zz + 0.12), tint(col, 0.7), label)
                zz += pillar
        cv.poly(sc.front(u0 + 0.15, u1 - 0.15, 1.2 if oncoming else 1.9, body_top - 0.3, z0 - 0.01), glass, label)
        cv.poly(sc.front(u0 + 0.4, u1 - 0.4, body_top - 0.28, body_top - 0.06, z0 - 0.01), (40, 30, 10), label)
    else:
        for uu in vis:
            cv.poly(sc.side(uu, 0.9, body_top - 0.2, z0 + 0.2, z1 - 0.2), tint(col, 0.9), label)
        if oncoming:
            cv.poly(sc.front(u0 + 0.15, u1 - 0.15, 1.6, 2.5, z0 - 0.01), glass, label)
        else:
            cv.poly(sc.front(uc - 0.03, uc + 0.03, 0.5, body_top - 0.1, z0 - 0.01), tint(col, 0.6), label)
    for uu in vis:
        side_u = uu - 0.02 if uu < uc else uu + 0.02
        wheel_side(sc, cv, side_u, z0 + 1.2, 0.5, label)
        wheel_side(sc, cv, side_u, z1 - 1.5, 0.5, label)
    lamp = (240, 235, 210) if oncoming else (170, 30, 25)
    for a, b in ((u0 + 0.1, u0 + 0.4), (u1 - 0.4, u1 - 0.1)):
        cv.poly(sc.front(a, b, 0.6, 0.85, z0 - 0.02), lamp, label)
    if kind == "tram":
        cv.line(
            sc.proj(np.array([uc - 0.6, uc, uc + 0.6]), np.array([body_top, body_top + 1.2, body_top]), z0 + 6),
            max(1.0, 0.05 * sc.f / z0),
            (40, 40, 40),
            label,
        )
