"""Resumable training: the full state after each epoch, written atomically, restored only for the same inputs.

A fingerprint (a hash of the training data and parameters) is stored with the state; a rerun with
another fingerprint starts from scratch instead of resuming someone else's run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundflow.io import atomic_path


def weights_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights copied to the CPU: a copy, not a reference, so later epochs cannot change a kept best."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def save(path: Path, *, fingerprint: str, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         scheduler: Any, loader_rng: torch.Generator, history: list[dict[str, float]], best: dict[str, Any]) -> None:
    """Everything needed to continue after ``epoch`` (0-based): weights, optimiser, schedule, RNGs, history."""
    with atomic_path(path) as tmp:
        torch.save({"fingerprint": fingerprint, "epoch": epoch, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "history": history,
                    "best": best, "torch_rng": torch.get_rng_state(), "loader_rng": loader_rng.get_state(),
                    "numpy_rng": np.random.get_state()}, tmp)


def restore(path: Path, *, fingerprint: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: Any, loader_rng: torch.Generator, device: torch.device, total_epochs: int) -> dict[str, Any] | None:
    """Load the state saved at ``path`` into the given objects if it was made with ``fingerprint``.

    Returns the saved dict (``epoch``, ``history``, ``best``) or None when there is nothing to resume.
    """
    if not path.exists():
        return None
    saved = torch.load(path, map_location=device, weights_only=False)
    if saved.get("fingerprint") != fingerprint:
        print(f"{path} was written for other inputs or parameters; training from scratch")
        return None
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    loader_rng.set_state(saved["loader_rng"])
    np.random.set_state(saved["numpy_rng"])
    print(f"resuming from {path} after epoch {saved['epoch'] + 1}/{total_epochs}")
    return saved
