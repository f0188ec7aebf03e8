"""Scratch copies of the project: for end-to-end tests and benchmarks that must not touch the real one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from soundflow.config import parse_params, read_params_yaml, set_dotted


def copy_project(src: Path, dst: Path, overrides: dict[str, Any] | None = None) -> Path:
    """Copy the git-tracked files of ``src`` to ``dst``, make it a git repo, apply dotted param overrides.

    The copy has no outputs, no DVC cache, no MLflow store: a cold start, as in a fresh clone.
    """
    src, dst = Path(src).resolve(), Path(dst).resolve()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=src,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        if (src / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)
    if overrides:
        set_params(dst, overrides)
    git = ["git", "-c", "user.email=ci@soundflow.local", "-c", "user.name=soundflow"]
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dst, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch copy"], cwd=dst, check=True)
    init_raw_data(dst)
    return dst


def init_raw_data(root: Path) -> None:
    """Give a fresh clone the empty ``data/raw`` that ``data.dvc`` records (what `make data-raw` does)."""
    from soundflow import dvc_state

    raw = Path(root) / "data" / "raw"
    if not raw.exists():
        raw.mkdir(parents=True)
        with dvc_state.open_repo(Path(root)) as repo:
            dvc_state.commit_dvcfile(repo, Path(root) / "data.dvc")
