"""Input files that cannot be used: one error type whose message names the file and the problem.

Decoders raise a subclass (:class:`soundflow.audio.AudioError`, ``ImageError``); code that reads many
inputs (the feature store, extraction loops) catches :class:`InputError`, skips the file and records
``problem`` instead of failing a long run.
"""

from __future__ import annotations

import os
from pathlib import Path


class InputError(ValueError):
    """An input file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def require_nonempty_file(path: Path, error: type[InputError]) -> None:
    """Raise ``error`` for a path that is no file, or an empty one, before any decoder sees it."""
    if not path.is_file():
        raise error(path, "file not found")
    if path.stat().st_size == 0:
        raise error(path, "empty file (0 bytes)")
