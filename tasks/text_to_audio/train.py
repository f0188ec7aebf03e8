"""Training of every configuration (classifier, training set, multiplier, test fold) through the shared loop.

Ronchini et al. (DCASE 2024): Adam, learning rate 1e-3, weight decay 1e-3, batch 128, up to 100 epochs,
early stopping after 15 epochs without a lower validation loss; the kept weights are those of the epoch of
lowest validation loss (:class:`soundflow.training.BestEpoch`). Each configuration is one
:func:`soundflow.training.fit` call with its own resumable state, so a killed stage resumes inside the
configuration it was training and skips the finished ones (a finished fit only rewrites its outputs).

``experiment.runner`` says where the configurations run: one after another in this process (``local``),
or one Prefect task each on Prefect's Dask task runner (``dask``, :mod:`tasks.text_to_audio.dask_configs`,
imported only then). Both call :func:`train_configuration`, so their results are the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

import models
from soundflow import distributed
from soundflow.devices import pick_device
from soundflow.io import atomic_path
from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit
from tasks.text_to_audio.features import Clips, has_store, load_clips, store_shards
from tasks.text_to_audio.folds import (
    Rotation,
    generated_index,
    generated_mask,
    rotation,
    training_rows,
    validation_rows,
)
from tasks.text_to_audio.params import ExperimentParams, T2aFeatureParams

BEST = BestEpoch("val_loss", "min", tie_break=("val_accuracy", "max"))


@dataclass(frozen=True)
class Config:
    classifier: str
    data_type: str
    multiplier: float  # generated clips per real clip; 0 for the real-only set
    test_fold: int

    @property
    def key(self) -> str:
        return f"{self.classifier}-{self.data_type}-x{self.multiplier:g}-fold{self.test_fold}"


def configurations(e: ExperimentParams, multipliers: list[float]) -> list[Config]:
    """Every (classifier, data type, multiplier, test fold); the real-only set has the one multiplier 0."""
    return [
        Config(c, kind, m, fold)
        for c in e.classifiers
        for kind in e.data_types
        for m in ([0.0] if kind == "real" else sorted(multipliers))
        for fold in e.test_folds
    ]


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_real: int
    n_generated: int


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x.astype(np.float32)).unsqueeze(1)  # (clips, 1, frames, bands)


def make_split(cfg: Config, rot: Rotation, real: Clips, gen: Clips, e: ExperimentParams) -> Split:
    """The training clips of ``cfg`` and the real validation clips (the same for every training set of a fold)."""
    used = generated_mask(gen.label, generated_index(gen.name), real.label, max(cfg.multiplier, 1e-9))
    rows = training_rows(cfg.data_type, rot, real.fold, gen.fold, used, e.replace_folds)
    val = validation_rows(rot, real.fold, real.label, real.source, e.val_fraction, e.seed)
    train_real = np.setdiff1d(rows.real, val)  # by source: the validation recordings leave the training folds
    x = np.concatenate([real.x[train_real], gen.x[rows.generated]])
    y = np.concatenate([real.label[train_real], gen.label[rows.generated]])
    return Split(
        _tensor(x),
        torch.from_numpy(y),
        _tensor(real.x[val]),
        torch.from_numpy(real.label[val]),
        len(train_real),
        len(rows.generated),
    )


def _train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    x, y = batch
    logits = model(x)
    return StepOutput(F.cross_entropy(logits.float(), y), len(y), {"accuracy": (logits.argmax(1) == y).sum()})


def predict(model: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int) -> torch.Tensor:
    """Logits of every clip of ``x``, in batches, in evaluation mode."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)])


def _validation(x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int):
    def validate(model: torch.nn.Module) -> dict[str, float]:
        logits = predict(model, x, device, batch)
        return {
            "val_loss": F.cross_entropy(logits, y).item(),
            "val_accuracy": (logits.argmax(1) == y).float().mean().item(),
        }

    return validate


def _fingerprint(stores: Path, cfg: Config, e: ExperimentParams, split: Split) -> str:
    # where a configuration runs is no input of it: a run killed under one runner resumes under the other
    settings = e.model_dump(exclude={"runner"})
    # the validation clips, which a by-source split draws from the recordings' ids, are an input too
    val = hashlib.sha256(split.x_val.numpy().tobytes() + split.y_val.numpy().tobytes()).hexdigest()
    return hashlib.sha256(json.dumps([store_shards(stores), asdict(cfg), settings, val]).encode()).hexdigest()


