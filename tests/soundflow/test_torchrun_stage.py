"""``torchrun --nproc_per_node N -m soundflow stage NAME``: every rank runs the stage; rank 0 alone locks,
logs to MLflow and writes (the training itself is tests/soundflow/test_training_ddp.py)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from soundflow.pipeline import cli, runner, workspace_lock
from soundflow.pipeline.cli.pipeline import cmd_stage
from tests.helpers.commands import own_project


class Tracked(Exception):
    pass


@pytest.fixture
def project(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return own_project(tmp_path, root, monkeypatch)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stage's work recorded instead of done; MLflow tracking refused (a test fails if a rank tracks)."""
    calls: list[str] = []
    stage = types.SimpleNamespace(
        name="aed_train",
        flow="aed",
        desc="train",
        deps=(),
        params=(),
        all_outs=(),
        run=lambda params, root: calls.append("run"),
    )
    monkeypatch.setattr(runner, "get_stage", lambda name: stage)
    params = types.SimpleNamespace(tracking=types.SimpleNamespace(experiment="soundflow"))
    monkeypatch.setattr(runner, "load_params", lambda root: params)
    monkeypatch.setattr("soundflow.pipeline.params_check.check_stage_inputs", lambda params, root, stage: None)

    def no_tracking(*args: object) -> None:
        calls.append("tracked")
        raise Tracked

    monkeypatch.setattr("soundflow.pipeline.tracking.Tracker", no_tracking)
    return calls


def test_a_rank_other_than_zero_runs_the_stage_without_tracking(
    project: Path, ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    runner.execute("aed_train", project, engine="dvc", stage_hash="h")
    assert ran == ["run"]
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(Tracked):  # rank 0 goes on to its MLflow run
        runner.execute("aed_train", project, engine="dvc", stage_hash="h")
    assert ran == ["run", "tracked"]


def test_a_rank_other_than_zero_works_under_rank_zeros_workspace_lock(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies: list[str] = []
    monkeypatch.setattr(cmd_stage, "callback", lambda args: bodies.append(args.name) or 0)
    lease = workspace_lock.acquire(project, "torchrun -m soundflow stage aed_train (rank 0)")
    try:
        assert cli.main(["stage", "aed_train"]) == workspace_lock.EXIT_BUSY  # a second command is refused
        monkeypatch.setenv("RANK", "1")
        assert cli.main(["stage", "aed_train"]) == 0  # rank 1 of the same launch is not
    finally:
        workspace_lock.release(lease)
    assert bodies == ["aed_train"]
