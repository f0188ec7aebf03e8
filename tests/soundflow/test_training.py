"""The one training loop (soundflow.training.fit), on a tiny network and random data."""

from __future__ import annotations

import importlib
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from soundflow import training_state
from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit, process_rank
from tests.helpers.resume import kill_after_first_epoch, sha256

TIMING = ["seconds", "items_per_second"]


class _Noisy(Dataset):
    """Fixed random points of 3 classes; every read adds noise from the dataset's own generator (augmentation)."""

    def __init__(self, n: int = 24, seed: int = 0, noise: float = 0.1) -> None:
        g = np.random.default_rng(seed)
        self.x = g.normal(size=(n, 4)).astype(np.float32)
        self.y = (self.x[:, 0] > 0).astype(np.int64) + (self.x[:, 1] > 0)
        self.noise = noise
        self.rng = np.random.default_rng(seed + 1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.x[i] + self.noise * self.rng.normal(size=4).astype(np.float32)), int(self.y[i])


VAL = _Noisy(12, seed=5)


def _step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    x, y = batch
    logits = model(x)
    return StepOutput(F.cross_entropy(logits.float(), y), len(y), {"accuracy": (logits.argmax(1) == y).sum()})


def _validate(model: nn.Module) -> dict[str, float]:
    logits = model(torch.from_numpy(VAL.x))
    y = torch.from_numpy(VAL.y)
    return {
        "val_loss": F.cross_entropy(logits, y).item(),
        "val_accuracy": (logits.argmax(1) == y).float().mean().item(),
    }


def _scripted(scores: list[float], snapshots: list[dict[str, torch.Tensor]] | None = None):
    """A validation that reports the given scores epoch after epoch, keeping each epoch's weights."""
    it = iter(scores)

    def validate(model: nn.Module) -> dict[str, float]:
        if snapshots is not None:
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"val_score": next(it)}

    return validate


def _files(tmp: Path) -> FitFiles:
    return FitFiles(tmp / "state", tmp / "model.pt", tmp / "history.csv", tmp / "summary.json")


def _summary(r: FitResult) -> dict:
    return {"best_epoch": r.best_epoch, "epochs_run": len(r.history), "stopped_early": r.stopped_early}


def _fit(
    tmp: Path,
    validate=_validate,
    best: BestEpoch = BestEpoch("val_loss", "min"),
    epochs: int = 3,
    step=_step,
    rank: int | None = None,
    world_size: int | None = None,
    schedule_totals: list | None = None,
    **options,
) -> FitResult:
    torch.manual_seed(0)
    np.random.seed(0)
    loader = DataLoader(_Noisy(), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))

    def schedule(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
        if schedule_totals is not None:
            schedule_totals.append(total)
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / (total + 1))

    return fit(
        model,
        loader,
        train_step=step,
        validate=validate,
        make_optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        make_scheduler=schedule,
        options=FitOptions(
            epochs=epochs, best=best, name="tiny (mlp)", lr_hint="tiny.lr = 0.1", progress=False, **options
        ),
        files=_files(tmp),
        fingerprint="fp",
        make_checkpoint=lambda r: {"state_dict": r.best_state, "best_epoch": r.best_epoch},
        make_summary=_summary,
        device=torch.device("cpu"),
        rank=rank,
        world_size=world_size,
    )


@pytest.mark.parametrize(("mode", "best_epoch"), [("max", 2), ("min", 4)])
def test_the_checkpoint_holds_the_epoch_best_by_the_chosen_metric(tmp_path: Path, mode: str, best_epoch: int) -> None:
    snapshots: list[dict[str, torch.Tensor]] = []
    result = _fit(tmp_path, _scripted([0.2, 0.9, 0.5, 0.1], snapshots), BestEpoch("val_score", mode), epochs=4)
    assert result.best_epoch == best_epoch
    assert result.best_metrics == {"val_score": [0.2, 0.9, 0.5, 0.1][best_epoch - 1]}
    ckpt = torch.load(tmp_path / "model.pt", weights_only=False)
    assert ckpt["best_epoch"] == best_epoch
    # a copy of that epoch's weights, not a reference to the model that trained on
    assert all(torch.equal(ckpt["state_dict"][k], snapshots[best_epoch - 1][k]) for k in ckpt["state_dict"])
    assert not torch.equal(ckpt["state_dict"]["0.weight"], snapshots[0 if best_epoch == 4 else -1]["0.weight"])
    assert json.loads((tmp_path / "summary.json").read_text())["best_epoch"] == best_epoch


