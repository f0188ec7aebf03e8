"""Argument checks shared by the procedural generators."""

from __future__ import annotations

import numpy as np


def is_int(v: object) -> bool:
    """Whether ``v`` is an integer (Python or numpy), and not a bool (``True`` is not a count)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