def train_one(
    cfg: Config, split: Split, n_classes: int, e: ExperimentParams, files: FitFiles, fingerprint: str
) -> FitResult:
    torch.manual_seed(e.seed)
    np.random.seed(e.seed)
    device = pick_device(e.device)
    shape = tuple(split.x_train.shape[2:])
    kwargs = {"n_classes": n_classes, "input_shape": list(shape), "dropout": e.dropout}
    if cfg.classifier == "crnn":
        kwargs["channels"] = e.crnn_channels
    model = models.get(cfg.classifier)(**{**kwargs, "input_shape": shape})
    loader = DataLoader(
        TensorDataset(split.x_train, split.y_train),
        batch_size=e.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(e.seed),
    )
    return fit(
        model,
        loader,
        train_step=_train_step,
        validate=_validation(split.x_val, split.y_val, device, e.batch_size),
        make_optimizer=lambda params: torch.optim.Adam(params, lr=e.lr, weight_decay=e.weight_decay),
        make_scheduler=lambda opt, steps: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0),
        options=FitOptions(
            epochs=e.epochs,
            best=BEST,
            name=f"t2a_train ({cfg.key})",
            lr_hint=f"text_to_audio.experiment.lr = {e.lr:g}",
            items="clips",
            patience=e.patience,
            progress=False,
        ),
        files=files,
        fingerprint=fingerprint,
        make_checkpoint=lambda r: {
            "model_name": cfg.classifier,
            "model_kwargs": kwargs,
            "state_dict": r.best_state,
            "config": asdict(cfg),
            "best_epoch": r.best_epoch,
        },
        make_summary=lambda r: {
            "best_epoch": r.best_epoch,
            **{f"best_{k}": v for k, v in r.best_metrics.items()},
            "epochs_run": len(r.history),
            "stopped_early": r.stopped_early,
        },
        device=device,
    )


def _row(cfg: Config, rot: Rotation, split: Split, result: FitResult, seconds: float, checkpoint: Path) -> dict:
    n = split.n_real + split.n_generated
    return {
        "key": cfg.key,
        **asdict(cfg),
        "val_fold": "by_source" if rot.val is None else rot.val,
        "n_val": len(split.y_val),
        "train_folds": " ".join(map(str, rot.train)),
        "n_train_real": split.n_real,
        "n_train_generated": split.n_generated,
        "synthetic_percent": 100.0 * split.n_generated / max(1, n),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_metrics["val_loss"],
        "best_val_accuracy": result.best_metrics["val_accuracy"],
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "train_seconds": seconds,
        "checkpoint": checkpoint.name,
    }


@dataclass(frozen=True)
class Inputs:
    """What every configuration trains from: the real and the generated clips, the classes and folds."""

    real: Clips
    gen: Clips
    n_classes: int
    folds: list[int]


def load_inputs(stores: Path, fp: T2aFeatureParams) -> Inputs:
    """The real clips and the generated ones (none when ``t2a_features`` made no generated store)."""
    real = load_clips(Path(stores) / "real", fp)
    generated = Path(stores) / "generated"
    gen = load_clips(generated, fp) if has_store(generated) else real.none()
    n_classes = len(json.loads((Path(stores) / "classes.json").read_text()))
    return Inputs(real, gen, n_classes, sorted(set(real.fold.tolist())))


def check_generated(configs: list[Config], stores: Path) -> None:
    """Refuse configurations that train on generated clips when none were generated."""
    wanted = sorted({c.data_type for c in configs if c.data_type != "real"})
    if wanted and not has_store(Path(stores) / "generated"):
        raise ValueError(
            f"{Path(stores) / 'generated'}: no generated clips, but text_to_audio.experiment.data_types names "
            f"{', '.join(wanted)}; t2a_generate makes them when a training set uses them (rerun it and t2a_features)"
        )


def train_configuration(
    cfg: Config, inputs: Inputs, stores: Path, e: ExperimentParams, out_dir: Path, state_root: Path
) -> dict:
    """Train one configuration into ``out_dir/<key>.pt`` (resumable from ``state_root/<key>``); its table row."""
    rot = rotation(cfg.test_fold, inputs.folds, e.validation)
    split = make_split(cfg, rot, inputs.real, inputs.gen, e)
    files = FitFiles(
        Path(state_root) / cfg.key,
        Path(out_dir) / f"{cfg.key}.pt",
        Path(out_dir) / f"{cfg.key}.history.csv",
        Path(out_dir) / f"{cfg.key}.summary.json",
    )
    t0 = time.perf_counter()
    result = train_one(cfg, split, inputs.n_classes, e, files, _fingerprint(stores, cfg, e, split))
    return _row(cfg, rot, split, result, time.perf_counter() - t0, files.checkpoint)


def train_configurations(
    stores: Path,
    fp: T2aFeatureParams,
    e: ExperimentParams,
    multipliers: list[float],
    out_dir: Path,
    state_root: Path,
    runs_csv: Path,
) -> pd.DataFrame:
    """Train every configuration into ``out_dir/<key>.pt`` (history and summary beside); their table to ``runs_csv``."""
    configs = configurations(e, multipliers)
    check_generated(configs, stores)
    if e.runner == "dask":
        from tasks.text_to_audio.dask_configs import train_configurations_dask

        rows = train_configurations_dask(configs, stores, fp, e, out_dir, state_root)
    else:
        inputs = load_inputs(stores, fp)
        rows = [
            train_configuration(cfg, inputs, stores, e, out_dir, state_root)
            for cfg in tqdm(configs, desc="t2a_train", unit="run")
        ]
    table = pd.DataFrame(rows)
    if distributed.is_main():  # under torchrun, rank 0 writes
        with atomic_path(runs_csv) as tmp:
            table.to_csv(tmp, index=False)
    return table
