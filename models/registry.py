"""Name -> model class registry, so configs and checkpoints refer to models by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

_REGISTRY: dict[str, type[nn.Module]] = {}

M = TypeVar("M", bound=type[nn.Module])


def register_model(name: str) -> Callable[[M], M]:
    def deco(cls: M) -> M:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].__name__}")
        _REGISTRY[name] = cls
        return cls

    return deco


def get(name: str) -> type[nn.Module]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def available() -> list[str]:
    return sorted(_REGISTRY)
