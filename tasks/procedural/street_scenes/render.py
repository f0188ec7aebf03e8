"""One scene, planned then painted far to near: ``render_scene``."""

from __future__ import annotations

import numpy as np

from tasks.procedural.checks import is_int
from tasks.procedural.street_scenes.backdrop import clouds, draw_ego, sky
from tasks.procedural.street_scenes.blocks import plan_blocks
from tasks.procedural.street_scenes.canvas import Canvas
from tasks.procedural.street_scenes.finish import finish
from tasks.procedural.street_scenes.ground import draw_ground, draw_ground_shadows
from tasks.procedural.street_scenes.layout import lay_out
from tasks.procedural.street_scenes.palette import DEFAULT_STYLE, STYLES
from tasks.procedural.street_scenes.scene import Scene
from tasks.procedural.street_scenes.street_plan import plan_street

__all__ = ["render_scene"]


def render_scene(
    height: int, width: int, rng: np.random.Generator, city: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render one street scene.

    Args:
        height, width: image size in pixels.
        rng: source of all randomness.
        city: one of the names in ``CITIES`` (selects the city's look), or None for a mixed style.

    Returns:
        ``(rgb, label_ids)``: uint8 HxWx3 image and uint8 HxW Cityscapes labelIds.
    """
    if city is not None and city not in STYLES:
        raise ValueError(f"city must be one of {sorted(STYLES)} or None, got {city!r}")
    if not is_int(height) or not is_int(width) or height < 16 or width < 16:
        raise ValueError(f"height and width must be integers >= 16, got {height!r} x {width!r}")
    style = STYLES[city] if city is not None else DEFAULT_STYLE
    return _render(Scene(int(height), int(width), rng, style))


def _render(sc: Scene) -> tuple[np.ndarray, np.ndarray]:
    # Plan everything first (the layout, then what stands along and on the street), then paint: the
    # ground, the shadows cast on it, the queued elements far to near, the ego vehicle's hood last.
    lay_out(sc)
    plan_blocks(sc)
    plan_street(sc)
    cv = Canvas(sky(sc))
    clouds(sc, cv)
    draw_ground(sc, cv)
    draw_ground_shadows(sc, cv)
    for pts, strength in sc.shadows:
        cv.shadow(pts, strength)
    for _, _, fn in sorted(sc.items, key=lambda t: (-t[0], t[1])):
        fn(cv)
    draw_ego(sc, cv)
    return finish(cv, sc.rng)