def test_best_epoch_ranks_by_metric_then_tie_break_with_non_finite_values_last() -> None:
    by_acc = BestEpoch("acc", "max", tie_break=("loss", "min"))
    assert by_acc.improves({"acc": 0.5, "loss": 0.8}, {"acc": 0.5, "loss": 1.0})
    assert not by_acc.improves({"acc": 0.5, "loss": 1.0}, {"acc": 0.5, "loss": 1.0})  # a tie keeps the earlier
    assert not by_acc.improves({"acc": 0.4, "loss": 0.1}, {"acc": 0.5, "loss": 1.0})
    assert by_acc.improves({"acc": 0.0, "loss": math.inf}, None)  # the first epoch is always kept
    by_miou = BestEpoch("miou")
    assert by_miou.improves({"miou": 0.0}, {"miou": math.nan})
    assert not by_miou.improves({"miou": math.nan}, {"miou": 0.0})
    assert not BestEpoch("loss", "min").improves({"loss": math.nan}, {"loss": 5.0})
    with pytest.raises(KeyError, match="no 'acc' to pick the best epoch by"):
        by_acc.key({"loss": 1.0})
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        BestEpoch("loss", "lowest")


def test_patience_stops_early_records_it_and_a_rerun_trains_no_further(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = [0.5, 0.9, 0.8, 0.7, 0.6, 0.95]  # no better score in epochs 3 and 4
    result = _fit(tmp_path, _scripted(scores), BestEpoch("val_score"), epochs=6, patience=2)
    assert result.stopped_early and result.best_epoch == 2 and [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert "stopped after epoch 4 of 6" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "history.csv")["epoch"].tolist() == [1, 2, 3, 4]
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "best_epoch": 2,
        "epochs_run": 4,
        "stopped_early": True,
    }
    again = _fit(tmp_path, _scripted([]), BestEpoch("val_score"), epochs=6, patience=2)  # a validation would fail
    assert again.stopped_early and len(again.history) == 4
    # without patience every epoch runs, and the last one is the best
    full = _fit(tmp_path / "full", _scripted(scores), BestEpoch("val_score"), epochs=6)
    assert not full.stopped_early and len(full.history) == 6 and full.best_epoch == 6


def test_history_columns_and_the_schedule_spans_every_step(tmp_path: Path) -> None:
    totals: list[int] = []
    _fit(tmp_path, schedule_totals=totals)  # 24 items in batches of 8: 3 steps an epoch
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist.columns) == [
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "seconds",
        "items_per_second",
    ]
    assert hist["epoch"].tolist() == [1, 2, 3] and hist["train_accuracy"].between(0, 1).all()
    assert totals == [9] and hist["lr"].tolist() == pytest.approx([0.1 * (1 - s / 10) for s in (3, 6, 9)])
    totals.clear()
    _fit(tmp_path / "limited", schedule_totals=totals, max_steps_per_epoch=2)
    assert totals == [6]
    assert pd.read_csv(tmp_path / "limited" / "history.csv")["lr"].tolist() == pytest.approx(
        [0.1 * (1 - s / 7) for s in (2, 4, 6)]
    )


def test_train_sums_are_item_weighted_means_over_the_epoch(tmp_path: Path) -> None:
    def step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        out = _step(model, batch)
        return StepOutput(out.loss, out.n, {"ones": out.n, "first_is_0": float(batch[1][0] == 0)})

    _fit(tmp_path, step=step, epochs=2)
    hist = pd.read_csv(tmp_path / "history.csv")
    assert hist["train_ones"].tolist() == [1.0, 1.0]  # sum of batch sizes / items
    assert list(hist.columns[:4]) == ["epoch", "train_loss", "train_ones", "train_first_is_0"]
    assert hist["train_first_is_0"].isin([k / 24 for k in range(4)]).all()  # a sum over 3 batches / 24 items


def test_resuming_after_a_kill_ends_with_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fit(tmp_path / "uninterrupted")
    kill_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "resumed")
    assert not (tmp_path / "resumed" / "model.pt").exists()
    _fit(tmp_path / "resumed")
    assert sha256(tmp_path / "resumed" / "model.pt") == sha256(tmp_path / "uninterrupted" / "model.pt")
    final, ref = (
        torch.load(tmp_path / d / "state" / "last.pt", weights_only=False) for d in ("resumed", "uninterrupted")
    )
    assert all(torch.equal(final["model"][k], ref["model"][k]) for k in ref["model"])
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "resumed" / "history.csv").drop(columns=TIMING),
        pd.read_csv(tmp_path / "uninterrupted" / "history.csv").drop(columns=TIMING),
    )


def test_a_state_of_another_length_of_training_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fit(tmp_path, epochs=2)
    capsys.readouterr()
    result = _fit(tmp_path, epochs=3)  # the schedule spans another number of steps: starting over is right
    assert "training from scratch" in capsys.readouterr().out and len(result.history) == 3


