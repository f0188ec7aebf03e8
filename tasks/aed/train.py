"""Training of the AED chunk classifier (spec section 2).

Adam (beta1 0.5) with the learning rate decaying linearly per step from
``lr_start`` to ``lr_end``, cross-entropy, frequency-roll augmentation, seeded.
Two fixes of the original: the validation split is by *file* (no chunk of a
validation file is seen in training) and the best checkpoint is a *copy* of
the weights taken when validation improves.

Long runs resume: after every epoch the full training state is written
atomically to ``state_dir/last.pt``; a rerun with the same inputs and
parameters continues from it (a finished one only rewrites the outputs) and
ends with the same checkpoint, byte for byte on the CPU, as an uninterrupted
run: the state includes the augmentation generator and every other random
source (:mod:`soundflow.training_state`). A training loss that becomes NaN or
infinite stops the run with :class:`~soundflow.training_state.TrainingDiverged`
before anything is written from the broken weights.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, get_worker_info
from tqdm import tqdm

import models
from soundflow.config import AedDataParams, AedModelParams, AedTrainParams
from soundflow import training_state
from soundflow.devices import autocast, pick_device
from soundflow.io import atomic_path, write_json
from tasks.aed.features import ChunkIndex, fingerprint, open_chunks, read_index
from tasks.features.store import FeatureStore


class ChunkDataset(Dataset):
    """Spectrogram chunks ``rows`` (rows among all chunks) of a chunk store, read lazily (handles per worker)."""

    def __init__(self, store_dir: Path, rows: np.ndarray, labels: np.ndarray, roll_prob: float = 0.0,
                 roll_max_fraction: float = 0.0, seed: int = 0) -> None:
        self.store_dir, self.rows, self.labels = Path(store_dir), np.asarray(rows), np.asarray(labels)
        self.roll_prob, self.roll_max_fraction = roll_prob, roll_max_fraction
        self.rng = np.random.default_rng(seed)
        self._store: FeatureStore | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self._store is None:
            self._store = open_chunks(self.store_dir)
        x = torch.from_numpy(self._store.item(int(self.rows[i])))
        if self.roll_prob and self.rng.random() < self.roll_prob:
            limit = int(self.roll_max_fraction * x.shape[0])
            if limit:
                x = torch.roll(x, int(self.rng.integers(-limit, limit + 1)), dims=0)
        return x.unsqueeze(0), int(self.labels[i])


def seed_worker_augmentation(worker_id: int) -> None:
    """Give a loader worker its own augmentation generator, seeded from its torch seed (worker ``init_fn``).

    A worker holds a copy of the dataset: without this every worker would repeat the same rolls. The
    worker seed comes from the loader's generator, which the resumable state restores, so a resumed
    run's workers draw what the uninterrupted run's did.
    """
    info = get_worker_info()
    info.dataset.rng = np.random.default_rng(info.seed)


def split_files(index: ChunkIndex, data: AedDataParams, seed: int) -> dict[str, np.ndarray]:
    """File ids of train / val / test: test = ``test_folds``; val = a per-class share of the other files."""
    test = np.isin(index.file_fold, data.test_folds)
    if not test.any():
        raise ValueError(f"no file in test folds {data.test_folds}; folds present: {sorted(set(index.file_fold))}")
    rng = np.random.default_rng(seed)
    val_ids: list[int] = []
    for label in np.unique(index.file_label[~test]):
        ids = np.flatnonzero(~test & (index.file_label == label))
        n_val = int(round(data.val_fraction * len(ids)))
        if len(ids) > 1:
            val_ids += list(rng.choice(ids, size=max(1, min(n_val, len(ids) - 1)), replace=False))
    val = np.zeros_like(test)
    val[val_ids] = True
    return {"train": np.flatnonzero(~test & ~val), "val": np.flatnonzero(val), "test": np.flatnonzero(test)}


def chunk_rows(index: ChunkIndex, file_ids: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isin(index.chunk_file, file_ids))


def build_model(n_classes: int, input_shape: tuple[int, int], p: AedModelParams) -> torch.nn.Module:
    return models.get(p.name)(n_classes=n_classes, input_shape=input_shape, width=p.width, dense=p.dense,
                              dropout=p.dropout)


@torch.no_grad()
def predict_rows(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, float]:
    """Softmax probabilities of every chunk of ``loader`` and the mean cross-entropy."""
    model.eval()
    probs, loss_sum, n = [], 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device)
        with autocast(device):
            logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        n += len(y)
        probs.append(torch.softmax(logits, 1).cpu().numpy())
    return np.concatenate(probs), loss_sum / max(n, 1)


def pool_by_file(chunk_probs: np.ndarray, chunk_file: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(file ids, mean of each file's chunk probabilities): the per-file prediction."""
    files, inv = np.unique(chunk_file, return_inverse=True)
    pooled = np.zeros((len(files), chunk_probs.shape[1]))
    np.add.at(pooled, inv, chunk_probs)
    return files, pooled / np.bincount(inv)[:, None]


