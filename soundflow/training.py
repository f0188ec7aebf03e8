"""One training loop for every model: :func:`fit`.

A task supplies what is particular to its model: the model, a training loader, a step that computes
one batch's loss, a validation that measures an epoch, optimiser and schedule factories, and what its
checkpoint and summary hold. :func:`fit` does the rest the same way for every model:

- resume: after every epoch the full state is written atomically to ``state_dir/last.pt`` (weights,
  optimiser, schedule, every random generator including the training dataset's augmentation state and
  the loader's generator, the history, the best epoch so far); a rerun with the same fingerprint
  continues from it and ends where an uninterrupted run does, byte for byte on the CPU
  (:mod:`soundflow.training_state`); a finished run only rewrites the outputs;
- divergence: a training loss that becomes NaN or infinite raises
  :class:`~soundflow.training_state.TrainingDiverged` before anything is written from the broken weights;
- best epoch: a *copy* of the weights of the epoch whose validation metric is best (:class:`BestEpoch`)
  is what the checkpoint holds;
- early stopping, optional: stop after ``patience`` epochs without a new best;
- device: bf16 autocast for the training step and channels-last memory on CUDA, ``torch.compile`` optional;
- ranks: only rank 0 writes files, prints and shows progress, so the same call serves every process of
  a DistributedDataParallel run. Under ``torchrun`` (its ``WORLD_SIZE``, ``RANK``, ... variables) fit
  joins the process group (:mod:`soundflow.distributed`); in a group of several ranks it wraps the model
  in DDP, shards the training loader (its ``batch_size`` is the global batch, each rank takes an equal
  share), sums the training loss and totals over the ranks at every step (a diverging rank stops all of
  them at the same step), validates rank 0's weights and buffers on every rank and averages the metrics,
  so that every rank keeps the same best epoch and stops early at the same epoch; the other ranks wait
  at a barrier while rank 0 writes the resumable state and the outputs.

This is the bottom layer of training: it knows nothing of the pipeline's parameters, stages or tracking.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from soundflow import distributed, training_state
from soundflow.checkpoints import save_checkpoint
from soundflow.devices import autocast
from soundflow.io import atomic_path, write_json

_MODES = ("max", "min")


@dataclass
class StepOutput:
    """One training batch's result: the loss to minimise, the batch's items and per-batch totals.

    The history's ``train_loss`` is the item-weighted mean of ``loss`` over the epoch, and each entry of
    ``sums`` (a total over the batch, such as its correct predictions) becomes ``train_<name>`` = the
    epoch's total / items.
    """

    loss: torch.Tensor
    n: int
    sums: Mapping[str, torch.Tensor | float] = field(default_factory=dict)


TrainStep = Callable[[torch.nn.Module, Any], StepOutput]
Validate = Callable[[torch.nn.Module], Mapping[str, float]]
OptimizerFactory = Callable[[Any], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]  # (optimiser, total training steps)


@dataclass(frozen=True)
class BestEpoch:
    """Which validation metric picks the kept epoch, ``max`` or ``min``, with an optional tie-breaking metric.

    A value that is not a finite number (an mIoU over no labelled pixel) ranks below every number: such
    an epoch is kept only while no epoch has measured one.
    """

    metric: str
    mode: str = "max"
    tie_break: tuple[str, str] | None = None  # (metric, mode)

    def __post_init__(self) -> None:
        for name, mode in self._keys():
            if mode not in _MODES:
                raise ValueError(f"best-epoch metric {name!r}: mode must be 'max' or 'min', got {mode!r}")

    def _keys(self) -> list[tuple[str, str]]:
        return [(self.metric, self.mode)] + ([tuple(self.tie_break)] if self.tie_break else [])

    def key(self, metrics: Mapping[str, float]) -> tuple[float, ...]:
        """The epoch's rank: larger is better (``min`` metrics negated, non-finite values last)."""
        return tuple(_signed(metrics, name, mode) for name, mode in self._keys())

    def improves(self, metrics: Mapping[str, float], best: Mapping[str, float] | None) -> bool:
        """Whether an epoch with ``metrics`` beats the best so far (``None``: no epoch yet). Ties keep the earlier."""
        return best is None or self.key(metrics) > self.key(best)


