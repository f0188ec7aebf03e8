"""soundflow.env: defaults set for every process, never overriding what the caller set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHOW = "import os, sys; from soundflow import env; env.configure(sys.argv[1]); print(os.environ[sys.argv[2]])"


def _configured(project: Path, key: str, environ: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", SHOW, str(project), key], env=environ, cwd=project,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


def test_state_is_kept_in_the_project_when_nothing_is_set(tmp_path: Path, cli_env: dict[str, str]) -> None:
    assert _configured(tmp_path, "PREFECT_HOME", cli_env) == str(tmp_path.resolve() / ".soundflow" / "prefect")


def test_a_test_project_shares_the_sessions_numba_cache(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """librosa's kernels are compiled once per checkout, not once per test project (about 13 CPU s each)."""
    shared = os.environ["NUMBA_CACHE_DIR"]  # the checkout's (tests/conftest.py), unless the user set one
    assert shared != str(tmp_path.resolve() / ".soundflow" / "numba")
    assert _configured(tmp_path, "NUMBA_CACHE_DIR", cli_env) == shared
