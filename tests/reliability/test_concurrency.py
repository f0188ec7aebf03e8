"""Two writers in one workspace: the second is refused in one sentence by the workspace lock, nothing half-written.

``soundflow run`` takes the lock before any work; ``dvc repro`` does not (DVC knows nothing of it): DVC takes its
own repository lock, removes a stale stage's outputs, then runs ``soundflow stage NAME``, which is refused by the
lock while another command holds it. So beside a ``soundflow run`` a plain ``dvc repro`` fails with the lock's one
line, leaving the stage's outputs absent (DVC removed them, as any rerun of a stale stage does) or whole, never
half-written, and records nothing in ``dvc.lock``; the other way round ``soundflow run`` is refused while a stage
of the ``dvc repro`` holds the workspace. A flow run of ``soundflow serve`` takes the lock too (flows/pipeline.py).

The fast tests hold the lock from a real process that says it is a ``soundflow run`` (the refusal happens
before any work, so what it would have done does not matter); the real pairs are marked soak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundflow.pipeline import workspace_lock
from soundflow.pipeline.stages import get_stage
from soundflow.pipeline.workspace import TINY, copy_project
from soundflow.pipeline.workspace_lock import EXIT_BUSY, TOKEN_ENV
from tests.helpers.paths import ROOT
from tests.helpers.resume import invalid_outputs, temporaries

HOLDER = """
import sys
from pathlib import Path
from soundflow.pipeline import workspace_lock
with workspace_lock.hold(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes the pipe
"""
STAGE = "urban_synth"  # the cheapest stage with outputs of its own


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(ROOT, tmp_path_factory.mktemp("concurrency") / "project", TINY)


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    e = {k: v for k, v in cli_env.items() if k != TOKEN_ENV}
    return {**e, "OMP_NUM_THREADS": "1"}


@pytest.fixture
def holder(project: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A live process holding the workspace as ``soundflow run`` does."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project), f"soundflow run {STAGE}"],
        cwd=project, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def run(argv: list[str], project: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    if argv[0] == "soundflow":
        argv = [sys.executable, "-m", "soundflow", *argv[1:]]
    elif argv[0] == "dvc":
        argv = [str(Path(sys.executable).with_name("dvc")), *argv[1:]]
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)


def damage(project: Path) -> list[str]:
    """Half-written or leftover files among the stage's outputs."""
    stage = get_stage(STAGE)
    return invalid_outputs(project, stage) + temporaries(project, stage)


def recorded(project: Path) -> bool:
    lock = project / "dvc.lock"
    return lock.is_file() and f"\n  {STAGE}:" in "\n" + lock.read_text()


def refusal_line(text: str, holder_pid: int) -> list[str]:
    return [line for line in text.splitlines() if f"is in use by pid {holder_pid} (soundflow run" in line]


def test_a_second_soundflow_run_is_refused_in_one_sentence_before_any_work(
    project: Path, env: dict[str, str], holder: subprocess.Popen[str], board: object
) -> None:
    before = sorted(p.name for p in project.iterdir())
    t0 = time.monotonic()
    proc = run(["soundflow", "run", STAGE], project, env)
    waited = time.monotonic() - t0
    board.tried("fault")
    board.harm("files_lost", len(damage(project)))
    board.harm("unclear", int(len(proc.stderr.strip().splitlines()) != 1))
    assert proc.returncode == EXIT_BUSY, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert refusal_line(line, holder.pid) and "wait for it or stop it" in line
    assert sorted(p.name for p in project.iterdir()) == before  # no output, no dvc.lock, no MLflow store
    assert not (project / "data/generated" / STAGE).exists() and not recorded(project)
    assert waited < 60, f"refused only after {waited:.0f} s"


def test_dvc_repro_beside_a_soundflow_run_fails_with_the_locks_sentence_and_records_nothing(
    project: Path, env: dict[str, str], holder: subprocess.Popen[str], board: object
) -> None:
    proc = run(["dvc", "repro", STAGE], project, env)
    out = proc.stdout + proc.stderr
    found = damage(project)
    board.tried("fault")
    board.harm("files_lost", len(found))
    board.harm("unclear", int(len(refusal_line(out, holder.pid)) != 1))
    assert proc.returncode != 0, out
    assert len(refusal_line(out, holder.pid)) == 1, out
    assert not found, found
    assert not recorded(project), (project / "dvc.lock").read_text()


def test_a_flow_run_as_serve_starts_it_is_refused_beside_a_manual_run(
    project: Path, env: dict[str, str], holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch, board: object
) -> None:
    """``soundflow serve`` executes each scheduled run by calling the flow function in its own process: the
    flow takes the workspace lock before any stage, so beside a manual run it fails at once, writing nothing."""
    import flows.pipeline as fp

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(workspace_lock.WorkspaceBusy) as refused:
        fp._run(project, [STAGE], force=False)
    board.tried("fault")
    board.harm("files_lost", len(damage(project)))
    assert f"in use by pid {holder.pid} (soundflow run {STAGE}" in str(refused.value)
    assert len(str(refused.value).splitlines()) == 1
    assert not (project / "data/generated" / STAGE).exists() and not recorded(project)


# ------------------------------------------------------------------ real pairs (slow: Prefect and DVC start-ups)


def _start(argv: list[str], project: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "soundflow", *argv[1:]] if argv[0] == "soundflow" else argv
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for_holder(project: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        record = workspace_lock.read_record(project)
        if record and what in record.get("command", ""):
            return record
        time.sleep(0.05)
    raise AssertionError(f"no holder {what!r} seen (exit {proc.poll()})")


@pytest.mark.soak
def test_two_real_soundflow_runs_one_refused_the_other_completes(
    tmp_path: Path, env: dict[str, str], board: object
) -> None:
    project = copy_project(ROOT, tmp_path / "project", TINY)
    first = _start(["soundflow", "run", STAGE], project, env, tmp_path / "first.log")
    try:
        record = _wait_for_holder(project, first, "soundflow run")
        second = run(["soundflow", "run", STAGE], project, env)
    finally:
        first.wait(timeout=600)
    board.tried("fault")
    board.harm("files_lost", len(damage(project)))
    assert second.returncode == EXIT_BUSY, second.stdout + second.stderr
    assert f"is in use by pid {record['pid']} (soundflow run {STAGE}" in second.stderr
    assert first.returncode == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert recorded(project) and not damage(project)


@pytest.mark.soak
def test_soundflow_run_is_refused_while_a_stage_of_dvc_repro_runs(
    tmp_path: Path, env: dict[str, str], board: object
) -> None:
    project = copy_project(ROOT, tmp_path / "project", {**TINY, "data.urban_synth.clips_per_class": 40})
    dvc = _start([str(Path(sys.executable).with_name("dvc")), "repro", STAGE], project, env, tmp_path / "dvc.log")
    try:
        record = _wait_for_holder(project, dvc, f"soundflow stage {STAGE}")
        second = run(["soundflow", "run", STAGE], project, env)
    finally:
        dvc.wait(timeout=600)
    board.tried("fault")
    board.harm("files_lost", len(damage(project)))
    assert second.returncode == EXIT_BUSY, second.stdout + second.stderr
    assert f"is in use by pid {record['pid']} (soundflow stage {STAGE}" in second.stderr
    assert dvc.returncode == 0, (tmp_path / "dvc.log").read_text()[-3000:]
    assert recorded(project) and not damage(project)
    assert os.path.isdir(project / "data/generated" / STAGE)