def _signed(metrics: Mapping[str, float], name: str, mode: str) -> float:
    if name not in metrics:
        raise KeyError(f"the validation measured {sorted(metrics)}: no {name!r} to pick the best epoch by")
    value = float(metrics[name])
    if not math.isfinite(value):
        return -math.inf
    return value if mode == "max" else -value


@dataclass(frozen=True)
class FitOptions:
    """How :func:`fit` trains; the defaults change nothing of a run's numbers."""

    epochs: int
    best: BestEpoch
    name: str  # the model in messages, e.g. "aed_train (AED CNN)"
    lr_hint: str = "the learning rate"  # the parameter a diverging run should lower, e.g. "aed.train.lr_start = 0.001"
    items: str = "items"  # what a training item is, for the history's "<items>_per_second" column
    max_steps_per_epoch: int | None = None  # None: the whole loader every epoch
    patience: int | None = None  # stop after this many epochs without a new best; None: never stop early
    channels_last: bool = False  # on CUDA: channels-last model and 4-D input batches
    compile: bool = False  # torch.compile the model for the training step and validation
    compile_backend: str = "inductor"
    progress: bool = True  # a progress bar per epoch (rank 0 only)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 epoch or None, got {self.patience}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be >= 1 or None, got {self.max_steps_per_epoch}")


@dataclass(frozen=True)
class FitFiles:
    """Where :func:`fit` writes: the resumable state's folder and the three outputs."""

    state_dir: Path
    checkpoint: Path
    history_csv: Path
    summary_json: Path

    @property
    def last(self) -> Path:
        return Path(self.state_dir) / "last.pt"

    @classmethod
    def under(cls, root: Path, state_dir: str, checkpoint: str, history_csv: str, summary_json: str) -> FitFiles:
        """The four places, each given relative to the project ``root`` (as a stage declares its paths)."""
        return cls(*(Path(root) / p for p in (state_dir, checkpoint, history_csv, summary_json)))


@dataclass(frozen=True)
class Augmentation:
    """How to capture and put back the training dataset's random state, saved with every epoch's state."""

    get: Callable[[], dict[str, Any]]
    set: Callable[[dict[str, Any]], None]

    @classmethod
    def generators_of(cls, dataset: object) -> Augmentation:
        """The numpy / torch generators the dataset holds as attributes (enough for most datasets)."""
        return cls(
            lambda: training_state.generator_states(dataset),
            lambda state: training_state.set_generator_states(dataset, state),
        )


@dataclass(frozen=True)
class FitResult:
    """What a finished :func:`fit` knows; ``make_checkpoint`` and ``make_summary`` build the outputs from it."""

    history: list[dict[str, float]]
    best_epoch: int  # 1-based
    best_metrics: dict[str, float]  # the validation metrics of that epoch
    best_state: dict[str, torch.Tensor]  # a CPU copy of that epoch's weights
    stopped_early: bool  # patience ran out before the last epoch
    device: torch.device
    rank: int