def file_level_accuracy(chunk_probs: np.ndarray, chunk_file: np.ndarray, file_label: np.ndarray) -> float:
    files, pooled = pool_by_file(chunk_probs, chunk_file)
    return float(np.mean(pooled.argmax(1) == file_label[files]))


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    history_csv: Path
    summary_json: Path


def _fingerprint(store_dir: Path, *parts: object) -> str:
    return hashlib.sha256(json.dumps([fingerprint(store_dir), *map(str, parts)]).encode()).hexdigest()


def _train_epoch(model: torch.nn.Module, train_dl: DataLoader, opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LRScheduler,
                 device: torch.device, epoch: int, steps_per_epoch: int, p: AedTrainParams,
                 progress: bool) -> tuple[float, int, int]:
    """One pass over ``train_dl`` (at most ``steps_per_epoch`` batches): (loss sum, correct, seen).

    Raises TrainingDiverged at the first non-finite loss, before the epoch's state can be saved.
    """
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    bar = tqdm(train_dl, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{p.epochs}", disable=not progress, leave=False)
    for step, (x, y) in enumerate(bar):
        if step >= steps_per_epoch:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = loss.item()
        training_state.check_loss(loss_value, model="aed_train (AED CNN)", epoch=epoch + 1, step=step + 1,
                                  lr_hint=f"aed.train.lr_start = {p.lr_start:g}")
        loss_sum += loss_value * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
    return loss_sum, correct, seen


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
        raise ValueError(f"{chunks}: too few files for a train/validation split ({ {k: len(v) for k, v in split.items()} })")
    rows = {k: chunk_rows(index, v) for k, v in split.items() if k != "test"}
    train_ds = ChunkDataset(chunks, rows["train"], index.chunk_label[rows["train"]], p.roll_prob,
                            p.roll_max_fraction, p.seed)
    val_ds = ChunkDataset(chunks, rows["val"], index.chunk_label[rows["val"]])
    gen = torch.Generator().manual_seed(p.seed)
    loader_kw = dict(batch_size=p.batch_size, num_workers=p.num_workers, pin_memory=device.type == "cuda")
    # no persistent workers, so that a resumed run repeats an uninterrupted one: each epoch's training
    # workers get seeds drawn from ``gen`` instead of carrying augmentation state across epochs that no
    # saved state can capture, and each epoch's validation iterator draws its seed from the global
    # torch generator, as it does without workers
    train_dl = DataLoader(train_ds, shuffle=True, drop_last=len(train_ds) > p.batch_size, generator=gen,
                          worker_init_fn=seed_worker_augmentation if p.num_workers else None, **loader_kw)
    val_dl = DataLoader(val_ds, shuffle=False, **loader_kw)

    model = build_model(len(index.classes), index.input_shape, model_p).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=p.lr_start, betas=(p.beta1, 0.999))
    steps_per_epoch = len(train_dl) if not p.max_batches_per_epoch else min(len(train_dl), p.max_batches_per_epoch)
    total = max(1, p.epochs * steps_per_epoch - 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: (p.lr_start + (p.lr_end - p.lr_start) * min(step, total) / total) / p.lr_start)

    state_dir.mkdir(parents=True, exist_ok=True)
    last = state_dir / "last.pt"
    training_state.remove_leftovers(last, checkpoint, history_csv, summary_json)
    fingerprint = _fingerprint(chunks, data, model_p, p)
    history: list[dict[str, float]] = []
    best = {"val_accuracy": -1.0, "val_loss": float("inf"), "epoch": -1, "state": None}
    start_epoch = 0
    saved = training_state.restore(last, fingerprint=fingerprint, model=model, optimizer=opt, scheduler=sched,
                                   loader_rng=gen, total_epochs=p.epochs)
    if saved:
        history, best, start_epoch = saved["history"], saved["best"], saved["epoch"] + 1
        # the augmentation generator continues where the interrupted run left it
        training_state.set_generator_states(train_ds, saved["data_state"].get("train", {}))

    for epoch in range(start_epoch, p.epochs):
        t0 = time.perf_counter()
        loss_sum, correct, seen = _train_epoch(model, train_dl, opt, sched, device, epoch, steps_per_epoch, p,
                                               progress)
        val_probs, val_loss = predict_rows(model, val_dl, device)
        val_acc = file_level_accuracy(val_probs, index.chunk_file[rows["val"]], index.file_label)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1),
               "val_loss": val_loss, "val_accuracy": val_acc, "lr": sched.get_last_lr()[0],
               "seconds": time.perf_counter() - t0, "chunks_per_second": seen / (time.perf_counter() - t0)}
        history.append(rec)
        if (val_acc, -val_loss) > (best["val_accuracy"], -best["val_loss"]):
            best = {"val_accuracy": val_acc, "val_loss": val_loss, "epoch": epoch + 1,
                    "state": training_state.weights_copy(model)}
        print(f"epoch {epoch + 1}/{p.epochs}: train loss {rec['train_loss']:.4f} acc {rec['train_accuracy']:.3f} | "
              f"val loss {val_loss:.4f} file acc {val_acc:.3f} | {rec['chunks_per_second']:.0f} chunks/s")
        training_state.save(last, fingerprint=fingerprint, epoch=epoch, model=model, optimizer=opt, scheduler=sched,
                            loader_rng=gen, history=history, best=best,
                            data_state={"train": training_state.generator_states(train_ds)})

    with atomic_path(checkpoint) as tmp:
        torch.save({
            "model_name": model_p.name,
            "model_kwargs": {"n_classes": len(index.classes), "input_shape": list(index.input_shape),
                             "width": model_p.width, "dense": model_p.dense, "dropout": model_p.dropout},
            "state_dict": best["state"], "classes": index.classes, "feature_params": index.params,
            "best_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
        }, tmp)
    with atomic_path(history_csv) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    write_json(summary_json, {
        "best_epoch": best["epoch"], "best_val_accuracy": best["val_accuracy"], "best_val_loss": best["val_loss"],
        "final_train_loss": history[-1]["train_loss"], "final_train_accuracy": history[-1]["train_accuracy"],
        "n_train_files": int(len(split["train"])), "n_val_files": int(len(split["val"])),
        "n_train_chunks": int(len(rows["train"])), "device": device.type,
        "train_chunks_per_second": float(np.mean([h["chunks_per_second"] for h in history])),
    })
    return TrainResult(Path(checkpoint), Path(history_csv), Path(summary_json))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Model (eval mode, on ``device``) and metadata of a checkpoint written by :func:`train`."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no trained checkpoint; run the aed_train stage first") from None
    kwargs = dict(ckpt["model_kwargs"], input_shape=tuple(ckpt["model_kwargs"]["input_shape"]))
    model = models.get(ckpt["model_name"])(**kwargs)
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt
