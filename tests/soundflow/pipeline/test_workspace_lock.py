"""The workspace lock, across real processes: refusal naming the holder, stale takeover, children of the holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundflow.pipeline import cli, workspace_lock
from soundflow.pipeline.cli.pipeline import cmd_repro, cmd_stage
from soundflow.pipeline.workspace_lock import EXIT_BUSY, TOKEN_ENV

HOLDER = """
import sys
from pathlib import Path
from soundflow.pipeline import workspace_lock
with workspace_lock.hold(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes the pipe
"""


@pytest.fixture
def project(tmp_path: Path, root: Path) -> Path:
    """The smallest folder the CLI accepts as a project (params.yaml + dvc.yaml), lock state of its own."""
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    return tmp_path


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    e = dict(cli_env)
    e.pop(TOKEN_ENV, None)
    return e


def start_holder(project: Path, env: dict[str, str], command: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project), command],
        cwd=project,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def holder(project: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = start_holder(project, env, "soundflow run aed_train")
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def soundflow(args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "soundflow", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_second_writer_is_refused_with_one_line_naming_the_holder(
    project: Path, env: dict[str, str], holder: subprocess.Popen[str]
) -> None:
    # an unknown stage name: past the lock this exits 2 with "unknown stage", so 75 proves the lock came first
    proc = soundflow(["stage", "no_such_stage"], project, env)
    assert proc.returncode == EXIT_BUSY
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"is in use by pid {holder.pid} (soundflow run aed_train, since " in lines[0]
    assert str(project) in lines[0] and "wait for it or stop it" in lines[0]


def test_the_lock_api_is_refused_while_the_cli_holds_it(
    project: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reverse order: `soundflow stage` holds the workspace; another process asking for it is refused."""
    seen: list[subprocess.CompletedProcess[str]] = []

    def stage_that_asks_around(args: object) -> int:
        seen.append(
            subprocess.run(
                [sys.executable, "-c", HOLDER, str(project), "other"],
                cwd=project,
                env=env,
                input="",
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
        return 0

    monkeypatch.chdir(project)
    monkeypatch.setattr(cmd_stage, "callback", stage_that_asks_around)
    assert cli.main(["stage", "aed_train"]) == 0
    (other,) = seen
    assert other.returncode != 0 and "held" not in other.stdout
    assert f"in use by pid {os.getpid()} (soundflow stage aed_train, since " in other.stderr
    assert workspace_lock.read_record(project) is None  # released: the record went with the lock


def test_a_killed_holders_lock_is_taken_over_saying_so(project: Path, env: dict[str, str]) -> None:
    dead = start_holder(project, env, "soundflow run seg_train")
    dead.send_signal(signal.SIGKILL)  # no clean-up: its record stays, the kernel drops its flock
    dead.wait(timeout=30)
    assert workspace_lock.read_record(project)["pid"] == dead.pid

    proc = soundflow(["stage", "no_such_stage"], project, env)
    assert proc.returncode == 2 and "unknown stage 'no_such_stage'" in proc.stderr  # it went past the lock
    assert f"taking over the stale workspace lock of pid {dead.pid} (soundflow run seg_train" in proc.stderr
    assert workspace_lock.read_record(project) is None


def test_children_of_the_holder_proceed_and_others_are_refused(
    project: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`soundflow repro` holds the lock; the `soundflow stage` its dvc starts carries the token and runs."""
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def repro_spawning_stages(args: object) -> int:
        inherited = {**env, TOKEN_ENV: os.environ[TOKEN_ENV]}
        results["child"] = soundflow(["stage", "no_such_stage"], project, inherited)
        results["wrong token"] = soundflow(
            ["stage", "no_such_stage"], project, {**env, TOKEN_ENV: f"{os.getpid()}:not-the-nonce"}
        )
        return 0

    monkeypatch.chdir(project)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setattr(cmd_repro, "callback", repro_spawning_stages)
    assert cli.main(["repro"]) == 0
    assert results["child"].returncode == 2 and "unknown stage" in results["child"].stderr
    assert "in use" not in results["child"].stderr
    assert results["wrong token"].returncode == EXIT_BUSY
    assert f"in use by pid {os.getpid()} (soundflow repro, since " in results["wrong token"].stderr
    assert TOKEN_ENV not in os.environ  # the holder's token does not outlive the command


def test_the_lock_is_reentrant_in_its_holder_and_released_after(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with workspace_lock.hold(project, "outer") as outer:
        assert outer.owner and workspace_lock.read_record(project)["command"] == "outer"
        with workspace_lock.hold(project, "inner") as inner:
            assert not inner.owner and inner.record["token"] == outer.record["token"]
        assert workspace_lock.read_record(project)["command"] == "outer"  # the nested exit kept it
        monkeypatch.setenv(TOKEN_ENV, "")  # without the token the same process is just another writer
        with pytest.raises(workspace_lock.WorkspaceBusy, match=f"pid {os.getpid()} \\(outer, since "):
            workspace_lock.acquire(project)
        monkeypatch.setenv(TOKEN_ENV, outer.record["token"])
    assert workspace_lock.read_record(project) is None
    with workspace_lock.hold(project) as again:  # free again, and no stale-takeover is claimed
        assert again.owner


def test_a_flow_started_without_the_cli_takes_the_lock(
    project: Path, env: dict[str, str], holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a Prefect deployment calls the flow directly: it must be refused beside a holder, before any stage starts
    import flows.pipeline as fp

    started: list[str] = []
    monkeypatch.setattr(fp, "for_stage", lambda name, root: started.append(name))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(workspace_lock.WorkspaceBusy, match=f"in use by pid {holder.pid}"):
        fp._run(project, ["urban_synth"], force=False)
    assert started == []