def process_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world size): the given ones, else the process group's (joined first when torchrun launched this
    process), else a single process (0, 1)."""
    dist = torch.distributed
    if rank is None and world_size is None:
        distributed.init_from_env()
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    rank, world_size = (0 if rank is None else rank), (1 if world_size is None else world_size)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not one of the {world_size} process(es) of the run")
    return rank, world_size


@dataclass
class _Run:
    """The live objects of one :func:`fit` call, passed to its helpers."""

    model: torch.nn.Module  # the plain module: its weights are what is saved
    runner: torch.nn.Module  # what the steps call: the model, compiled and/or DDP-wrapped
    loader: DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: Any
    device: torch.device
    steps_per_epoch: int
    channels_last: bool
    options: FitOptions
    files: FitFiles
    fingerprint: str
    augmentation: Augmentation
    rank: int
    group: bool  # one of several ranks of a process group: DDP, sharded data, reduced numbers, barriers
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # {"epoch", "metrics", "state"}

    @property
    def main(self) -> bool:
        return self.rank == 0

    def log(self, message: str) -> None:
        if self.main:
            print(message)


def fit(
    model: torch.nn.Module,
    train_loader: DataLoader,
    *,
    train_step: TrainStep,
    validate: Validate,
    make_optimizer: OptimizerFactory,
    make_scheduler: SchedulerFactory,
    options: FitOptions,
    files: FitFiles,
    fingerprint: str,
    make_checkpoint: Callable[[FitResult], dict[str, Any]],
    make_summary: Callable[[FitResult], dict[str, Any]],
    device: torch.device,
    augmentation: Augmentation | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> FitResult:
    """Train ``model`` for ``options.epochs`` epochs, resuming a killed run; write checkpoint, history, summary.

    ``train_step(model, batch)`` gets the batch on ``device`` and runs under bf16 autocast on CUDA; it
    computes the loss (from float32 logits), fit does the backward pass, optimiser and schedule steps.
    ``validate(model)`` returns the epoch's validation metrics (the history's ``val_...`` columns); in a
    distributed run every rank validates the same weights on the whole validation data and fit averages
    the ranks' numbers, so the best epoch and early stopping are decided alike on each.
    ``make_scheduler(optimizer, total_steps)`` is stepped once per training step. ``fingerprint``
    identifies the inputs and parameters: only a state saved with the same one is resumed. The caller
    seeds the global generators and builds the model before calling (its initial weights are drawn
    then); ``train_loader`` must have a seeded ``generator`` so that a resumed run shuffles as the
    uninterrupted one did. ``make_checkpoint`` and ``make_summary`` build the outputs' contents from the
    result; only rank 0 writes them.
    """
    run = _start(
        model,
        train_loader,
        make_optimizer,
        make_scheduler,
        options,
        files,
        fingerprint,
        device,
        augmentation,
        *process_rank(rank, world_size),
        train_step=train_step,
    )
    for epoch in range(_resume(run), options.epochs):
        if _out_of_patience(run):
            run.log(
                f"no better {options.best.metric} for {options.patience} epoch(s) after epoch "
                f"{run.best['epoch']}: stopped after epoch {epoch} of {options.epochs}"
            )
            break
        _run_epoch(run, epoch, train_step, validate)
    result = FitResult(
        history=run.history,
        best_epoch=run.best["epoch"],
        best_metrics=run.best["metrics"],
        best_state=run.best["state"],
        stopped_early=len(run.history) < options.epochs,
        device=device,
        rank=run.rank,
    )
    if run.main:
        _write_outputs(files, result, make_checkpoint, make_summary)
    distributed.barrier()  # the other ranks return once the outputs exist (a stage may read them next)
    return result


def _start(
    model: torch.nn.Module,
    loader: DataLoader,
    make_optimizer: OptimizerFactory,
    make_scheduler: SchedulerFactory,
    options: FitOptions,
    files: FitFiles,
    fingerprint: str,
    device: torch.device,
    augmentation: Augmentation | None,
    rank: int,
    world_size: int,
    *,
    train_step: TrainStep,
) -> _Run:
    """Model on the device, optimiser and schedule, leftovers of killed writes removed (rank 0)."""
    if loader.generator is None:
        raise ValueError(
            f"{options.name}: the training loader needs a seeded generator, or a resumed run "
            "would not shuffle as the uninterrupted one did"
        )
    channels_last = options.channels_last and device.type == "cuda"
    group = world_size > 1 and distributed.active()
    if group:
        loader = distributed.shard_loader(loader, rank, world_size)
        fingerprint = f"{fingerprint} on {world_size} ranks"  # another data order: not resumed by another count
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.parameters())
    steps = len(loader) if options.max_steps_per_epoch is None else min(len(loader), options.max_steps_per_epoch)
    scheduler = make_scheduler(optimizer, options.epochs * steps)
    run = _Run(
        model=model,
        runner=_runner(model, options, device, world_size),
        loader=loader,
        optimizer=optimizer,
        scheduler=scheduler,
        device=device,
        steps_per_epoch=steps,
        channels_last=channels_last,
        options=options,
        files=files,
        fingerprint=_state_fingerprint(fingerprint, options.epochs, steps, code_identity(model, loader, train_step)),
        augmentation=augmentation or Augmentation.generators_of(loader.dataset),
        rank=rank,
        group=group,
    )
    if run.main:
        files.last.parent.mkdir(parents=True, exist_ok=True)
        training_state.remove_leftovers(files.last, files.checkpoint, files.history_csv, files.summary_json)
    distributed.barrier()  # every rank then reads the same saved state, if any
    return run


def _state_fingerprint(fingerprint: str, epochs: int, steps_per_epoch: int, code: str) -> str:
    # the schedule spans epochs x steps: a state saved for another length must not be continued; nor one
    # saved by other code (a fixed loss, a changed model), which DVC reruns the stage for
    return hashlib.sha256(json.dumps([fingerprint, epochs, steps_per_epoch, code]).encode()).hexdigest()


def code_identity(model: torch.nn.Module, loader: DataLoader, train_step: Callable[..., Any]) -> str:
    """A hash of the source files that define the model, the dataset (its augmentation), the training step,
    this loop and its state: a resumable state written by other code is not continued."""
    dataset = loader.dataset
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    objects = (type(model), type(dataset), train_step, sys.modules[__name__], training_state)
    digest = hashlib.sha256()
    for path in sorted({f for f in map(_source_file, objects) if f}):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _source_file(obj: object) -> str | None:
    try:
        return inspect.getsourcefile(obj)  # type: ignore[arg-type]
    except TypeError:  # built-in: no source, nothing of ours to change
        return None


def _runner(model: torch.nn.Module, options: FitOptions, device: torch.device, world_size: int) -> torch.nn.Module:
    """What the steps call: the model, DDP-wrapped in a process group of several ranks, compiled if asked."""
    runner = model
    dist = torch.distributed
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        ids = None  # CPU (gloo): the module's own device
        if device.type == "cuda":  # one GPU per rank (soundflow.devices.pick_device gives it LOCAL_RANK's)
            ids = [device.index if device.index is not None else torch.cuda.current_device()]
        runner = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if options.compile:
        runner = torch.compile(runner, backend=options.compile_backend)
    return runner


def _resume(run: _Run) -> int:
    """Load a saved state made with the same fingerprint; the first epoch (0-based) still to run."""
    saved = training_state.restore(
        run.files.last,
        fingerprint=run.fingerprint,
        model=run.model,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        loader_rng=run.loader.generator,
        total_epochs=run.options.epochs,
        log=run.log,
    )
    if not saved:
        return 0
    run.history, run.best = saved["history"], saved["best"]
    # the augmentation continues where the interrupted run left it
    run.augmentation.set(saved["data_state"].get("train", {}))
    return saved["epoch"] + 1


def _out_of_patience(run: _Run) -> bool:
    """Whether ``patience`` epochs have passed since the best one (checked before each epoch, also on resume)."""
    patience = run.options.patience
    return patience is not None and bool(run.history) and run.history[-1]["epoch"] - run.best["epoch"] >= patience


def _run_epoch(run: _Run, epoch: int, train_step: TrainStep, validate: Validate) -> None:
    """Train, validate, keep a copy of the weights if best, log, save the resumable state (rank 0)."""
    t0 = time.perf_counter()
    train, seen = _train_epoch(run, epoch, train_step)
    train_seconds = time.perf_counter() - t0
    metrics = _validate(run, validate, train)
    per_second = f"{run.options.items}_per_second"
    record = {
        "epoch": epoch + 1,
        **train,
        **metrics,
        "lr": run.scheduler.get_last_lr()[0],
        "seconds": time.perf_counter() - t0,
        per_second: seen / max(train_seconds, 1e-9),
    }
    run.history.append(record)
    if run.options.best.improves(metrics, run.best["metrics"] if run.best else None):
        run.best = {"epoch": epoch + 1, "metrics": metrics, "state": training_state.weights_copy(run.model)}
    scores = " | ".join(", ".join(f"{k} {v:.4f}" for k, v in part.items()) for part in (train, metrics))
    run.log(f"epoch {epoch + 1}/{run.options.epochs}: {scores} | {record[per_second]:.1f} {run.options.items}/s")
    if run.main:
        training_state.save(
            run.files.last,
            fingerprint=run.fingerprint,
            epoch=epoch,
            model=run.model,
            optimizer=run.optimizer,
            scheduler=run.scheduler,
            loader_rng=run.loader.generator,
            history=run.history,
            best=run.best,
            data_state={"train": run.augmentation.get()},
        )
    distributed.barrier()  # no rank runs ahead of the last saved state


def _train_epoch(run: _Run, epoch: int, train_step: TrainStep) -> tuple[dict[str, float], int]:
    """One pass over the loader (at most ``steps_per_epoch`` batches): ({train_loss, train_<sum>...}, items).

    Raises TrainingDiverged at the first non-finite loss, before the epoch's state can be saved.
    """
    run.model.train()
    sampler = getattr(run.loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):  # a DistributedSampler shuffles anew each epoch only when told it
        sampler.set_epoch(epoch)
    loss_sum, seen, sums = 0.0, 0, {}
    bar = tqdm(
        run.loader,
        total=run.steps_per_epoch,
        desc=f"epoch {epoch + 1}/{run.options.epochs}",
        disable=not (run.options.progress and run.main),
        leave=False,
    )
    for step, batch in enumerate(bar):
        # the check follows the fetch, so a limited epoch loads one batch past its limit (and draws its
        # augmentation), as the runs made so far did: checking first would change their numbers
        if step >= run.steps_per_epoch:
            break
        loss_value, n, batch_sums = _batch_totals(run, _step(run, train_step, batch))
        training_state.check_loss(
            loss_value, model=run.options.name, epoch=epoch + 1, step=step + 1, lr_hint=run.options.lr_hint
        )
        loss_sum += loss_value * n
        for name, value in batch_sums.items():
            sums[name] = sums.get(name, 0) + value
        seen += n
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
    items = max(seen, 1)
    return {"train_loss": loss_sum / items, **{f"train_{k}": v / items for k, v in sums.items()}}, seen


def _batch_totals(run: _Run, out: StepOutput) -> tuple[float, int, dict[str, float]]:
    """(mean loss, items, per-batch totals) of the step: of this process's batch, or of all ranks' together."""
    sums = {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in out.sums.items()}
    if not run.group:
        return out.loss.item(), out.n, sums
    keys = sorted(sums)
    total = distributed.all_reduce_sum([out.loss.item() * out.n, out.n, *(sums[k] for k in keys)], run.device)
    n = int(total[1])
    return total[0] / max(n, 1), n, dict(zip(keys, total[2:]))


def _step(run: _Run, train_step: TrainStep, batch: Any) -> StepOutput:
    """Forward (under autocast) and loss by the task's step; backward, optimiser and schedule steps here."""
    batch = _to_device(batch, run.device, run.channels_last)
    with autocast(run.device):
        out = train_step(run.runner, batch)
    run.optimizer.zero_grad(set_to_none=True)
    out.loss.backward()  # outside autocast, as autocast's documentation asks
    run.optimizer.step()
    run.scheduler.step()
    return out


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    """Tensors of a (nested) batch on ``device``; 4-D floating tensors channels-last when asked (images)."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(b, device, channels_last) for b in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)  # namedtuples too
    if isinstance(batch, dict):
        return {k: _to_device(v, device, channels_last) for k, v in batch.items()}
    return batch


def _validate(run: _Run, validate: Validate, train: Mapping[str, float]) -> dict[str, float]:
    run.model.eval()
    if run.group:
        distributed.broadcast_buffers(run.model)
    with torch.no_grad():
        metrics = dict(validate(run.runner))
    if run.group:
        metrics = distributed.all_reduce_mean(metrics, run.device)
    clash = set(metrics) & ({"epoch", "lr", "seconds", f"{run.options.items}_per_second"} | set(train))
    if clash:
        raise ValueError(f"{run.options.name}: validation metrics {sorted(clash)} clash with the history's own columns")
    return metrics


def _write_outputs(
    files: FitFiles,
    result: FitResult,
    checkpoint: Callable[[FitResult], dict[str, Any]],
    summary: Callable[[FitResult], dict[str, Any]],
) -> None:
    """Checkpoint, history CSV and summary JSON, each written atomically, in that order."""
    save_checkpoint(files.checkpoint, checkpoint(result))
    with atomic_path(files.history_csv) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False)
    write_json(files.summary_json, summary(result))
