"""The handoff between cluster steps: ``dvc.lock`` entries merged, uncached outputs carried; and two steps of
the exported DAG run for real in two separate workspaces that share only a DVC remote and the handoff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from flows.workflows.image_to_soundscape import SEG_WEIGHTS
from soundflow.pipeline.export import handoff
from soundflow.pipeline.export.steps import Step, script, steps
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.paths import ROOT


def _lock(stages: dict[str, dict]) -> str:
    return yaml.safe_dump({"schema": "2.0", "stages": stages})


def test_send_then_receive_carries_lock_entries_and_uncached_outputs(tmp_path: Path) -> None:
    up, down, box = tmp_path / "up", tmp_path / "down", tmp_path / "box"
    (up / "reports/seg").mkdir(parents=True)
    (up / SEG_WEIGHTS).write_text('{"weights": [1.0, 2.0]}')
    (up / handoff.LOCK).write_text(_lock({"street_scenes": {"cmd": "a"}, "seg_class_weights": {"cmd": "b"}}))
    assert handoff.send(up, "seg_class_weights", box) == [SEG_WEIGHTS]
    down.mkdir()
    (down / handoff.LOCK).write_text(_lock({"street_scenes": {"cmd": "stale"}, "aed_train": {"cmd": "kept"}}))
    assert handoff.receive(down, [box]) == [SEG_WEIGHTS]
    assert (down / SEG_WEIGHTS).read_text() == '{"weights": [1.0, 2.0]}'
    stages = yaml.safe_load((down / handoff.LOCK).read_text())["stages"]
    assert stages == {"street_scenes": {"cmd": "a"}, "aed_train": {"cmd": "kept"}, "seg_class_weights": {"cmd": "b"}}


def test_receive_without_a_lock_of_its_own_and_bad_inputs(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    (box / handoff.LOCK).write_text(_lock({"urban_synth": {"cmd": "x"}}))
    (tmp_path / "ws").mkdir()
    assert handoff.receive(tmp_path / "ws", [box]) == []
    assert yaml.safe_load((tmp_path / "ws" / handoff.LOCK).read_text())["stages"] == {"urban_synth": {"cmd": "x"}}
    with pytest.raises(FileNotFoundError, match="not a handoff"):
        handoff.receive(tmp_path / "ws", [tmp_path / "nothing"])
    (tmp_path / "ws2").mkdir()
    with pytest.raises(FileNotFoundError, match="seg_class_weights declares reports/seg/class_weights.json"):
        (tmp_path / "ws2" / handoff.LOCK).write_text(_lock({}))
        handoff.send(tmp_path / "ws2", "seg_class_weights", tmp_path / "box2")
    assert handoff.main(["bogus"]) == 2


def _run_step(step: Step, workspace: Path, out: Path, ins: list[Path], env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["sh", "-c", script(step, "shared"), step.task, str(out), *map(str, ins)],
        cwd=workspace,
        # the steps' server: here the store soundflow uses by default, one shared by the steps as a server would be
        env={**env, "MLFLOW_TRACKING_URI": f"sqlite:///{workspace.parent / 'mlruns.db'}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{step.stage} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_two_steps_in_separate_workspaces_hand_over_through_the_remote(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """street_scenes -> seg_class_weights -> seg_train's inputs: cached data by `dvc pull`, metrics by handoff."""
    remote = tmp_path / "remote"
    first = copy_project(ROOT, tmp_path / "first", TINY)
    subprocess.run(["dvc", "remote", "add", "-d", "shared", str(remote)], cwd=first, env=cli_env, check=True)
    subprocess.run(["git", "add", ".dvc/config"], cwd=first, env=cli_env, check=True)
    by_name = {s.stage: s for s in steps(first)}
    second = copy_project(first, tmp_path / "second")  # the same commit, as every pod runs the same image
    third = copy_project(first, tmp_path / "third")
    _run_step(by_name["street_scenes"], first, tmp_path / "h1", [], cli_env)
    _run_step(by_name["seg_class_weights"], second, tmp_path / "h2", [tmp_path / "h1"], cli_env)
    assert (second / SEG_WEIGHTS).is_file()
    # the runs went to the server the steps were given, none to a store of the (lost) pod's workspace
    assert (tmp_path / "mlruns.db").is_file() and not (first / "mlruns.db").exists()
    # what seg_train would start from, in a third empty workspace: the handoffs, then its `dvc pull`
    handoff.receive(third, [tmp_path / "h1", tmp_path / "h2"])
    pull = ["dvc", "pull", *by_name["seg_train"].pulls]
    subprocess.run(pull, cwd=third, env=cli_env, check=True, capture_output=True)
    assert (third / SEG_WEIGHTS).read_text() == (second / SEG_WEIGHTS).read_text()
    status = subprocess.run(
        ["dvc", "status", "street_scenes", "seg_class_weights"], cwd=third, env=cli_env, capture_output=True, text=True
    )
    assert "up to date" in status.stdout, status.stdout + status.stderr
