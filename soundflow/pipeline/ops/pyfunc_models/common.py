"""What every wrapper shares: the artifact key of the raw checkpoint, the pinned requirements, the declaration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT = "checkpoint"  # the artifact key of the raw checkpoint inside the model
REQUIREMENTS = ("mlflow", "torch", "torchvision", "numpy", "pandas", "soundfile", "soxr", "pillow")

# (python model, signature, input example) of a checkpoint, given its upstream checkpoints by training stage
Build = Callable[[Path, dict[str, Path]], tuple[Any, Any, Any]]


@dataclass(frozen=True)
class Wrapper:
    """How a training stage's checkpoint becomes an MLflow Model.

    ``params``: the model's config (``context.model_config``), each name read from the pipeline parameter it
    names, as the run that made the version used it. ``upstream``: training stages whose checkpoints the model
    needs beside its own (kept as artifacts named by the stage: the CNN-logits student's teacher)."""

    build: Build
    params: dict[str, str] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()


def contents(path: Path) -> dict[str, Any]:
    from soundflow.checkpoints import load_checkpoint

    return load_checkpoint(path)


def dense(x: Any, dtype: Any) -> np.ndarray:
    """A nested list (or an object array of arrays, as a served DataFrame cell holds one) as one array."""
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x.astype(dtype, copy=False)
    if isinstance(x, (list, tuple, np.ndarray)) and len(x) and isinstance(x[0], (list, tuple, np.ndarray)):
        return np.stack([dense(v, dtype) for v in x])
    return np.asarray(x, dtype=dtype)


def given(value: Any) -> bool:
    """Whether a DataFrame cell holds a value (not None or NaN, the missing value of an absent optional column)."""
    if value is None:
        return False
    return not (isinstance(value, float) and np.isnan(value))
