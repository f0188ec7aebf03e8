"""Training of ERFNet on Cityscapes-style segmentation data (spec section 1).

Pixel-wise cross-entropy with per-class weights (w_c = 1 / ln(1.1 + p_c), computed
by the caller from the training set) and ``ignore_index`` 255, AdamW with the
learning rate decaying polynomially per step from ``lr`` to 0 (power 0.9), bf16
autocast and channels-last memory on CUDA. After every epoch the validation
mIoU is measured at the training resolution with one confusion matrix over the
split (:mod:`tasks.segmentation.iou`). Fixes of the original: ignored pixels
count neither in the loss nor in IoU, validation uses the validation split
passed in (the original validated on training images), and the best checkpoint
is a *copy* of the weights taken when validation mIoU improves.

Long runs resume: after every epoch the full training state is written
atomically to ``state_dir/last.pt`` with the caller's ``fingerprint`` of
inputs and parameters; a rerun with the same fingerprint continues from it
(a finished one only rewrites the outputs), a different one starts afresh.
A resumed run ends with the same checkpoint, byte for byte on the CPU, as an
uninterrupted one: the state includes the training dataset's augmentation
position and every other random source (:mod:`soundflow.training_state`).
A training loss that becomes NaN or infinite stops the run with
:class:`~soundflow.training_state.TrainingDiverged` before anything is written
from the broken weights.

Datasets yield ``(image float32 3xHxW in [-1, 1], label int64 HxW)`` with 255
for ignored pixels; H and W must be multiples of 8.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

import models
from soundflow import training_state
from soundflow.devices import autocast, pick_device
from soundflow.io import atomic_path, write_json
from tasks.segmentation.iou import IGNORE_INDEX, ConfusionMatrix

MODEL_NAME = "erfnet"


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move an image batch to ``device``, channels-last on CUDA (faster convolutions with bf16)."""
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    return x.to(device, non_blocking=True, memory_format=fmt)


def class_names(ds: Dataset, num_classes: int) -> list[str]:
    """The dataset's ``classes`` if it has them, else Cityscapes' 19 trainId names."""
    names = getattr(ds, "classes", None)
    if names is None:
        from tasks.segmentation.cityscapes import TRAIN_CLASSES

        names = TRAIN_CLASSES
    names = list(names)
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names but {num_classes} class weights")
    return names


def poly_lambda(total_steps: int, power: float):
    """LR multiplier (1 - step / total) ** power: 1 at the first step, 0 after the last."""
    total = max(1, total_steps)
    return lambda step: (1.0 - min(step, total) / total) ** power


def augment_state(ds: Dataset) -> dict[str, Any]:
    """What a training dataset carries from item to item for its augmentation, to save with the state."""
    state = training_state.generator_states(ds)
    # CityscapesSegmentation seeds item i's draws with how often it has served i (its ``_draws``
    # counters): a resumed run must continue those counts, not restart them at zero
    draws = getattr(ds, "_draws", None)
    if isinstance(draws, np.ndarray):
        state["_draws"] = draws.copy()
    return state


def set_augment_state(ds: Dataset, state: dict[str, Any]) -> None:
    """Put a training dataset back into the augmentation state :func:`augment_state` captured."""
    state = dict(state)
    draws = state.pop("_draws", None)
    if draws is not None:
        if getattr(ds, "_draws", None) is None or ds._draws.shape != draws.shape:
            raise ValueError(f"the saved augmentation counters of {type(ds).__name__} are for {len(draws)} items, "
                             f"the dataset has {len(ds)}")
        ds._draws[...] = draws
    training_state.set_generator_states(ds, state)


def _train_epoch(model: torch.nn.Module, train_dl: DataLoader, opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LRScheduler, weight_t: torch.Tensor, dev: torch.device,
                 epoch: int, epochs: int, lr: float, progress: bool) -> tuple[float, int]:
    """One pass over ``train_dl``: (loss sum, images seen). Raises TrainingDiverged at the first non-finite loss."""
    model.train()
    loss_sum, seen = 0.0, 0
    bar = tqdm(train_dl, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
    for step, (x, y) in enumerate(bar):
        x, y = to_device(x, dev), y.to(dev, non_blocking=True)
        with autocast(dev):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, weight=weight_t, ignore_index=IGNORE_INDEX)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = loss.item()
        training_state.check_loss(loss_value, model=f"seg_train ({MODEL_NAME})", epoch=epoch + 1, step=step + 1,
                                  lr_hint=f"seg.train.lr = {lr:g}")
        loss_sum += loss_value * len(y)
        seen += len(y)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
    return loss_sum, seen


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, device: torch.device, num_classes: int) -> tuple[float, float]:
    """(mIoU, pixel accuracy) of ``model`` over ``loader`` at the loader's resolution, one confusion matrix."""
    model.eval()
    cm = ConfusionMatrix(num_classes)
    for x, y in loader:
        with autocast(device):
            logits = model(to_device(x, device))
        cm.update(logits.argmax(1), y.to(device, non_blocking=True))
    return cm.mean_iou(), cm.pixel_accuracy()


