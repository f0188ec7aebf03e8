"""Training of ERFNet on Cityscapes-style segmentation data (Romera et al., 2018; docs/methods.md#erfnet).

Pixel-wise cross-entropy with per-class weights (w_c = 1 / ln(1.1 + p_c), computed
by the caller from the training set) and ``ignore_index`` 255, AdamW with the
learning rate decaying polynomially per step from ``lr`` to 0 (power 0.9), bf16
autocast and channels-last memory on CUDA. After every epoch the validation
mIoU is measured at the training resolution with one confusion matrix over the
split (:mod:`tasks.segmentation.iou`). Fixes of the original: ignored pixels
count neither in the loss nor in IoU, validation uses the validation split
passed in (the original validated on training images), and the best checkpoint
is a *copy* of the weights taken when validation mIoU improves.

The loop is :func:`soundflow.training.fit`: long runs resume from
``state_dir/last.pt`` when the caller's ``fingerprint`` of inputs and
parameters is the same (a finished one only rewrites the outputs, a different
one starts afresh) and end with the same checkpoint, byte for byte on the CPU,
as an uninterrupted run (the state includes the training dataset's
augmentation position and every other random source); a training loss that
becomes NaN or infinite stops the run with
:class:`~soundflow.training_state.TrainingDiverged` before anything is written
from the broken weights.

Datasets yield ``(image float32 3xHxW in [-1, 1], label int64 HxW)`` with 255
for ignored pixels; H and W must be multiples of 8.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

import models
from soundflow import distributed, training_state
from soundflow.devices import autocast, pick_device
from soundflow.plots import training_curves
from soundflow.training import Augmentation, BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit
from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.segmentation.inference import to_device
from tasks.segmentation.iou import IGNORE_INDEX, ConfusionMatrix
from tasks.segmentation.params import SegParams
from tasks.segmentation.splits import split_dataset

MODEL_NAME = "erfnet"


def class_names(ds: Dataset, num_classes: int) -> list[str]:
    """The dataset's ``classes`` if it has them, else Cityscapes' 19 trainId names."""
    names = getattr(ds, "classes", None)
    if names is None:
        from tasks.datasets.cityscapes import TRAIN_CLASSES

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
            raise ValueError(
                f"the saved augmentation counters of {type(ds).__name__} are for {len(draws)} items, "
                f"the dataset has {len(ds)}"
            )
        ds._draws[...] = draws
    training_state.set_generator_states(ds, state)


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


def _input_size(train_ds: Dataset) -> list[int]:
    """(height, width) of the training images; ERFNet's three downsamplings need multiples of 8."""
    # the dataset's ``size`` if it has one: reading an item would consume an augmentation draw
    size = [int(s) for s in getattr(train_ds, "size", None) or train_ds[0][0].shape[-2:]]
    if size[0] % 8 or size[1] % 8:
        raise ValueError(f"training images are {size[0]}x{size[1]}; ERFNet needs sides that are multiples of 8")
    return size


def _loaders(
    train_ds: Dataset, val_ds: Dataset, batch_size: int, num_workers: int, seed: int, device: torch.device
) -> tuple[DataLoader, DataLoader]:
    """The shuffled training loader (seeded generator) and the validation loader."""
    gen = torch.Generator().manual_seed(seed)
    loader_kw = dict(batch_size=batch_size, num_workers=num_workers, pin_memory=device.type == "cuda")
    # no persistent workers, so that a resumed run repeats an uninterrupted one: each epoch's training
    # workers get seeds drawn from ``gen`` (the datasets derive their augmentation from them) instead of
    # carrying state across epochs that no saved state can capture, and each epoch's validation
    # iterator draws its seed from the global torch generator, as it does without workers
    train_dl = DataLoader(train_ds, shuffle=True, drop_last=len(train_ds) > batch_size, generator=gen, **loader_kw)
    return train_dl, DataLoader(val_ds, shuffle=False, **loader_kw)


def _weighted_loss(weight_t: torch.Tensor):
    """The training step: class-weighted cross-entropy over the labelled pixels (float32 logits)."""

    def step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        x, y = batch
        logits = model(x)
        return StepOutput(F.cross_entropy(logits.float(), y, weight=weight_t, ignore_index=IGNORE_INDEX), len(y))

    return step


def _validation(val_dl: DataLoader, device: torch.device, num_classes: int):
    def metrics(model: torch.nn.Module) -> dict[str, float]:
        val_miou, val_acc = validate(model, val_dl, device, num_classes)
        return {"val_miou": val_miou, "val_pixel_accuracy": val_acc}

    return metrics


def _best_miou(r: FitResult) -> float:
    # a NaN mIoU (no labelled pixel) ranks below every number; the outputs write it as -1
    miou = r.best_metrics["val_miou"]
    return miou if np.isfinite(miou) else -1.0


