"""Finding NaN and infinite numbers in nested data (parameters, metrics), by dotted key.

Both ends of the pipeline need it: ``params.yaml`` must not hold ``.inf`` or ``.nan`` (an infinite
learning rate trains on NaN losses and exits 0), and a metrics file must be strict JSON, which has
no NaN or Infinity. Keys are dotted the way the error messages name parameters (``aed.train.lr_start``,
``data.urban_synth.duration.1`` for the second end of a range).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def non_finite_leaves(obj: Any, prefix: str = "") -> list[tuple[str, float]]:
    """``(dotted key, value)`` of every float in ``obj`` that is NaN or infinite, in document order.

    Descends into mappings, lists and tuples; other values (strings, ints, None, bools) are never
    non-finite. numpy floats count too (``np.float64`` is a ``float``; other widths via ``item``).
    """
    if isinstance(obj, Mapping):
        out: list[tuple[str, float]] = []
        for k, v in obj.items():
            out += non_finite_leaves(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(obj, (list, tuple)):
        out = []
        for i, v in enumerate(obj):
            out += non_finite_leaves(v, f"{prefix}.{i}" if prefix else str(i))
        return out
    value = obj.item() if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "ndim", 1) == 0 else obj
    if isinstance(value, float) and not math.isfinite(value):
        return [(prefix or "<root>", value)]
    return []