def train(
    train_ds: Dataset,
    val_ds: Dataset,
    class_weights: np.ndarray,
    checkpoint: Path,
    history_csv: Path,
    summary_json: Path,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    poly_power: float,
    num_workers: int,
    device: str,
    seed: int,
    state_dir: Path,
    fingerprint: str,
    progress: bool = True,
) -> Path:
    """Train ERFNet on ``train_ds``; write the best-validation-mIoU checkpoint, the history CSV and a summary.

    ``class_weights`` has one weight per class (its length is the number of
    classes). Returns ``checkpoint``.
    """
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise ValueError(f"empty split: {len(train_ds)} training and {len(val_ds)} validation images")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    torch.manual_seed(seed)
    np.random.seed(seed)
    dev = pick_device(device)
    weights = np.asarray(class_weights, dtype=np.float32)
    num_classes = len(weights)
    classes = class_names(train_ds, num_classes)
    # the dataset's ``size`` if it has one: reading an item would consume an augmentation draw
    input_size = [int(s) for s in getattr(train_ds, "size", None) or train_ds[0][0].shape[-2:]]
    if input_size[0] % 8 or input_size[1] % 8:
        raise ValueError(f"training images are {input_size[0]}x{input_size[1]}; ERFNet needs sides that are multiples of 8")

    gen = torch.Generator().manual_seed(seed)
    loader_kw = dict(batch_size=batch_size, num_workers=num_workers, pin_memory=dev.type == "cuda")
    # no persistent workers, so that a resumed run repeats an uninterrupted one: each epoch's training
    # workers get seeds drawn from ``gen`` (the datasets derive their augmentation from them) instead of
    # carrying state across epochs that no saved state can capture, and each epoch's validation
    # iterator draws its seed from the global torch generator, as it does without workers
    train_dl = DataLoader(train_ds, shuffle=True, drop_last=len(train_ds) > batch_size, generator=gen, **loader_kw)
    val_dl = DataLoader(val_ds, shuffle=False, **loader_kw)

    model_kwargs = {"num_classes": num_classes}
    model = models.get(MODEL_NAME)(**model_kwargs).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    weight_t = torch.from_numpy(weights).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = len(train_dl)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(epochs * steps_per_epoch, poly_power))

    state_dir.mkdir(parents=True, exist_ok=True)
    last = state_dir / "last.pt"
    training_state.remove_leftovers(last, checkpoint, history_csv, summary_json)
    history: list[dict[str, float]] = []
    best: dict = {"val_miou": float("-inf"), "val_pixel_accuracy": float("nan"), "epoch": -1, "state": None}
    start_epoch = 0
    saved = training_state.restore(last, fingerprint=fingerprint, model=model, optimizer=opt, scheduler=sched,
                                   loader_rng=gen, total_epochs=epochs)
    if saved:
        history, best, start_epoch = saved["history"], saved["best"], saved["epoch"] + 1
        set_augment_state(train_ds, saved["data_state"].get("train", {}))

    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        loss_sum, seen = _train_epoch(model, train_dl, opt, sched, weight_t, dev, epoch, epochs, lr, progress)
        train_seconds = time.perf_counter() - t0
        val_miou, val_acc = validate(model, val_dl, dev, num_classes)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "val_miou": val_miou,
               "val_pixel_accuracy": val_acc, "lr": sched.get_last_lr()[0],
               "seconds": time.perf_counter() - t0, "images_per_second": seen / max(train_seconds, 1e-9)}
        history.append(rec)
        score = val_miou if np.isfinite(val_miou) else -1.0  # a NaN mIoU (no labelled pixel) never beats a number
        if score > best["val_miou"]:
            best = {"val_miou": score, "val_pixel_accuracy": val_acc, "epoch": epoch + 1,
                    "state": training_state.weights_copy(model)}
        print(f"epoch {epoch + 1}/{epochs}: train loss {rec['train_loss']:.4f} | val mIoU {val_miou:.4f} "
              f"pixel acc {val_acc:.4f} | {rec['images_per_second']:.1f} images/s")
        training_state.save(last, fingerprint=fingerprint, epoch=epoch, model=model, optimizer=opt, scheduler=sched,
                            loader_rng=gen, history=history, best=best, data_state={"train": augment_state(train_ds)})

    with atomic_path(checkpoint) as tmp:
        torch.save({
            "model_name": MODEL_NAME, "model_kwargs": model_kwargs, "state_dict": best["state"],
            "classes": classes, "input_size": input_size, "best_epoch": best["epoch"], "val_miou": best["val_miou"],
            "class_weights": weights.tolist(),
        }, tmp)
    with atomic_path(history_csv) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    write_json(summary_json, {
        "best_epoch": best["epoch"], "best_val_miou": best["val_miou"],
        "best_val_pixel_accuracy": best["val_pixel_accuracy"], "epochs": epochs,
        "final_train_loss": history[-1]["train_loss"], "final_val_miou": history[-1]["val_miou"],
        "n_train_images": len(train_ds), "n_val_images": len(val_ds), "input_size": input_size,
        "device": dev.type, "train_images_per_second": float(np.mean([h["images_per_second"] for h in history])),
    })
    return Path(checkpoint)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Model (eval mode: BN running statistics, no dropout; on ``device``) and metadata of a :func:`train` checkpoint."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no trained segmentation checkpoint; run the training stage first") from None
    model = models.get(ckpt["model_name"])(**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    device = torch.device(device)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model.eval(), ckpt


def predict_logits(model: torch.nn.Module, x: torch.Tensor, device: torch.device,
                   out_sizes: Sequence[tuple[int, int]] | None = None) -> list[torch.Tensor] | torch.Tensor:
    """Float32 logits of an image batch; with ``out_sizes``, one (C, h, w) tensor per image, bilinearly resized."""
    with torch.no_grad(), autocast(device):
        logits = model(to_device(x, device))
    logits = logits.float()
    if out_sizes is None:
        return logits
    return [F.interpolate(logits[j:j + 1], size=tuple(s), mode="bilinear", align_corners=False)[0]
            for j, s in enumerate(out_sizes)]
