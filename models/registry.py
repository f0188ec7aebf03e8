"""Name -> model class registry, so configs and checkpoints refer to models by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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


def from_checkpoint(ckpt: Mapping[str, Any], **overrides: Any) -> nn.Module:
    """The model a checkpoint names (``model_name``, ``model_kwargs``, any ``overrides`` of those), with its
    ``state_dict`` loaded strictly: what every training stage writes, so every reader builds it the same way."""
    model = get(ckpt["model_name"])(**{**ckpt["model_kwargs"], **overrides})
    model.load_state_dict(ckpt["state_dict"])
    return model
