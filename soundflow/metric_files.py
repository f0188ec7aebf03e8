"""Metrics files as DVC shows them: numbers only, the headline metrics first.

``dvc metrics show`` and ``dvc exp show`` draw one column per leaf of a stage's metrics file: a string or a
flag there is a column of text, a list a cell nobody can read, and a per-class table dozens of columns. So a
metrics file holds numbers only, in nested dicts; per-class tables and descriptions go to a file of their own
(a plain output of the stage). ``dvc exp show`` keeps a file's key order, so the metrics a workflow is judged
by (``Workflow.headlines``, flattened keys as MLflow names them) are written first, at every level.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from soundflow.io import write_json

SEP = "/"  # nested keys joined as MLflow names them (soundflow.pipeline.tracking.metrics_from_json)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(flattened key, value) of every leaf, in the file's order; a list is one leaf."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaves(value, path + SEP)
        else:
            yield path, value


def matches(key: str, pattern: str) -> bool:
    """Whether a flattened key matches a pattern of ``Workflow.headlines`` ('*' stands for one key segment)."""
    parts, want = key.split(SEP), pattern.split(SEP)
    return len(parts) == len(want) and all(w in ("*", p) for w, p in zip(want, parts))


def non_numbers(tree: Mapping[str, Any]) -> list[str]:
    """The flattened keys whose value is not a number (a string, a flag, a list, null)."""
    return [key for key, value in leaves(tree) if not is_number(value)]


def _rank(tree: Any, prefix: str, first: Sequence[str]) -> float:
    """The index of the first pattern that a leaf under ``tree`` matches; infinity when none does."""
    keys = [k for k, _ in leaves(tree, prefix + SEP)] if isinstance(tree, Mapping) else [prefix]
    return min((i for i, p in enumerate(first) for k in keys if matches(k, p)), default=math.inf)


def headline_first(tree: Mapping[str, Any], first: Sequence[str], prefix: str = "") -> dict[str, Any]:
    """``tree`` reordered at every level: the keys holding a leaf that matches one of ``first`` come first,
    in the order of ``first``, then the others; ties by name. Key paths and values are unchanged."""
    ranked = sorted(tree.items(), key=lambda kv: (_rank(kv[1], f"{prefix}{kv[0]}", first), kv[0]))
    return {k: headline_first(v, first, f"{prefix}{k}{SEP}") if isinstance(v, Mapping) else v for k, v in ranked}


def _defined(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` without its None leaves, nor the dicts they leave empty."""
    out = {k: _defined(v) if isinstance(v, Mapping) else v for k, v in tree.items() if v is not None}
    return {k: v for k, v in out.items() if v != {}}


def write_metrics(path: str | os.PathLike[str], tree: Mapping[str, Any], *, first: Sequence[str] = ()) -> Path:
    """Write a stage's metrics file: numbers in nested dicts, the leaves matching ``first`` first.

    An undefined metric (None: a score of an empty set) is left out, so DVC shows '-' and MLflow logs
    nothing, as for a metric never computed; any other value that is not a number is refused (ValueError
    naming the file and the keys): it belongs in a file of its own. NaN and infinity are refused by
    :func:`soundflow.io.write_json`.
    """
    tree = _defined(tree)
    if bad := non_numbers(tree):
        raise ValueError(f"{path}: not written, a metrics file holds numbers only, not {', '.join(bad)}")
    return write_json(path, headline_first(tree, first), sort_keys=False)
