"""The parameters a stage may read: a view of ``params.yaml`` that holds only the keys the stage declares.

DVC reruns a stage when a parameter it *declares* changes; a value read without being declared would change
the result while DVC serves the cached one. So a stage's ``run`` never sees the whole tree: it gets a
:class:`ParamsView`, where a declared key (or anything under it) reads as the real value, a parent of declared
keys reads as a narrower view, and anything else raises :class:`UndeclaredParam` naming the stage and key.
The view also records which declared keys were read, so a test can require declared == read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class UndeclaredParam(RuntimeError):
    """A stage read a parameter its declaration does not list (a bug in the stage's declaration)."""


class ParamsView:
    __slots__ = ("_declared", "_model", "_prefix", "_reads", "_stage", "_undeclared")

    def __init__(
        self,
        model: Any,
        declared: Iterable[str],
        stage: str,
        prefix: str = "",
        reads: set | None = None,
        undeclared: set | None = None,
    ):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_declared", tuple(declared))
        object.__setattr__(self, "_stage", stage)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_reads", set() if reads is None else reads)
        # None: strict (an undeclared read raises); a set: survey mode, undeclared reads collected and served
        object.__setattr__(self, "_undeclared", undeclared)

    def __getattr__(self, name: str) -> Any:
        key = f"{self._prefix}{name}"
        covering = [d for d in self._declared if key == d or key.startswith(d + ".")]
        if covering:
            self._reads.update(covering)
            return getattr(self._model, name)
        if any(d.startswith(key + ".") for d in self._declared):
            sub = getattr(self._model, name)
            return ParamsView(sub, self._declared, self._stage, key + ".", self._reads, self._undeclared)
        if name.startswith("__"):  # copy, pickle and friends probe for dunders: not a parameter
            raise AttributeError(name)
        if self._undeclared is not None:
            self._undeclared.add(key)
            return getattr(self._model, name)
        raise UndeclaredParam(
            f"stage {self._stage!r} reads parameter {key!r} without declaring it: add it (or a section above it) "
            "to the stage's params, so that DVC reruns the stage when it changes"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"stage {self._stage!r}: parameters are read-only")

    def __repr__(self) -> str:
        return f"ParamsView({self._stage!r}, {self._prefix.rstrip('.') or '<root>'})"

    @property
    def read_keys(self) -> frozenset[str]:
        """The declared keys read so far (a declared key counts when it, or anything under it, was read)."""
        return frozenset(self._reads)

    @property
    def undeclared_keys(self) -> frozenset[str]:
        """In survey mode, the keys read without being declared."""
        return frozenset(self._undeclared or ())


def stage_view(params: Any, stage: Any, *, survey: bool = False) -> ParamsView:
    """What ``stage.run`` gets: ``params`` limited to ``stage.params``. ``survey`` (for whoever writes a stage:
    ``SOUNDFLOW_PARAMS_SURVEY=1``) serves undeclared reads too, and records them instead of failing."""
    return ParamsView(params, stage.params, stage.name, undeclared=set() if survey else None)
