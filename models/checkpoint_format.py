"""Strict loading of published checkpoints from local files, with errors that name the file and the mismatch.

The official PANN files (Kong et al., 2020, Zenodo 3987831) are ``torch.save``d dicts
``{"model": state_dict, "iteration": int, ...}``; the YAMNet PyTorch port is a plain state dict. A file
of another format, a missing or unexpected key, or a tensor of another shape is refused: a silent
``strict=False`` would leave random weights in a "pretrained" teacher.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from soundflow.errors import UserError


class CheckpointError(ValueError, UserError):
    """A checkpoint file that cannot be used: missing, unreadable, corrupted, or not what the architecture needs."""


class CheckpointMissing(CheckpointError, FileNotFoundError):
    """No checkpoint file where one was expected (also a FileNotFoundError, for callers that test for that)."""


def read_checkpoint(path: str | os.PathLike[str]) -> object:
    path = Path(path)
    if not path.is_file():
        raise CheckpointMissing(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors all mean "not a checkpoint we can read"
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: {err})") from None


def _shape_problems(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    problems = []
    if missing:
        problems.append(f"missing keys {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_few(unexpected)}")
    for k in sorted(set(own) & set(state)):
        v = state[k]
        if not isinstance(v, torch.Tensor):
            problems.append(f"{k} is a {type(v).__name__}, not a tensor")
        elif tuple(v.shape) != tuple(own[k].shape):
            problems.append(f"{k} has shape {tuple(v.shape)}, the model needs {tuple(own[k].shape)}")
    return problems


def _few(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def load_strict(
    model: nn.Module,
    state: object,
    path: str | os.PathLike[str],
    *,
    ignore_prefixes: Iterable[str] = (),
    what: str = "state dict",
) -> nn.Module:
    """``state`` into ``model`` with every key and shape checked; keys starting with ``ignore_prefixes`` dropped.

    Raises :class:`CheckpointError` naming ``path`` and each problem.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a {what}, found a {type(state).__name__}")
    prefixes = tuple(ignore_prefixes)
    kept = {k: v for k, v in state.items() if not (prefixes and str(k).startswith(prefixes))}
    problems = _shape_problems(model, kept)
    if problems:
        raise CheckpointError(f"{path}: does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(kept, strict=True)
    return model


def read_class_names(path: str | os.PathLike[str], n: int) -> list[str]:
    """The ``display_name`` column of a published class map (AudioSet's ``class_labels_indices.csv``, YAMNet's
    ``yamnet_class_map.csv``), in score order: FileNotFoundError or ValueError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: class map not found")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    if "display_name" not in columns or len(rows) != n:
        raise ValueError(f"{path}: expected {n} rows with a display_name column, found {len(rows)} rows, {columns}")
    return [row["display_name"] for row in rows]
