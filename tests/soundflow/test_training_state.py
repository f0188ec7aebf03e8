"""The resumable training state (soundflow.training_state) and the clean-up of killed writes (soundflow.io)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from soundflow import training_state
from soundflow.checkpoints import save_checkpoint
from soundflow.io import remove_temp_leftovers


class _Augmenting:
    """A dataset's random state: a numpy generator and a torch one, next to plain attributes."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.torch_rng = torch.Generator().manual_seed(seed)
        self.rows = np.arange(5)


def _parts(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, object, torch.Generator]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    return model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), torch.Generator().manual_seed(seed)


def _draws(loader_rng: torch.Generator, ds: _Augmenting) -> list[float]:
    return [
        torch.rand(1).item(),
        float(np.random.random()),
        torch.rand(1, generator=loader_rng).item(),
        float(ds.rng.random()),
        torch.rand(1, generator=ds.torch_rng).item(),
    ]


def test_restore_puts_every_generator_where_it_was_saved(tmp_path: Path) -> None:
    model, opt, sched, loader_rng = _parts(0)
    ds = _Augmenting(0)
    np.random.seed(0)
    _draws(loader_rng, ds)  # advance everything past its seed
    training_state.save(
        tmp_path / "last.pt",
        fingerprint="fp",
        epoch=0,
        model=model,
        optimizer=opt,
        scheduler=sched,
        loader_rng=loader_rng,
        history=[],
        best={},
        data_state={"train": training_state.generator_states(ds)},
    )
    expected = _draws(loader_rng, ds)

    model2, opt2, sched2, loader_rng2 = _parts(1)  # a fresh process: other seeds everywhere
    ds2 = _Augmenting(1)
    np.random.seed(1)
    saved = training_state.restore(
        tmp_path / "last.pt",
        fingerprint="fp",
        model=model2,
        optimizer=opt2,
        scheduler=sched2,
        loader_rng=loader_rng2,
        total_epochs=3,
    )
    assert saved is not None and saved["epoch"] == 0
    training_state.set_generator_states(ds2, saved["data_state"]["train"])
    assert _draws(loader_rng2, ds2) == expected
    assert torch.equal(model2.weight, model.weight)
    # another run's state is not resumed
    assert (
        training_state.restore(
            tmp_path / "last.pt",
            fingerprint="other",
            model=model2,
            optimizer=opt2,
            scheduler=sched2,
            loader_rng=loader_rng2,
            total_epochs=3,
        )
        is None
    )


def test_generator_states_refuse_an_attribute_that_is_no_longer_a_generator() -> None:
    states = training_state.generator_states(_Augmenting(0))
    assert set(states) == {"rng", "torch_rng"}
    ds = _Augmenting(0)
    ds.rng = None
    with pytest.raises(TypeError, match=r"_Augmenting\.rng is NoneType"):
        training_state.set_generator_states(ds, states)


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_loss_is_a_divergence_naming_model_epoch_and_loss(loss: float) -> None:
    with pytest.raises(training_state.TrainingDiverged) as err:
        training_state.check_loss(loss, model="m (net)", epoch=4, step=7, lr_hint="x.lr = 10")
    assert isinstance(err.value, RuntimeError)
    assert str(err.value) == (
        f"m (net): training diverged at epoch 4 (step 7): training loss is {loss}; lower the learning rate (x.lr = 10)"
    )
    training_state.check_loss(1e30, model="m", epoch=1, step=1, lr_hint="")  # large but finite: fine


def test_remove_temp_leftovers_removes_only_killed_writes_of_that_file(tmp_path: Path) -> None:
    ours = [tmp_path / ".last.pt.tmp-123", tmp_path / ".last.pt.tmp-99999999"]
    ours[0].write_bytes(b"x")
    (ours[1] / "sub").mkdir(parents=True)  # atomic_path also writes folders
    kept = [
        tmp_path / "last.pt",
        tmp_path / ".last.pt.tmp-abc",
        tmp_path / ".other.pt.tmp-123",
        tmp_path / ".last.pt.old.tmp-1",
    ]
    for f in kept:
        f.write_bytes(b"x")
    assert remove_temp_leftovers(tmp_path / "last.pt") == sorted(ours)
    assert not any(f.exists() for f in ours) and all(f.exists() for f in kept)
    assert remove_temp_leftovers(tmp_path / "missing" / "last.pt") == []


def test_a_state_written_by_an_older_training_loop_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, opt, sched, loader_rng = _parts(0)
    path = tmp_path / "last.pt"
    training_state.save(
        path,
        fingerprint="fp",
        epoch=0,
        model=model,
        optimizer=opt,
        scheduler=sched,
        loader_rng=loader_rng,
        history=[],
        best={},
    )
    messages: list[str] = []
    kw = dict(fingerprint="fp", model=model, optimizer=opt, scheduler=sched, loader_rng=loader_rng, total_epochs=2)
    assert training_state.restore(path, log=messages.append, **kw) is not None
    assert messages == [f"resuming from {path} after epoch 1/2"] and capsys.readouterr().out == ""  # log, not print
    older = torch.load(path, weights_only=False)
    del older["format"]  # the layout before the loop kept its best epoch as {"epoch", "metrics", "state"}
    save_checkpoint(path, older)
    assert training_state.restore(path, **kw) is None
    assert "written by another version of the training loop; training from scratch" in capsys.readouterr().out
