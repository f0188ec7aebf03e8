"""Running soundflow, DVC and git in a scratch project, and reading from their logs which stages ran."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def cli_environment() -> dict[str, str]:
    """This environment with the venv's tools first on PATH and no inherited per-project state (the ``cli_env``
    fixture's; for a module-scoped fixture, which cannot use it)."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    for k in ("PREFECT_HOME", "MPLCONFIGDIR", "SOUNDFLOW_PIPELINE_KEY", "MLFLOW_TRACKING_URI"):
        e.pop(k, None)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def sh(args: list[str], cwd: Path, env: dict[str, str], ok: bool = True) -> str:
    """stdout + stderr of ``args`` run in ``cwd``; fails the test on a non-zero exit unless ``ok`` is False."""
    if args[0] == "soundflow":  # the copy's own code, not the editable install's
        args = [sys.executable, "-m", "soundflow", *args[1:]]
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    if ok and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{out[-4000:]}")
    return out


def ran_by_dvc(log: str) -> list[str]:
    """Stages a ``dvc repro`` log says it ran, in order."""
    return re.findall(r"Running stage '([^']+)'", log)


def ran_by_prefect(log: str) -> list[str]:
    """Stages a ``soundflow run`` log says it recomputed (its summary line must be there)."""
    m = re.search(r"soundflow run: \d+ stage\(s\), (\d+) recomputed(?: \(([^)]*)\))?", log)
    assert m, log[-3000:]
    return m.group(2).split(", ") if m.group(2) else []


def cached_tasks(log: str) -> list[str]:
    """Prefect tasks a ``soundflow run`` log shows as served from the cache."""
    return re.findall(r"Task run '([^']+)' - Finished in state Cached", log)


def own_project(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of the test's own (params.yaml, dvc.yaml), the current folder, no inherited lock token."""
    from soundflow.pipeline import workspace_lock

    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(workspace_lock.TOKEN_ENV, raising=False)
    return tmp_path
