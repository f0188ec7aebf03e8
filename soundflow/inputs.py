"""Input files that cannot be used: one error type whose message names the file and the problem.

Decoders raise a subclass (:class:`soundflow.audio.AudioError`, ``ImageError``); code that reads many
inputs (the feature store, extraction loops) catches :class:`InputError`, skips the file and records
``problem`` instead of failing a long run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from soundflow.errors import UserError

T = TypeVar("T")


class InputError(UserError, ValueError):
    """An input file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def require_nonempty_file(path: Path, error: type[InputError]) -> None:
    """Raise ``error`` for a path that is no regular file (missing, a folder, a fifo that would block a
    decoder, a symlink loop), an unreadable one or an empty one, before any decoder sees it."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise error(path, "file not found") from None
    except OSError as err:  # a symlink loop, a name too long, a folder on the way that is a file...
        raise error(path, f"cannot be opened ({err.strerror or err})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(path, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(path, "is not a regular file (a fifo, socket or device)")
    if not os.access(path, os.R_OK):
        raise error(path, "permission denied (not readable)")
    if st.st_size == 0:
        raise error(path, "empty file (0 bytes)")


class NoUsableInput(InputError):
    """Every input of a run was unusable: the first one's problem and how many there were, in one line."""


class SkipList:
    """The inputs a run over many files skipped, each with its problem; none usable at all is an error.

    ``attempt(fn)`` runs ``fn`` and returns its result, or records the :class:`InputError` it raised and
    returns None; ``check()`` raises :class:`NoUsableInput` when every attempt failed.
    """

    def __init__(self, noun: str) -> None:
        self.noun = noun  # plural: "audio files", "images"
        self.errors: list[InputError] = []
        self.n = 0

    def attempt(self, fn: Callable[[], T]) -> T | None:
        self.n += 1
        try:
            return fn()
        except InputError as err:
            self.errors.append(err)
            return None

    def check(self) -> None:
        if self.n and len(self.errors) == self.n:
            first = self.errors[0]
            more = "" if self.n == 1 else f"; none of the {self.n} {self.noun} is usable"
            raise NoUsableInput(first.path, first.problem + more)

    def lines(self) -> list[str]:
        """``N of M <noun> skipped:`` then one indented ``path: problem`` line per skipped input."""
        if not self.errors:
            return []
        return [f"{len(self.errors)} of {self.n} {self.noun} skipped:", *(f"  {e}" for e in self.errors)]
