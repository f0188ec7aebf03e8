"""Training of the AED chunk classifier (docs/methods.md#aed-cnn).

Adam (beta1 0.5) with the learning rate decaying linearly per step from
``lr_start`` to ``lr_end``, cross-entropy, frequency-roll augmentation, seeded.
Two fixes of the original: the validation split is by *source recording* (no
chunk of a validation file, nor any other slice of its recording, is seen in
training: :mod:`tasks.datasets.splits`) and the best checkpoint is a *copy* of
the weights of the epoch with the best file-level validation accuracy (ties:
the lower validation loss).

The loop is :func:`soundflow.training.fit`: long runs resume from
``state_dir/last.pt`` and end with the same checkpoint, byte for byte on the
CPU, as an uninterrupted run (the state includes the augmentation generator
and every other random source), and a training loss that becomes NaN or
infinite stops the run with :class:`~soundflow.training_state.TrainingDiverged`
before anything is written from the broken weights. This module only says
what is particular to the AED CNN: its data split and loaders, its loss and
validation, and what its checkpoint and summary hold.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import models
from soundflow import distributed
from soundflow.devices import pick_device
from soundflow.plots import training_curves
from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit
from tasks.aed.dataset import ChunkDataset, chunk_rows, seed_worker_augmentation
from tasks.aed.features import ChunkIndex, fingerprint, read_index
from tasks.aed.inference import file_level_accuracy, predict_rows
from tasks.aed.params import AedDataParams, AedModelParams, AedTrainParams
from tasks.datasets.splits import grouped_validation_mask

# the kept epoch: best file-level validation accuracy, the lower validation loss among equals
BEST = BestEpoch("val_accuracy", "max", tie_break=("val_loss", "min"))


def split_files(index: ChunkIndex, data: AedDataParams, seed: int) -> dict[str, np.ndarray]:
    """File ids of train / val / test: test = ``test_folds``; val = about ``val_fraction`` of each class's other
    files, whole source recordings at a time (UrbanSound8K's ``fsID``, ESC-50's ``src_file``)."""
    test = np.isin(index.file_fold, data.test_folds)
    if not test.any():
        raise ValueError(f"no file in test folds {data.test_folds}; folds present: {sorted(set(index.file_fold))}")
    rest = np.flatnonzero(~test)
    picked = grouped_validation_mask(
        index.file_label[rest], index.file_source[rest], data.val_fraction, np.random.default_rng(seed)
    )
    val = np.zeros_like(test)
    val[rest[picked]] = True
    return {"train": np.flatnonzero(~test & ~val), "val": np.flatnonzero(val), "test": np.flatnonzero(test)}


def build_model(n_classes: int, input_shape: tuple[int, int], p: AedModelParams) -> torch.nn.Module:
    return models.get(p.name)(
        n_classes=n_classes, input_shape=input_shape, width=p.width, dense=p.dense, dropout=p.dropout
    )


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    history_csv: Path
    summary_json: Path


def _fingerprint(store_dir: Path, *parts: object) -> str:
    return hashlib.sha256(json.dumps([fingerprint(store_dir), *map(str, parts)]).encode()).hexdigest()


def _loaders(
    chunks: Path, index: ChunkIndex, rows: dict[str, np.ndarray], p: AedTrainParams, device: torch.device
) -> tuple[DataLoader, DataLoader]:
    """The shuffled, augmenting training loader (seeded generator) and the validation loader."""
    train_ds = ChunkDataset(
        chunks, rows["train"], index.chunk_label[rows["train"]], p.roll_prob, p.roll_max_fraction, p.seed
    )
    val_ds = ChunkDataset(chunks, rows["val"], index.chunk_label[rows["val"]])
    gen = torch.Generator().manual_seed(p.seed)
    loader_kw = dict(batch_size=p.batch_size, num_workers=p.num_workers, pin_memory=device.type == "cuda")
    # no persistent workers, so that a resumed run repeats an uninterrupted one: each epoch's training
    # workers get seeds drawn from ``gen`` instead of carrying augmentation state across epochs that no
    # saved state can capture, and each epoch's validation iterator draws its seed from the global
    # torch generator, as it does without workers
    train_dl = DataLoader(
        train_ds,
        shuffle=True,
        drop_last=len(train_ds) > p.batch_size,
        generator=gen,
        worker_init_fn=seed_worker_augmentation if p.num_workers else None,
        **loader_kw,
    )
    return train_dl, DataLoader(val_ds, shuffle=False, **loader_kw)


def _train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    """Cross-entropy of one batch (from float32 logits) and its correct predictions (the train accuracy)."""
    x, y = batch
    logits = model(x)
    return StepOutput(F.cross_entropy(logits.float(), y), len(y), {"accuracy": (logits.argmax(1) == y).sum()})


def _validation(val_dl: DataLoader, device: torch.device, val_chunk_file: np.ndarray, file_label: np.ndarray):
    """The epoch's validation: mean chunk cross-entropy and file-level accuracy (mean of chunk probabilities)."""

    def validate(model: torch.nn.Module) -> dict[str, float]:
        val_probs, val_loss = predict_rows(model, val_dl, device)
        return {"val_loss": val_loss, "val_accuracy": file_level_accuracy(val_probs, val_chunk_file, file_label)}

    return validate


