"""Resumable training: the full state after each epoch, written atomically, restored only for the same inputs.

A fingerprint (a hash of the training data and parameters) is stored with the state; a rerun with
another fingerprint starts from scratch instead of resuming someone else's run. The state is a checkpoint
with a content hash (:mod:`soundflow.checkpoints`): a damaged one is discarded with a note, never resumed.

A resumed run must end exactly where an uninterrupted one does, so the state holds every random
source a loop draws from, as it stood at the end of the epoch: the global torch (CPU and CUDA) and
numpy generators (dropout, the validation loader's seed), the training loader's generator (its
shuffling permutation and worker seeds are drawn from it at each new iteration, so restoring it at
an epoch boundary also restores the sampler's position) and the datasets' own augmentation state
(``data_state``, captured by the caller, e.g. with :func:`generator_states`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundflow.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from soundflow.errors import UserError
from soundflow.io import remove_temp_leftovers

# The layout of a saved state. A state of another layout (an older training loop's) is not resumed:
# its keys would not mean what this loop reads from them.
FORMAT = 2


class TrainingDiverged(UserError, RuntimeError):
    """The training loss became NaN or infinite: the weights are garbage, nothing may be written from them."""

    exit_code = 1  # a failed run (the parameters are the user's to change), not a refused command


def check_loss(loss: float, *, model: str, epoch: int, step: int, lr_hint: str) -> None:
    """Raise :class:`TrainingDiverged` if a training ``loss`` is not finite (``epoch`` and ``step`` 1-based).

    Called before the epoch's state, best copy or outputs are written, so a diverged run leaves none.
    """
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{model}: training diverged at epoch {epoch} (step {step}): training loss is "
            f"{loss}; lower the learning rate ({lr_hint})"
        )


def weights_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights copied to the CPU: a copy, not a reference, so later epochs cannot change a kept best."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def generator_states(obj: object) -> dict[str, Any]:
    """The states of the numpy / torch generators held as attributes of ``obj`` (a dataset), by attribute name."""
    states: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if isinstance(value, np.random.Generator):
            states[name] = value.bit_generator.state
        elif isinstance(value, torch.Generator):
            states[name] = value.get_state()
    return states


def set_generator_states(obj: object, states: dict[str, Any]) -> None:
    """Put the generators of ``obj`` back into ``states`` (from :func:`generator_states`), in place."""
    for name, state in states.items():
        value = getattr(obj, name, None)
        if isinstance(value, np.random.Generator):
            value.bit_generator.state = state
        elif isinstance(value, torch.Generator):
            value.set_state(state)
        else:
            raise TypeError(f"{type(obj).__name__}.{name} is {type(value).__name__}, not the generator that was saved")


def remove_leftovers(*paths: Path) -> None:
    """Delete the temporaries that killed writes of ``paths`` left behind (this stage is their only writer)."""
    for path in paths:
        for leftover in remove_temp_leftovers(path):
            print(f"removed {leftover}, left by an interrupted write")


def _cuda_rng_state() -> list[torch.Tensor] | None:
    # only a run that uses CUDA has initialised it; asking otherwise would start a CUDA context for nothing
    return torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None


def _restore_cuda_rng(states: list[torch.Tensor] | None, path: Path, log: Callable[[str], None]) -> None:
    if states is None or not torch.cuda.is_available():
        return
    if len(states) != torch.cuda.device_count():
        log(
            f"{path} holds the CUDA random state of {len(states)} device(s), this machine has "
            f"{torch.cuda.device_count()}; the resumed run will not repeat the uninterrupted one exactly"
        )
        return
    torch.cuda.set_rng_state_all(states)


def save(
    path: Path,
    *,
    fingerprint: str,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loader_rng: torch.Generator,
    history: list[dict[str, float]],
    best: dict[str, Any],
    data_state: dict[str, Any] | None = None,
) -> None:
    """Everything needed to continue after ``epoch`` (0-based): weights, optimiser, schedule, RNGs, history.

    ``data_state`` is the caller's snapshot of its datasets' random state, given back by :func:`restore`.
    """
    save_checkpoint(
        path,
        {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "history": history,
            "best": best,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": _cuda_rng_state(),
            "loader_rng": loader_rng.get_state(),
            "numpy_rng": np.random.get_state(),
            "data_state": data_state or {},
        },
    )


def restore(
    path: Path,
    *,
    fingerprint: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loader_rng: torch.Generator,
    total_epochs: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """Load the state saved at ``path`` into the given objects if it was made with ``fingerprint``.

    Returns the saved dict (``epoch``, ``history``, ``best``, ``data_state`` for the caller to apply) or
    None when there is nothing to resume. ``log`` gets the one-line account of the decision (in a
    distributed run only rank 0 prints it).
    """
    if not path.exists():
        return None
    # on the CPU: RNG states must be CPU tensors, the kept best copy is CPU by design, and
    # load_state_dict moves weights and optimiser state to the model's device
    try:
        saved = load_checkpoint(path, "cpu", remedy="training from scratch")
    except CheckpointError as err:
        # the state only saves time: a damaged one is discarded, never resumed from (a fresh run ends
        # where an uninterrupted one does); it is overwritten after the first epoch
        log(str(err))
        return None
    if saved.get("format", 1) != FORMAT:
        log(f"{path} was written by another version of the training loop; training from scratch")
        return None
    if saved.get("fingerprint") != fingerprint:
        log(f"{path} was written for other inputs or parameters; training from scratch")
        return None
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    _restore_cuda_rng(saved.get("cuda_rng"), path, log)
    loader_rng.set_state(saved["loader_rng"])
    np.random.set_state(saved["numpy_rng"])
    saved.setdefault("data_state", {})
    log(f"resuming from {path} after epoch {saved['epoch'] + 1}/{total_epochs}")
    return saved
