"""Google's YAMNet weights as exported from TensorFlow (``yamnet_weights.npz``: the 110 variables of the
SavedModel's ``_yamnet`` Keras model, keyed by TF variable name without ``:0``) into :class:`models.yamnet.YAMNet`.

Key map (TF name -> state-dict key, layout change):

=============================================  ==============================================  ==================
``layer1/conv/kernel`` [kh, kw, in, out]        ``layer1.fused.conv.weight`` (out, in, kh, kw)    permute(3, 2, 0, 1)
``layerN/depthwise_conv/depthwise_kernel``      ``layerN.depthwise_conv.conv.weight``            permute(2, 3, 0, 1)
[kh, kw, in, 1]                                 (in, 1, kh, kw)
``layerN/pointwise_conv/kernel`` [1, 1, in,     ``layerN.pointwise_conv.conv.weight``            permute(3, 2, 0, 1)
out]                                            (out, in, 1, 1)
``<conv>/bn/beta``                              ``<conv>.bn.bias``                               as is
``<conv>/bn/moving_mean``, ``moving_variance``  ``<conv>.bn.running_mean``, ``running_var``      as is
``dense/kernel`` [in, out], ``dense/bias``      ``classifier.weight`` (out, in), ``.bias``       transposed
=============================================  ==============================================  ==================

(``<conv>`` = ``layer1/conv`` / ``layerN/depthwise_conv`` / ``layerN/pointwise_conv`` and their dotted forms.)

YAMNet's batch norms are ``scale=False``: TF has no gamma variable and multiplies by a constant 1, so every
``bn.weight`` is set to 1 here (a PyTorch BatchNorm always has one). ``num_batches_tracked`` counts
training steps and changes no output; it keeps the model's own value. Everything else is strict: each
npz key is used exactly once, each other parameter and buffer is filled, each shape checked; a mismatch
raises :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.checkpoint_format import CheckpointError, load_strict

_BN = {"bn.bias": "bn/beta", "bn.running_mean": "bn/moving_mean", "bn.running_var": "bn/moving_variance"}
_PERMUTE = {"conv": (3, 2, 0, 1), "depthwise": (2, 3, 0, 1), "dense": (1, 0), "vector": None}


def tf_name(key: str) -> tuple[str, str]:
    """(TF variable name, layout) for a state-dict key of YAMNet that the TF export holds."""
    if key in ("classifier.weight", "classifier.bias"):
        return ("dense/kernel", "dense") if key.endswith("weight") else ("dense/bias", "vector")
    m = re.fullmatch(r"layer(\d+)\.(fused|depthwise_conv|pointwise_conv)\.(.+)", key)
    if m is None:
        raise KeyError(key)
    layer, block, rest = m.groups()
    scope = f"layer{layer}/" + ("conv" if block == "fused" else block)
    if rest == "conv.weight":
        return (f"{scope}/depthwise_kernel", "depthwise") if block == "depthwise_conv" else (f"{scope}/kernel", "conv")
    if rest in _BN:
        return f"{scope}/{_BN[rest]}", "vector"
    raise KeyError(key)


def _tf_covered(key: str) -> bool:
    """Whether the TF export holds ``key`` (not the constant gamma nor the step counter)."""
    return not key.endswith(("bn.weight", "num_batches_tracked"))


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: YAMNet weights file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: not a readable .npz of YAMNet weights ({type(err).__name__}: {err})") from None


def tf_state_dict(model: nn.Module, arrays: dict[str, np.ndarray], path: str | os.PathLike[str]) -> dict:
    """``model``'s state dict filled from the TF arrays (see the key map); CheckpointError on any mismatch."""
    own = model.state_dict()
    try:
        wanted = {k: tf_name(k) for k in own if _tf_covered(k)}
    except KeyError as err:
        raise CheckpointError(f"{path}: {type(model).__name__} has key {err} that YAMNet's TF export lacks") from None
    problems = []
    missing = sorted({name for name, _ in wanted.values()} - set(arrays))
    unexpected = sorted(set(arrays) - {name for name, _ in wanted.values()})
    if missing:
        problems.append(f"missing TF variables {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected TF variables {_few(unexpected)}")
    state = {}
    for key, (name, layout) in wanted.items():
        if name not in arrays:
            continue
        a, perm = arrays[name], _PERMUTE[layout]
        ndim = len(perm) if perm else 1
        if a.ndim != ndim or a.dtype.kind != "f":
            problems.append(f"{name} is {a.dtype} of shape {a.shape}, expected a float {layout} array of rank {ndim}")
            continue
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(perm) if perm else a, dtype=np.float32))
        if tuple(t.shape) != tuple(own[key].shape):
            problems.append(f"{name} {a.shape} gives {key} {tuple(t.shape)}, the model needs {tuple(own[key].shape)}")
        state[key] = t
    if problems:
        raise CheckpointError(f"{path}: does not fit {type(model).__name__}: " + "; ".join(problems))
    for key, value in own.items():
        if key.endswith("bn.weight"):
            state[key] = torch.ones_like(value)  # scale=False: TF's constant gamma of 1
        elif key.endswith("num_batches_tracked"):
            state[key] = value
    return state


def load_yamnet_npz(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Google's TF YAMNet weights (``yamnet_weights.npz``) into ``model`` strictly; returns ``model``."""
    return load_strict(model, tf_state_dict(model, read_npz(path), path), path, what="YAMNet state dict")


def _few(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")
