"""The two training stages of the localisation network, both through :func:`soundflow.training.fit`.

Stage 1 (category level): audio and visual class BCEs plus the audiovisual correspondence loss over
all N x N pairs of the batch. Stage 2 (sound-object level) starts from stage 1's checkpoint (a DAG
edge) and minimises the class-aware distance loss, a (class, pair) counted only when both class
probabilities pass ``stage2.class_gate``. SGD with momentum and weight decay, constant learning rate;
the kept epoch is the one of the lowest validation loss (docs/methods.md#sound-localisation).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

import models
from models.av_localisation import load_imagenet_weights
from soundflow import distributed
from soundflow.checkpoints import REMEDY, load_checkpoint
from soundflow.devices import pick_device
from soundflow.plots import training_curves
from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit
from tasks.localisation.data import PairDataset, open_split
from tasks.localisation.losses import distance_loss, stage1_loss
from tasks.localisation.params import LocalisationParams, LocStageParams

BEST = BestEpoch("val_loss", "min")


def build_model(p: LocalisationParams) -> torch.nn.Module:
    m = p.model
    model = models.get(m.name)(
        n_classes=len(p.scenes.categories), embed_dim=m.embed_dim, proj_hidden=m.proj_hidden, avc_hidden=m.avc_hidden
    )
    if m.imagenet_weights:
        load_imagenet_weights(model.visual, m.imagenet_weights)
    return model


def stage_loss(stage: int, p: LocalisationParams):
    """The stage's loss of one batch: ``loss(model, batch) -> (loss, parts)``."""

    def loss(model, batch):
        frames, audio, a_lab, v_lab = batch
        out = model(frames, audio)
        if stage == 1:
            parts = stage1_loss(model, out, a_lab, v_lab)
            return parts["loss"], parts
        a_emb, v_emb = model.class_embeddings(out)
        a_prob, v_prob = torch.sigmoid(out["a_logits"].float()), torch.sigmoid(out["v_logits"].float())
        d = distance_loss(a_emb, v_emb, a_prob, v_prob, p.stage2.class_gate, p.stage2.margin)
        if not p.stage2.stage1_losses:
            return d, {"loss": d, "distance": d}
        # the authors' stage 2 keeps stage 1's losses: the class heads that gate the distance loss and pick
        # the map's classes keep learning while the trunks move
        parts = stage1_loss(model, out, a_lab, v_lab)
        return parts["loss"] + d, {**parts, "loss": parts["loss"] + d, "distance": d}

    return loss


def _step(loss_fn):
    def train_step(model, batch) -> StepOutput:
        loss, _ = loss_fn(model, batch)
        return StepOutput(loss, len(batch[0]))

    return train_step


def _validation(loader: DataLoader, loss_fn, device: torch.device):
    def validate(model) -> dict[str, float]:
        total, n = 0.0, 0
        for batch in loader:
            batch = [b.to(device) for b in batch]
            loss, _ = loss_fn(model, batch)
            total, n = total + loss.item() * len(batch[0]), n + len(batch[0])
        return {"val_loss": total / max(n, 1)}

    return validate


def _fingerprint(hdf5_dir: Path, *parts: object) -> str:
    manifests = [(Path(hdf5_dir) / s / "manifest.json").read_text() for s in ("train", "val")]
    return hashlib.sha256(json.dumps([manifests, *map(str, parts)]).encode()).hexdigest()


def train_stage(
    stage: int, hdf5_dir: Path, files: FitFiles, curves_png: Path, p: LocalisationParams, init: Path | None = None
) -> FitResult:
    """Train stage ``stage`` (1 or 2; stage 2 from the weights of the checkpoint ``init``); write checkpoint,
    history, summary and the loss curves."""
    sp: LocStageParams = p.stage1 if stage == 1 else p.stage2
    torch.manual_seed(sp.seed)
    np.random.seed(sp.seed)
    device = pick_device(sp.device)
    k = len(p.scenes.categories)
    train_ds = PairDataset(open_split(hdf5_dir, "train", p.data, k), sp.flip_prob, sp.seed)
    val_ds = PairDataset(open_split(hdf5_dir, "val", p.data, k))
    model = build_model(p)
    if init is not None:
        model.load_state_dict(load_checkpoint(init, remedy=REMEDY.format(stage="loc_stage1"))["state_dict"])
    if stage == 2 and not p.stage2.train_trunks:
        model.fix_trunks()
    gen = torch.Generator().manual_seed(sp.seed)
    kw = dict(batch_size=sp.batch_size, num_workers=sp.num_workers)
    train_dl = DataLoader(train_ds, shuffle=True, drop_last=len(train_ds) > sp.batch_size, generator=gen, **kw)
    loss_fn = stage_loss(stage, p)
    result = fit(
        model,
        train_dl,
        train_step=_step(loss_fn),
        validate=_validation(DataLoader(val_ds, shuffle=False, **kw), loss_fn, device),
        make_optimizer=lambda params: torch.optim.SGD(
            params, lr=sp.lr, momentum=sp.momentum, weight_decay=sp.weight_decay
        ),
        make_scheduler=lambda opt, steps: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0),
        options=FitOptions(
            epochs=sp.epochs,
            best=BEST,
            patience=sp.patience,
            name=f"loc_stage{stage} (AV localisation)",
            items="pairs",
            lr_hint=f"localisation.stage{stage}.lr = {sp.lr:g}",
        ),
        files=files,
        fingerprint=_fingerprint(hdf5_dir, stage, p.scenes.categories, p.data, p.model, sp, init and _digest(init)),
        make_checkpoint=lambda r: {
            "model_name": p.model.name,
            "model_kwargs": {
                "n_classes": k,
                "embed_dim": p.model.embed_dim,
                "proj_hidden": p.model.proj_hidden,
                "avc_hidden": p.model.avc_hidden,
            },
            "state_dict": r.best_state,
            "categories": list(p.scenes.categories),
            "stage": stage,
            "best_epoch": r.best_epoch,
            "device": r.device.type,  # where it trained; the summary (a metrics file) holds numbers only
        },
        make_summary=lambda r: {
            "best_epoch": r.best_epoch,
            "epochs_run": len(r.history),
            "stopped_early": int(r.stopped_early),  # 0 or 1: a metrics file holds numbers only
            "best_val_loss": r.best_metrics["val_loss"],
            "final_train_loss": r.history[-1]["train_loss"],
            "n_train_pairs": len(train_ds),
            "n_val_pairs": len(val_ds),
            "train_pairs_per_second": float(np.mean([h["pairs_per_second"] for h in r.history])),
        },
        device=device,
    )
    if distributed.is_main():  # under torchrun, rank 0 writes
        training_curves(
            pd.read_csv(files.history_csv),
            curves_png,
            title=f"localisation stage {stage}",
            panels={"loss": ["train_loss", "val_loss"]},
        )
    return result


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model(checkpoint: Path) -> torch.nn.Module:
    ckpt = load_checkpoint(checkpoint, remedy=REMEDY.format(stage="loc_stage1 or loc_stage2"))
    return models.from_checkpoint(ckpt).eval()
