"""The frozen teacher of the spectral transcoder: an official checkpoint loaded from a local file, or a
reduced-width network trained by the pipeline on the training source's chunks (docs/methods.md#spectral-transcoder).

Official files: PANN CNN14 / ResNet38 (527 AudioSet classes, ``{"model": state_dict, "iteration"}``) and
YAMNet (521 classes: Google's TF weights ``yamnet_weights.npz``, or a PyTorch state dict), loaded strictly by
the architectures' own loaders; their class names come from AudioSet's ``class_labels_indices.csv`` or
YAMNet's ``yamnet_class_map.csv`` (``teacher.class_names``, a ``display_name`` column).
Trained: the teacher's classes are the event classes of the training source (the ten UrbanSound8K
classes of the procedural soundscapes), each chunk labelled by the events it holds; binary cross-entropy
on the logits, Adam, the epoch with the best validation macro-AUPRC kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import models
from models.checkpoint_format import read_class_names
from models.pann_cnn14 import load_pann
from models.yamnet import load_yamnet
from soundflow import distributed
from soundflow.checkpoints import REMEDY, load_checkpoint, save_checkpoint
from soundflow.devices import pick_device
from soundflow.io import write_text
from soundflow.metric_files import write_metrics
from soundflow.training import BestEpoch, FitFiles, FitResult, StepOutput
from tasks.transcoder.fitting import Schedule, batched, digest, fit_tensors
from tasks.transcoder.metrics import multilabel_scores
from tasks.transcoder.pairs import MEL_FOR_TEACHER, Pairs, load_pairs
from tasks.transcoder.params import TeacherParams, TranscoderParams
from tasks.transcoder.sources import chunk_labels, multi_hot

OFFICIAL = {"pann_cnn14": (527, 64), "pann_resnet38": (527, 64), "yamnet": (521, 1.0)}  # (classes, width)
BEST = BestEpoch("val_macro_auprc", "max", tie_break=("val_loss", "min"))
# the per-epoch columns its training writes and dvc.yaml plots: a loaded teacher's history has them, and no epoch
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_macro_auprc")


def audioset_names(csv: str | Path | None, n: int) -> list[str]:
    """Display names of AudioSet's classes from ``class_labels_indices.csv``; ``class_<i>`` without one."""
    return [f"class_{i}" for i in range(n)] if csv is None else read_class_names(csv, n)


def load_official(p: TeacherParams, root: Path) -> dict[str, Any]:
    """The teacher file's contents from the official checkpoint ``p.checkpoint`` (strict; CheckpointError)."""
    n_classes, width = OFFICIAL[p.name]
    model = models.get(p.name)(n_classes=n_classes, width=width)
    path = root / str(p.checkpoint)
    (load_yamnet if p.name == "yamnet" else load_pann)(model, path)
    names = audioset_names(root / p.class_names if p.class_names else None, n_classes)
    kwargs = {"n_classes": n_classes, "width": width}
    return {
        "model_name": p.name,
        "model_kwargs": kwargs,
        "state_dict": model.state_dict(),
        "classes": names,
        "vocabulary": "audioset",
    }


def chunk_targets(pairs: Pairs, classes: list[str], min_overlap: float) -> np.ndarray:
    t = pairs.table
    sets = [
        chunk_labels(t.at[c, "labels"], t.at[c, "events"], int(s), min_overlap)
        for c, s in zip(pairs.clip, pairs.second)
    ]
    return multi_hot(sets, classes)


def teacher_classes(pairs: Pairs) -> list[str]:
    found = sorted({label for labels in pairs.table["labels"] for label in str(labels).split(";") if label})
    if not found or not pairs.table["events"].astype(str).str.len().any():
        raise ValueError(
            "transcoder.teacher: no checkpoint given and the training source has no event labels to train a "
            "teacher on; set transcoder.teacher.checkpoint (e.g. ResNet38_mAP=0.434.pth)"
        )
    return found


