"""What the transcoder's trainings share: in-memory tensors through the one training loop
(:func:`soundflow.training.fit`) with Adam at a constant learning rate, as the paper trains all its models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, TrainStep, fit


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    lr: float
    seed: int


def digest(*parts: Any) -> str:
    """A fingerprint of arrays (their bytes) and JSON-able parameters."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, (np.ndarray, torch.Tensor)):
            arr = part.detach().cpu().numpy() if isinstance(part, torch.Tensor) else part
            h.update(np.ascontiguousarray(arr).tobytes())
            h.update(str(arr.shape).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def fit_tensors(
    model: torch.nn.Module,
    tensors: tuple[torch.Tensor, ...],
    *,
    train_step: TrainStep,
    validate: Callable[[torch.nn.Module], Mapping[str, float]],
    best: BestEpoch,
    schedule: Schedule,
    files: FitFiles,
    fingerprint: str,
    name: str,
    lr_hint: str,
    make_checkpoint: Callable[[FitResult], dict[str, Any]],
    make_summary: Callable[[FitResult], dict[str, Any]],
    device: torch.device,
    progress: bool = True,
) -> FitResult:
    """Train ``model`` on shuffled batches of ``tensors`` (rows aligned), Adam at ``schedule.lr``."""
    loader = DataLoader(
        TensorDataset(*tensors),
        batch_size=schedule.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(schedule.seed),
    )
    return fit(
        model,
        loader,
        train_step=train_step,
        validate=validate,
        make_optimizer=lambda params: torch.optim.Adam(params, lr=schedule.lr),
        make_scheduler=lambda opt, steps: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0),
        options=FitOptions(
            epochs=schedule.epochs, best=best, name=name, lr_hint=lr_hint, items="chunks", progress=progress
        ),
        files=files,
        fingerprint=fingerprint,
        make_checkpoint=make_checkpoint,
        make_summary=make_summary,
        device=device,
    )


@torch.no_grad()
def batched(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: torch.device, batch: int = 256
) -> torch.Tensor:
    """``fn`` over ``x`` in batches on ``device``; the result on the CPU as float32."""
    out = [fn(x[i : i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.zeros(0)
