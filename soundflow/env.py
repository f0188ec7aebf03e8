"""Environment for every soundflow process: offline, quiet, state kept inside the repository."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = ".soundflow"  # under the project root, ignored: resumable training state, Prefect's home

OFFLINE = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    # the ephemeral Prefect server's 20 s default start-up timeout was exceeded under load
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


def configure(root: Path) -> None:
    """Set defaults (never overriding what the user set) before Prefect, MLflow or DVC are imported."""
    state = Path(root).resolve() / STATE_DIR
    for k, v in OFFLINE.items():
        os.environ.setdefault(k, v)
    os.environ.setdefault("PREFECT_HOME", str(state / "prefect"))
    # Prefect's ephemeral server cannot create its SQLite file in a missing folder
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(state / "numba"))
    os.environ.setdefault("MPLCONFIGDIR", str(state / "matplotlib"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(state / "inductor"))


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder upwards holding both params.yaml and dvc.yaml."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "params.yaml").is_file() and (d / "dvc.yaml").is_file():
            return d
    raise FileNotFoundError(f"{here}: not inside a soundflow project (no params.yaml and dvc.yaml above it)")


def launch_rank() -> int:
    """The rank a launcher (torchrun) gave this process (``RANK``), 0 when none did: only rank 0 writes the
    stage's outputs, its MLflow run and the workspace lock. Read without torch, before any process group."""
    return int(os.environ.get("RANK") or 0)