def _outputs(
    model_kwargs: dict,
    classes: list[str],
    input_size: list[int],
    weights: np.ndarray,
    epochs: int,
    train_ds: Dataset,
    val_ds: Dataset,
):
    """(checkpoint contents, summary) builders; the checkpoint is what evaluation and prediction load."""

    def checkpoint(r: FitResult) -> dict:
        return {
            "model_name": MODEL_NAME,
            "model_kwargs": model_kwargs,
            "state_dict": r.best_state,
            "classes": classes,
            "input_size": input_size,
            "best_epoch": r.best_epoch,
            "val_miou": _best_miou(r),
            "class_weights": weights.tolist(),
            "device": r.device.type,  # where it trained; the summary (a metrics file) holds numbers only
        }

    def summary(r: FitResult) -> dict:
        h = r.history
        return {
            "best_epoch": r.best_epoch,
            "best_val_miou": _best_miou(r),
            "best_val_pixel_accuracy": r.best_metrics["val_pixel_accuracy"],
            "epochs": epochs,
            "final_train_loss": h[-1]["train_loss"],
            "final_val_miou": h[-1]["val_miou"],
            "n_train_images": len(train_ds),
            "n_val_images": len(val_ds),
            "train_images_per_second": float(np.mean([e["images_per_second"] for e in h])),
        }

    return checkpoint, summary


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
    classes, input_size = class_names(train_ds, len(weights)), _input_size(train_ds)
    train_dl, val_dl = _loaders(train_ds, val_ds, batch_size, num_workers, seed, dev)
    model_kwargs = {"num_classes": len(weights)}
    model = models.get(MODEL_NAME)(**model_kwargs)  # its initial weights: after the seeding
    ckpt_contents, summary = _outputs(model_kwargs, classes, input_size, weights, epochs, train_ds, val_ds)
    options = FitOptions(
        epochs=epochs,
        best=BestEpoch("val_miou", "max"),
        name=f"seg_train ({MODEL_NAME})",
        lr_hint=f"seg.train.lr = {lr:g}",
        items="images",
        channels_last=True,
        progress=progress,
    )
    fit(
        model,
        train_dl,
        train_step=_weighted_loss(torch.from_numpy(weights).to(dev)),
        validate=_validation(val_dl, dev, len(weights)),
        make_optimizer=lambda params: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay),
        make_scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(total, poly_power)),
        options=options,
        files=FitFiles(state_dir, checkpoint, history_csv, summary_json),
        fingerprint=fingerprint,
        make_checkpoint=ckpt_contents,
        make_summary=summary,
        device=dev,
        augmentation=Augmentation(lambda: augment_state(train_ds), lambda s: set_augment_state(train_ds, s)),
    )
    return Path(checkpoint)


def resume_fingerprint(weights_doc: dict[str, Any], seg: SegParams, data_identity: object) -> str:
    """What a resumed run must share with the one that saved the state: class weights, parameters and data.

    ``data_identity`` stands for the training images' content (the generator's parameters, for generated
    data), which neither the weights nor the parameters name.
    """
    # the sections the training stage declares: an edit of seg.evaluate or seg.predict keeps the state
    parts = [weights_doc, seg.data.model_dump(mode="json"), seg.train.model_dump(mode="json"), data_identity]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def train_from_weights(
    weights_json: Path,
    data_root: Path,
    seg: SegParams,
    files: FitFiles,
    curves_png: Path,
    *,
    data_identity: object,
) -> Path:
    """:func:`train` on the train and val splits of ``data_root`` with the class weights of ``weights_json``.

    ``weights_json`` is what :func:`tasks.segmentation.weights.class_weights_report` writes. Afterwards the
    loss and validation curves of the history are drawn into ``curves_png``. Returns the checkpoint.
    """
    weights_doc = json.loads(Path(weights_json).read_text())
    # by class name, in trainId order (the loss indexes weights by trainId), whatever the file's key order
    weights = np.asarray([weights_doc["weight"][c] for c in TRAIN_CLASSES], dtype=np.float64)
    fingerprint = resume_fingerprint(weights_doc, seg, data_identity)
    t = seg.train
    ckpt = train(
        split_dataset(seg, data_root, "train", augment=True),
        split_dataset(seg, data_root, "val"),
        weights,
        files.checkpoint,
        files.history_csv,
        files.summary_json,
        epochs=t.epochs,
        batch_size=t.batch_size,
        lr=t.lr,
        weight_decay=t.weight_decay,
        poly_power=t.poly_power,
        num_workers=t.num_workers,
        device=t.device,
        seed=t.seed,
        state_dir=files.state_dir,
        fingerprint=fingerprint,
    )
    panels = {"cross-entropy": ["train_loss"], "mIoU / pixel accuracy (val)": ["val_miou", "val_pixel_accuracy"]}
    if distributed.is_main():  # under torchrun, rank 0 writes
        training_curves(pd.read_csv(files.history_csv), curves_png, title="ERFNet", panels=panels)
    return ckpt
