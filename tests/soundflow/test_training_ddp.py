"""The one training loop under DistributedDataParallel: 2 CPU processes (gloo) train as one process does.

Two ranks with a global batch of 8 (4 each, from a DistributedSampler over the same permutation) average
their gradients, so after every step their weights equal those of a single process taking the same 8
items (:mod:`soundflow.distributed`'s batch convention), up to the order of float32 additions.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import socket
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from soundflow import distributed
from soundflow.training import BestEpoch, FitFiles, FitOptions, FitResult, StepOutput, fit

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

WORLD = 2
GLOBAL_BATCH = 8
TOLERANCE = 1e-6  # float32 sums in another order: the weights agree to 3e-8 after 8 steps
TIMING = ["seconds", "items_per_second"]


def _data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > x[:, 2]).long())


VAL = _data(16, seed=9)


def _step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    x, y = batch
    logits = model(x)
    return StepOutput(F.cross_entropy(logits, y), len(y), {"accuracy": (logits.argmax(1) == y).sum()})


def _validate(model: nn.Module) -> dict[str, float]:
    x, y = VAL.tensors
    logits = model(x)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    return {"val_loss": F.cross_entropy(logits, y).item(), "val_accuracy": accuracy}


def _fit(out: Path) -> tuple[FitResult, nn.Module]:
    """Train the tiny model for 2 epochs of 4 global batches; the single process and every rank call this."""
    torch.manual_seed(0)
    data = _data(32, seed=1)
    # a single process's loader with the sampler a rank gets, of one replica: the same permutation per epoch
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    loader = DataLoader(data, batch_size=GLOBAL_BATCH, sampler=sampler, generator=torch.Generator().manual_seed(3))
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    result = fit(
        model,
        loader,
        train_step=_step,
        validate=_validate,
        make_optimizer=lambda params: torch.optim.SGD(params, lr=0.2, momentum=0.9),
        make_scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / (total + 1)),
        options=FitOptions(epochs=2, best=BestEpoch("val_loss", "min"), name="tiny (ddp)", progress=False),
        files=FitFiles(out / "state", out / "model.pt", out / "history.csv", out / "summary.json"),
        fingerprint="fp",
        make_checkpoint=lambda r: {"state_dict": r.best_state},
        make_summary=lambda r: {"best_epoch": r.best_epoch},
        device=torch.device("cpu"),
    )
    return result, model


def _die_after_first_epoch() -> None:
    """Every rank dies at the barrier after rank 0 saved epoch 1's state (as torchrun stops all ranks of a run)."""
    real, calls = distributed.barrier, []

    def barrier() -> None:
        real()
        calls.append(1)
        if len(calls) == 2:  # the first after fit's start, the second after epoch 1's state
            raise KeyboardInterrupt("killed after epoch 1")

    distributed.barrier = barrier


def _rank(rank: int, port: int, tmp: Path, shared: str | None = None, kill: bool = False) -> None:
    """One torchrun-like rank: the launcher's variables, the group joined with a timeout, then :func:`fit`."""
    torch.set_num_threads(1)
    if kill:
        _die_after_first_epoch()
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(WORLD), "RANK": str(rank)}
    )
    os.environ["LOCAL_RANK"] = str(rank)
    assert distributed.init_from_env(timeout=datetime.timedelta(seconds=60)) == (rank, WORLD)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            # each rank its own folder, unless shared, so that a file rank 1 wrote would show
            result, model = _fit(tmp / (shared or f"rank{rank}"))
        weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        name = f"{shared or ''}{rank}.pt"
        torch.save({"weights": weights, "history": result.history, "printed": printed.getvalue()}, tmp / name)
    except KeyboardInterrupt:
        pass
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, FitResult, nn.Module]:
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_rank, args=(_free_port(), tmp), nprocs=WORLD, join=True)
    torch.set_num_threads(1)
    single, model = _fit(tmp / "single")
    ranks = {r: torch.load(tmp / f"{r}.pt", weights_only=False) for r in range(WORLD)}
    return tmp, ranks, single, model


def test_two_gloo_ranks_train_the_weights_of_one_process_with_the_same_global_batch(runs) -> None:
    _, ranks, single, model = runs
    for name, ref in model.state_dict().items():
        # DDP keeps the ranks identical, bit for bit
        assert torch.equal(ranks[0]["weights"][name], ranks[1]["weights"][name])
        torch.testing.assert_close(ranks[0]["weights"][name], ref, rtol=0, atol=TOLERANCE)
    assert not torch.equal(ranks[0]["weights"]["0.weight"], _fit_initial()), "the weights did not train"
    ddp = pd.DataFrame(ranks[0]["history"]).drop(columns=TIMING)
    one = pd.DataFrame(single.history).drop(columns=TIMING)
    # the training loss and accuracy are the ranks' totals over all 32 items; the validation is averaged
    pd.testing.assert_frame_equal(ddp, one, rtol=0, atol=TOLERANCE)
    # every rank decides the best epoch on the same numbers
    pd.testing.assert_frame_equal(pd.DataFrame(ranks[1]["history"]).drop(columns=TIMING), ddp, check_exact=True)


def _fit_initial() -> torch.Tensor:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))[0].weight.detach()


def test_only_rank_zero_writes_and_prints(runs) -> None:
    tmp, ranks, _, _ = runs
    assert {p.name for p in (tmp / "rank0").iterdir()} == {"state", "model.pt", "history.csv", "summary.json"}
    assert (tmp / "rank0" / "state" / "last.pt").is_file()
    assert not (tmp / "rank1").exists()
    assert "epoch 2/2" in ranks[0]["printed"] and ranks[1]["printed"] == ""


def test_a_global_batch_that_does_not_split_over_the_ranks_is_refused() -> None:
    loader = DataLoader(_data(12, 0), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="global batch of 5 does not split over 2 ranks"):
        distributed.shard_loader(loader, 0, 2)


def test_a_single_process_is_rank_zero_of_one_and_reduces_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in distributed.LAUNCH_ENV:
        monkeypatch.delenv(k, raising=False)
    assert not distributed.launched() and distributed.init_from_env() == (0, 1) and distributed.is_main()
    assert distributed.all_reduce_mean({"a": 0.5}, torch.device("cpu")) == {"a": 0.5}
    monkeypatch.setenv("RANK", "1")
    assert distributed.world() == (1, 1) and not distributed.is_main()  # a launcher's rank, before any group


@pytest.mark.slow  # two more launches of 2 processes
def test_a_killed_distributed_run_resumes_from_rank_zeros_state_to_the_same_weights(runs) -> None:
    tmp, ranks, _, _ = runs
    mp.spawn(_rank, args=(_free_port(), tmp, "shared", True), nprocs=WORLD, join=True)
    saved = torch.load(tmp / "shared" / "state" / "last.pt", weights_only=False)
    assert saved["epoch"] == 0 and not (tmp / "shared" / "model.pt").exists()
    mp.spawn(_rank, args=(_free_port(), tmp, "shared"), nprocs=WORLD, join=True)
    for r in range(WORLD):
        resumed = torch.load(tmp / f"shared{r}.pt", weights_only=False)
        assert ("resuming from" in resumed["printed"]) if r == 0 else resumed["printed"] == ""
        for name, ref in ranks[0]["weights"].items():
            assert torch.equal(resumed["weights"][name], ref), name  # as the uninterrupted run, bit for bit
