"""CNN-mels and CNN-logits: the residual CNN on the PINV output, trained through the one training loop.

- ``mels``: mean squared error between the transcoded and the true log-mel.
- ``logits``: teacher-student (Hinton et al., 2015): binary cross-entropy between the frozen teacher's
  outputs on the transcoded Mel and its outputs (probabilities, the targets) on the true Mel of the same
  second. Gradients flow through the frozen teacher into the transcoder.

Both: Adam (paper: lr 1e-3, batch 64, 200 epochs), the epoch with the lowest validation loss kept; the
validation also measures the teacher top-1 agreement. The CNN's ``offset``/``scale`` buffers standardise
its input with the mean and standard deviation of the PINV output of the training chunks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import models
from soundflow.checkpoints import load_checkpoint
from soundflow.devices import pick_device
from soundflow.training import BestEpoch, FitFiles, StepOutput
from tasks.transcoder.fitting import Schedule, batched, digest, fit_tensors
from tasks.transcoder.metrics import teacher_top1_agreement
from tasks.transcoder.pairs import CHUNK_FRAMES, MEL_FOR_TEACHER, Pairs, load_pairs
from tasks.transcoder.params import TranscoderParams
from tasks.transcoder.pinv import PinvTranscoder
from tasks.transcoder.teacher import load_teacher

BEST = BestEpoch("val_loss", "min")
LOSSES = ("mels", "logits")


def transcoder_kwargs(p: TranscoderParams) -> dict[str, Any]:
    return {"channels": p.train.channels, "layers": p.train.layers, "kernel": list(p.train.kernel)}


def _split_tensors(
    pairs: Pairs, pinv: PinvTranscoder, split: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    part = pairs.subset(pairs.split_mask(split))
    return batched(pinv, torch.from_numpy(part.third_octave), device), torch.from_numpy(part.mel)


def _mels_step(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
    x, mel = batch
    return StepOutput(F.mse_loss(model(x).float(), mel), len(x))


def _logits_step(teacher: torch.nn.Module):  # noqa: ANN202
    def step(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x, target = batch
        return StepOutput(F.binary_cross_entropy_with_logits(teacher(model(x)).float(), target), len(x))

    return step


def train_transcoder(features_dir: Path, teacher_file: Path, loss: str, p: TranscoderParams, files: FitFiles) -> Path:
    """Train CNN-``loss`` on the train split of ``features_dir`` (the training source); write its checkpoint."""
    if loss not in LOSSES:
        raise ValueError(f"unknown transcoder loss {loss!r}; known: {', '.join(LOSSES)}")
    device, mel = pick_device(p.device), MEL_FOR_TEACHER[p.teacher.name]
    pairs = load_pairs(features_dir, mel, splits=("train", "val"))
    pinv = PinvTranscoder(mel, CHUNK_FRAMES[mel]).to(device)
    x_tr, mel_tr = _split_tensors(pairs, pinv, "train", device)
    x_va, mel_va = _split_tensors(pairs, pinv, "val", device)
    teacher, _, _ = load_teacher(teacher_file, device)
    ref_tr = torch.sigmoid(batched(teacher, mel_tr, device))
    ref_va = batched(teacher, mel_va, device)
    torch.manual_seed(p.seed)
    model = models.get("transcoder_cnn")(**transcoder_kwargs(p))
    model.offset.fill_(float(x_tr.mean()))
    model.scale.fill_(float(x_tr.std()))
    target_tr = mel_tr if loss == "mels" else ref_tr

    def validate(m: torch.nn.Module) -> dict[str, float]:
        out = batched(m, x_va, device)
        logits = batched(teacher, out, device)
        val = (
            F.mse_loss(out, mel_va)
            if loss == "mels"
            else F.binary_cross_entropy_with_logits(logits, torch.sigmoid(ref_va))
        )
        agree = teacher_top1_agreement(ref_va.numpy(), logits.numpy())["teacher_top1_agreement"]
        return {"val_loss": val.item(), "val_teacher_top1_agreement": agree}

    fit_tensors(
        model,
        (x_tr, target_tr),
        train_step=_mels_step if loss == "mels" else _logits_step(teacher),
        validate=validate,
        best=BEST,
        schedule=Schedule(p.train.epochs, p.train.batch_size, p.train.lr, p.seed),
        files=files,
        fingerprint=digest(x_tr, target_tr, x_va, mel_va, p.train.model_dump(), loss, p.seed),
        name=f"transcoder CNN-{loss}",
        lr_hint=f"transcoder.train.lr = {p.train.lr:g}",
        make_checkpoint=lambda r: {
            "model_name": "transcoder_cnn",
            "model_kwargs": transcoder_kwargs(p),
            "state_dict": r.best_state,
            "loss": loss,
            "mel": mel,
            "best_epoch": r.best_epoch,
        },
        make_summary=lambda r: {"best_epoch": r.best_epoch, **r.best_metrics, "n_train_chunks": len(x_tr)},
        device=device,
    )
    return files.checkpoint


REMEDY = "rerun the stage that made it (dvc repro transcoder_cnn_mels or transcoder_cnn_logits)"


def load_transcoder(path: Path, device: torch.device) -> torch.nn.Module:
    return transcoder_from(load_checkpoint(path, remedy=REMEDY), device)


def transcoder_from(ckpt: dict, device: torch.device) -> torch.nn.Module:
    """The frozen CNN transcoder of a loaded checkpoint, on ``device``."""
    return models.from_checkpoint(ckpt).eval().requires_grad_(False).to(device)
