"""From painted polygons to a photograph: shadows, texture, lighting, blur and sensor noise."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.label_ids import (
    BIKE,
    BUILDING,
    BUS,
    CAR,
    DYNAMIC,
    EGO,
    FENCE,
    GROUND,
    MOTO,
    PARKING,
    PERSON,
    POLE,
    RAIL,
    RIDER,
    ROAD,
    SIDEWALK,
    SKY,
    STATIC,
    TERRAIN,
    TLIGHT,
    TRAIN,
    TRUCK,
    TSIGN,
    VEG,
    WALL,
)

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


def finish(cv: Canvas, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The painted canvas as a photograph and its label map: ``(rgb, label_ids)``, both uint8.

    Cast shadows darken the image, then per-class texture, illumination (exposure, colour cast, slow
    brightness changes, vignetting, gamma), a slight blur and sensor noise are applied.
    """
    H, W = cv.H, cv.W
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