def test_a_state_saved_by_other_training_code_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the step lives in a module of its own, edited between the kill and the rerun (a fixed loss, say):
    # continuing the old code's state would serve weights the new code never trained
    step_file = tmp_path / "edited_step.py"
    header = (
        "from __future__ import annotations\nimport torch.nn.functional as F\n"
        "from soundflow.training import StepOutput\n"
    )
    step_file.write_text(header + inspect.getsource(_step).replace("def _step", "def step", 1))
    monkeypatch.syspath_prepend(str(tmp_path))
    step = importlib.import_module("edited_step").step
    kill_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "run", step=step)
    _fit(tmp_path / "run", step=step, epochs=3)  # same code: resumed
    assert "resuming from" in capsys.readouterr().out
    step_file.write_text(step_file.read_text() + "# edited\n")
    _fit(tmp_path / "run", step=step)
    assert "training from scratch" in capsys.readouterr().out


def test_only_rank_zero_writes_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _fit(tmp_path / "rank1", rank=1, world_size=2)
    assert len(result.history) == 3 and result.rank == 1
    assert not (tmp_path / "rank1").exists() and capsys.readouterr().out == ""
    _fit(tmp_path / "rank0", rank=0, world_size=2)
    assert {p.name for p in (tmp_path / "rank0").iterdir()} == {"state", "model.pt", "history.csv", "summary.json"}
    assert "epoch 3/3" in capsys.readouterr().out


def test_rank_comes_from_an_initialised_process_group(tmp_path: Path) -> None:
    assert process_rank() == (0, 1) and process_rank(1, 2) == (1, 2)
    with pytest.raises(ValueError, match="rank 2 is not one of the 2 process"):
        process_rank(2, 2)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert process_rank() == (0, 1)
    finally:
        torch.distributed.destroy_process_group()


def test_a_diverging_loss_stops_the_run_before_anything_is_written_from_it(tmp_path: Path) -> None:
    calls = {"n": 0}

    def nan_in_epoch_2(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        calls["n"] += 1
        out = _step(model, batch)
        return StepOutput(out.loss * float("nan"), out.n) if calls["n"] > 3 else out

    with pytest.raises(
        training_state.TrainingDiverged, match=r"tiny \(mlp\): training diverged at epoch 2 \(step 1\).*tiny\.lr = 0\.1"
    ):
        _fit(tmp_path, step=nan_in_epoch_2)
    assert not any((tmp_path / f).exists() for f in ("model.pt", "history.csv", "summary.json"))
    assert torch.load(tmp_path / "state" / "last.pt", weights_only=False)["epoch"] == 0  # epoch 1's state only


def test_compiled_training_saves_the_plain_module_weights(tmp_path: Path) -> None:
    plain = _fit(tmp_path / "plain")
    compiled = _fit(tmp_path / "compiled", compile=True, compile_backend="eager")
    assert list(compiled.best_state) == list(plain.best_state)  # no "_orig_mod." prefix: loadable into the model
    assert all(torch.allclose(compiled.best_state[k], plain.best_state[k]) for k in plain.best_state)


def test_the_training_loader_must_be_seeded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a seeded generator"):
        fit(
            nn.Linear(4, 3),
            DataLoader(_Noisy(), batch_size=8, shuffle=True),
            train_step=_step,
            validate=_validate,
            make_optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
            make_scheduler=lambda o, t: None,
            options=FitOptions(epochs=1, best=BestEpoch("val_loss", "min"), name="tiny"),
            files=_files(tmp_path),
            fingerprint="fp",
            make_checkpoint=dict,
            make_summary=dict,
            device=torch.device("cpu"),
        )


@pytest.mark.gpu
def test_on_cuda_the_step_runs_in_bf16_autocast_on_channels_last_batches(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
        x, y = batch
        seen.update(
            autocast=torch.is_autocast_enabled("cuda"),
            channels_last=x.is_contiguous(memory_format=torch.channels_last),
            weights=next(model.parameters()).is_contiguous(memory_format=torch.channels_last),
        )
        logits = model(x).mean((2, 3))
        return StepOutput(F.cross_entropy(logits.float(), y), len(y))

    images = torch.utils.data.TensorDataset(torch.randn(8, 3, 8, 8), torch.randint(0, 3, (8,)))
    fit(
        nn.Conv2d(3, 3, 3),
        DataLoader(images, batch_size=4, generator=torch.Generator().manual_seed(0)),
        train_step=step,
        validate=lambda m: {"val": 0.0},
        make_optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        make_scheduler=lambda o, t: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0),
        options=FitOptions(epochs=1, best=BestEpoch("val"), name="conv", channels_last=True, progress=False),
        files=_files(tmp_path),
        fingerprint="fp",
        make_checkpoint=lambda r: {},
        make_summary=lambda r: {},
        device=torch.device("cuda"),
    )
    assert seen == {"autocast": True, "channels_last": True, "weights": True}