def _step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    mel, y = batch
    return StepOutput(F.binary_cross_entropy_with_logits(model(mel).float(), y), len(y))


def train_teacher(
    pairs: Pairs, p: TeacherParams, min_overlap: float, files: FitFiles, seed: int, device: torch.device
) -> dict[str, Any]:
    """Train the reduced teacher on the train split of ``pairs``; returns the teacher file's contents."""
    classes = teacher_classes(pairs)
    tr, va = pairs.subset(pairs.split_mask("train")), pairs.subset(pairs.split_mask("val"))
    x_tr, y_tr = torch.from_numpy(tr.mel), torch.from_numpy(chunk_targets(tr, classes, min_overlap))
    x_va, y_va = torch.from_numpy(va.mel), chunk_targets(va, classes, min_overlap)
    torch.manual_seed(seed)
    kwargs = {"n_classes": len(classes), "width": p.width}
    model = models.get(p.name)(**kwargs)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        logits = batched(m, x_va, device)
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y_va)).item()
        return {
            "val_loss": loss,
            "val_macro_auprc": multilabel_scores(y_va, logits.numpy(), classes)["macro_auprc"] or 0.0,
        }

    result = fit_tensors(
        model,
        (x_tr, y_tr),
        train_step=_step,
        validate=validate,
        best=BEST,
        schedule=Schedule(p.epochs, p.batch_size, p.lr, seed),
        files=files,
        fingerprint=digest(x_tr, y_tr, x_va, p.model_dump(), classes, seed),
        name=f"transcoder teacher ({p.name}, width {p.width})",
        lr_hint=f"transcoder.teacher.lr = {p.lr:g}",
        make_checkpoint=lambda r: _contents(p.name, kwargs, r.best_state, classes, r),
        make_summary=lambda r: {
            "best_epoch": r.best_epoch,
            **r.best_metrics,
            "n_train_chunks": len(x_tr),
            "trained": 1,  # 1 trained here, 0 loaded: a metrics file holds numbers only
        },
        device=device,
    )
    return _contents(p.name, kwargs, result.best_state, classes, result)


def _contents(name: str, kwargs: dict, state: dict, classes: list[str], r: FitResult | None) -> dict[str, Any]:
    extra = {"best_epoch": r.best_epoch} if r is not None else {}
    return {
        "model_name": name,
        "model_kwargs": kwargs,
        "state_dict": state,
        "classes": classes,
        "vocabulary": "urbansound8k",
        **extra,
    }


def prepare_teacher(features_dir: Path, tp: TranscoderParams, files: FitFiles, root: Path) -> Path:
    """The teacher file at ``files.checkpoint``: the official checkpoint when given, else a teacher trained on
    the train split of the training source (``features_dir``)."""
    p = tp.teacher
    if p.checkpoint:
        if not distributed.is_main():  # under torchrun: nothing to train, rank 0 writes
            return files.checkpoint
        contents = load_official(p, root)
        save_checkpoint(files.checkpoint, contents)
        # the checkpoint's path is transcoder.teacher.checkpoint, in params.yaml and dvc.lock
        write_metrics(files.summary_json, {"trained": 0, "n_classes": len(contents["classes"])})
        write_text(files.history_csv, ",".join(HISTORY_COLUMNS) + "\n")
        return files.checkpoint
    pairs = load_pairs(features_dir, MEL_FOR_TEACHER[p.name], splits=("train", "val"))
    train_teacher(pairs, p, tp.data.min_event_overlap, files, tp.seed, pick_device(tp.device))
    return files.checkpoint


def load_teacher(path: Path, device: torch.device) -> tuple[torch.nn.Module, list[str], str]:
    """(frozen model in eval mode on ``device``, class names, vocabulary) from a teacher file."""
    ckpt = load_checkpoint(path, remedy=REMEDY.format(stage="transcoder_teacher"))
    model = models.from_checkpoint(ckpt)
    model.eval().requires_grad_(False)
    return model.to(device), list(ckpt["classes"]), ckpt["vocabulary"]
