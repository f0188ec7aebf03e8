"""The base of every parameter model, and the bounds several workflows share.

Each workflow declares its own typed parameters next to its tasks (``tasks/<workflow>/params.py``); the
pipeline composes them into the one schema of ``params.yaml`` (:mod:`soundflow.pipeline.config`). Both sides need
the same base, so it lives here, in the bottom layer, which imports nothing of theirs.

Bounds are ``Field`` constraints (``ge``, ``gt``, ``le``, ``lt``, ``min_length``) wherever a rule can be one,
also for the two ends of a range (:data:`Seconds` and friends inside a ``tuple``): the schema then carries
its bounds as metadata, which the test suite walks to check that each is refused just outside and accepted
at its limit.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Upper bounds. Far above every real value (the numbers of docs/methods.md fit with room to spare),
# low enough that a typo such as a few extra zeros is refused before any work, rather than ending in a
# MemoryError or a run of days halfway down the DAG.
MAX_SAMPLE_RATE = 192_000  # Hz: the highest rate of studio audio hardware
MIN_SAMPLE_RATE = 8000  # Hz: telephone audio; the filters and band edges of the generators assume at least this
MAX_CLIP_SECONDS = 600.0  # one generated clip or library sound: UrbanSound8K clips are <= 4 s, soundscape events 16 s
MAX_CLIPS_PER_CLASS = 10_000  # UrbanSound8K has at most 1000 clips per class, ESC-50 40
MAX_IMAGE_SIDE = 4096  # pixels: Cityscapes is 1024 x 2048, and ERFNet's memory grows with the pixel count
MAX_EPOCHS = 10_000  # the reference setups train 55 (AED) and 70 (ERFNet) epochs
MAX_BATCH = 4096  # the reference batches are 32 (AED) and 8 (ERFNet)
MAX_WORKERS = 256  # threads or processes on one machine
# numpy.random.seed, which the training stages call, takes 0 .. 2**32 - 1; every seed shares the range
MAX_SEED = 2**32 - 1
# the error type of a refused value that must not be echoed back (a URL with a password): messages leave it out
SECRET_ERROR = "secret_value"

Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
SampleRate = Annotated[int, Field(ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE)]


# Unknown keys are almost always typos of real ones: refused. NaN and infinity are never a parameter (an
# infinite learning rate trains on NaN losses): refused in every float field, tuples and lists included;
# soundflow.pipeline.config.parse_params also checks the raw tree. A model built from these is immutable.
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Strict(BaseModel):
    """The base of every parameter model (a pydantic dataclass takes ``config=STRICT`` instead)."""

    model_config = STRICT


def ordered(v: tuple[float, float]) -> tuple[float, float]:
    """A ``(low, high)`` range with ``low <= high`` (each end's own bounds are ``Field`` constraints)."""
    if v[0] > v[1]:
        raise ValueError(f"expected [low, high] with low <= high, got {list(v)}")
    return v
