"""Classification heads on a frozen teacher's class probabilities (Tailleur et al., DCASE 2023).

- *deep*: linear (teacher classes -> ``hidden``) + ReLU + linear (-> target classes), sigmoid and binary
  cross-entropy (one-hot targets for a single-label set), Adam (paper: lr 1e-3, 30 epochs, batch 32),
  trained through the one training loop, the epoch with the lowest validation loss kept.
- *grouping*: no training: each target class scores the maximum probability of the teacher classes mapped
  to it (``configs/transcoder_grouping.yaml``); a target without any gets 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

import models
from soundflow.training import BestEpoch, FitFiles, StepOutput
from tasks.transcoder.fitting import Schedule, batched, digest, fit_tensors
from tasks.transcoder.params import HeadParams

BEST = BestEpoch("val_loss", "min")


def load_groups(
    path: Path, teacher_vocabulary: str, target_vocabulary: str, targets: list[str]
) -> dict[str, list[str]]:
    """target class -> teacher classes, the ``<teacher>-><target>`` section of the grouping file."""
    raw = yaml.safe_load(Path(path).read_text())
    key = f"{teacher_vocabulary}->{target_vocabulary}"
    groups = (raw or {}).get("groups", {}).get(key)
    if groups is None:
        raise ValueError(f"{path}: no groups.{key!r} section (has {sorted((raw or {}).get('groups', {}))})")
    unknown = sorted(set(groups) - set(targets))
    if unknown:
        raise ValueError(f"{path}: groups.{key}: {unknown} are not target classes ({targets})")
    return {t: list(groups.get(t) or []) for t in targets}


def grouping_scores(probs: np.ndarray, teacher_classes: list[str], groups: dict[str, list[str]]) -> np.ndarray:
    """(items, targets): the max teacher probability over each target's group (0 for an empty group)."""
    index = {c: i for i, c in enumerate(teacher_classes)}
    out = np.zeros((len(probs), len(groups)), np.float32)
    for j, members in enumerate(groups.values()):
        cols = [index[m] for m in members if m in index]
        if cols:
            out[:, j] = probs[:, cols].max(1)
    return out


def _step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    x, y = batch
    return StepOutput(F.binary_cross_entropy_with_logits(model(x).float(), y), len(y))


def deep_head_scores(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test_x: np.ndarray,
    p: HeadParams,
    files: FitFiles,
    seed: int,
    device: torch.device,
) -> np.ndarray:
    """Train the deep head on ``train`` (inputs, 0/1 targets), keep the best ``val`` epoch; scores of ``test_x``."""
    x_tr, y_tr = (torch.from_numpy(np.asarray(a, np.float32)) for a in train)
    x_va, y_va = (torch.from_numpy(np.asarray(a, np.float32)) for a in val)
    torch.manual_seed(seed)
    kwargs = {"n_inputs": x_tr.shape[1], "n_classes": y_tr.shape[1], "hidden": p.hidden}
    model = models.get("deep_head")(**kwargs)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        return {"val_loss": F.binary_cross_entropy_with_logits(batched(m, x_va, device), y_va).item()}

    result = fit_tensors(
        model,
        (x_tr, y_tr),
        train_step=_step,
        validate=validate,
        best=BEST,
        schedule=Schedule(p.epochs, p.batch_size, p.lr, seed),
        files=files,
        fingerprint=digest(x_tr, y_tr, x_va, y_va, p.model_dump(), seed),
        name="transcoder deep head",
        lr_hint=f"transcoder.heads.lr = {p.lr:g}",
        make_checkpoint=lambda r: {"model_name": "deep_head", "model_kwargs": kwargs, "state_dict": r.best_state},
        make_summary=lambda r: {"best_epoch": r.best_epoch, **r.best_metrics},
        device=device,
        progress=False,
    )
    model.load_state_dict(result.best_state)
    model.eval()
    return torch.sigmoid(batched(model.to(device), torch.from_numpy(np.asarray(test_x, np.float32)), device)).numpy()