def _linear_decay(p: AedTrainParams):
    """Schedule factory: the learning rate falls linearly from ``lr_start`` (first step) to ``lr_end`` (last)."""

    def make(opt: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
        total = max(1, total_steps - 1)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: (p.lr_start + (p.lr_end - p.lr_start) * min(step, total) / total) / p.lr_start
        )

    return make


def _checkpoint(index: ChunkIndex, model_p: AedModelParams):
    """The checkpoint's contents (read by evaluation, prediction and ``soundflow predict``)."""

    def contents(r: FitResult) -> dict:
        return {
            "model_name": model_p.name,
            "model_kwargs": {
                "n_classes": len(index.classes),
                "input_shape": list(index.input_shape),
                "width": model_p.width,
                "dense": model_p.dense,
                "dropout": model_p.dropout,
            },
            "state_dict": r.best_state,
            "classes": index.classes,
            "feature_params": index.params,
            "best_epoch": r.best_epoch,
            "val_accuracy": r.best_metrics["val_accuracy"],
            "device": r.device.type,  # where it trained; the summary (a metrics file) holds numbers only
        }

    return contents


def _summary(split: dict[str, np.ndarray], rows: dict[str, np.ndarray]):
    def summary(r: FitResult) -> dict:
        return {
            "best_epoch": r.best_epoch,
            "best_val_accuracy": r.best_metrics["val_accuracy"],
            "best_val_loss": r.best_metrics["val_loss"],
            "final_train_loss": r.history[-1]["train_loss"],
            "final_train_accuracy": r.history[-1]["train_accuracy"],
            "n_train_files": int(len(split["train"])),
            "n_val_files": int(len(split["val"])),
            "n_train_chunks": int(len(rows["train"])),
            "train_chunks_per_second": float(np.mean([h["chunks_per_second"] for h in r.history])),
        }

    return summary


def train(
    chunks: Path,
    checkpoint: Path,
    history_csv: Path,
    summary_json: Path,
    data: AedDataParams,
    model_p: AedModelParams,
    p: AedTrainParams,
    state_dir: Path,
    progress: bool = True,
) -> TrainResult:
    """Train on the train split of ``chunks``; write the best-validation checkpoint, history and summary."""
    torch.manual_seed(p.seed)
    np.random.seed(p.seed)
    device = pick_device(p.device)
    index = read_index(chunks)
    split = split_files(index, data, p.seed)
    if len(split["train"]) == 0 or len(split["val"]) == 0:
        raise ValueError(
            f"{chunks}: too few files for a train/validation split ({ {k: len(v) for k, v in split.items()} })"
        )
    rows = {k: chunk_rows(index, v) for k, v in split.items() if k != "test"}
    train_dl, val_dl = _loaders(chunks, index, rows, p, device)
    model = build_model(len(index.classes), index.input_shape, model_p)  # its initial weights: after the seeding
    options = FitOptions(
        epochs=p.epochs,
        best=BEST,
        name="aed_train (AED CNN)",
        lr_hint=f"aed.train.lr_start = {p.lr_start:g}",
        items="chunks",
        max_steps_per_epoch=p.max_batches_per_epoch or None,
        progress=progress,
    )
    fit(
        model,
        train_dl,
        train_step=_train_step,
        validate=_validation(val_dl, device, index.chunk_file[rows["val"]], index.file_label),
        make_optimizer=lambda params: torch.optim.Adam(params, lr=p.lr_start, betas=(p.beta1, 0.999)),
        make_scheduler=_linear_decay(p),
        options=options,
        files=FitFiles(state_dir, checkpoint, history_csv, summary_json),
        fingerprint=_fingerprint(chunks, data, model_p, p),
        make_checkpoint=_checkpoint(index, model_p),
        make_summary=_summary(split, rows),
        device=device,
    )
    return TrainResult(Path(checkpoint), Path(history_csv), Path(summary_json))


def train_and_plot(
    chunks: Path,
    files: FitFiles,
    curves_png: Path,
    data: AedDataParams,
    model_p: AedModelParams,
    p: AedTrainParams,
) -> TrainResult:
    """:func:`train`, then the per-epoch loss and accuracy curves of its history drawn into ``curves_png``.

    The curves are drawn from the history file, not from memory, so a resumed or already finished run
    draws every epoch, including those an earlier process trained.
    """
    result = train(
        chunks,
        files.checkpoint,
        files.history_csv,
        files.summary_json,
        data,
        model_p,
        p,
        state_dir=files.state_dir,
    )
    if distributed.is_main():  # under torchrun, rank 0 writes
        training_curves(pd.read_csv(result.history_csv), curves_png, title="AED CNN")
    return result
