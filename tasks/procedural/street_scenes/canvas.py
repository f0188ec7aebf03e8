"""Canvas: the image, the label map and the shadow mask, painted with the same primitives."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from tasks.procedural.street_scenes.label_ids import SKY
from tasks.procedural.street_scenes.palette import Color


class Canvas:
    """An RGB image, its labelId map and a shadow mask of the same size.

    Every primitive paints all three with the same geometry, so labels match what is seen and
    occlusion is consistent; painting over a shadow clears it (the shadow mask is applied at the end).
    """

    def __init__(self, sky: np.ndarray) -> None:
        self.H, self.W = sky.shape[:2]
        self.img = Image.fromarray(sky, "RGB")
        self.lab = Image.new("L", (self.W, self.H), SKY)
        self.shade = Image.new("L", (self.W, self.H), 0)
        self._di = ImageDraw.Draw(self.img)
        self._dl = ImageDraw.Draw(self.lab)
        self._ds = ImageDraw.Draw(self.shade)

    def _on_screen(self, pts: np.ndarray) -> bool:
        return bool(
            pts[:, 0].max() >= -1 and pts[:, 0].min() <= self.W and pts[:, 1].max() >= -1 and pts[:, 1].min() <= self.H
        )

    def poly(self, pts: np.ndarray, color: Color, label: int) -> None:
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 3 or not np.all(np.isfinite(pts)) or not self._on_screen(pts):
            return
        xy = [(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()]
        self._di.polygon(xy, fill=color)
        self._dl.polygon(xy, fill=label)
        self._ds.polygon(xy, fill=0)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: Color, label: int) -> None:
        if cx + rx < -1 or cx - rx > self.W or cy + ry < -1 or cy - ry > self.H or not (rx >= 0.35 and ry >= 0.35):
            return
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        self._di.ellipse(box, fill=color)
        self._dl.ellipse(box, fill=label)
        self._ds.ellipse(box, fill=0)

    def ring(self, cx: float, cy: float, rx: float, ry: float, width: float, color: Color, label: int) -> None:
        if cx + rx < -1 or cx - rx > self.W or cy + ry < -1 or cy - ry > self.H or not (rx >= 0.5 and ry >= 0.5):
            return
        wpx = max(1, int(round(width)))
        if 2 * wpx >= min(rx, ry):
            self.ellipse(cx, cy, rx, ry, color, label)
            return
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        self._di.ellipse(box, outline=color, width=wpx)
        self._dl.ellipse(box, outline=label, width=wpx)
        self._ds.ellipse(box, outline=0, width=wpx)

    def line(self, pts: np.ndarray, width: float, color: Color, label: int) -> None:
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 2 or not self._on_screen(pts):
            return
        xy = [(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()]
        wpx = max(1, int(round(width)))
        self._di.line(xy, fill=color, width=wpx)
        self._dl.line(xy, fill=label, width=wpx)
        self._ds.line(xy, fill=0, width=wpx)

    def shadow(self, pts: np.ndarray, strength: float) -> None:
        """Darken what is painted here so far by ``strength`` (0..1); later paint clears it."""
        pts = np.asarray(pts, dtype=float)
        if len(pts) < 3 or strength <= 0 or not self._on_screen(pts):
            return
        self._ds.polygon([(x, y) for x, y in np.clip(pts, -1e5, 1e5).tolist()], fill=int(255 * min(strength, 0.9)))
