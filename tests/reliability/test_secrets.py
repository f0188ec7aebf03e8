"""Secrets in the environment never reach a file: sentinel logins and S3 keys through both engines and the servers.

Each secret the project reads from the environment (the Cityscapes login, ``tasks/datasets/registry.py``; the S3
keys DVC's remote and MLflow's artifact store take, the MLflow server's password) is set to a unique sentinel.
The pipeline then runs through DVC (``dvc repro``: the ``datasets`` stage logging in to a local stand-in of
the Cityscapes host, which refuses the login, and ``urban_synth``) and through Prefect (``soundflow run``), with
MLflow tracking to the project's SQLite store; the DAG is exported for Argo and Kubeflow. Then every byte the
runs left is searched: every file of the project (logs, ``mlruns.db`` and MLflow's artifacts, Prefect's home
with its database and results, ``dvc.lock`` and ``.dvc/``, ``data/``, ``outputs/``, ``reports/``), the
commands' output, the exported specs, and the MLflow params and tags as the store returns them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from soundflow.pipeline.workspace import TINY, copy_project, set_params
from tests.helpers.corpus_server import running_server
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

# The username is not among them: a refused login names the user, on purpose (it is how the user sees a typo)
SECRET_VARS = (
    "CITYSCAPES_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


@pytest.fixture(scope="module")
def sentinels() -> dict[str, str]:
    return {var: f"sentinel-{var.lower().replace('_', '-')}-{uuid.uuid4().hex}" for var in SECRET_VARS}


def secret_env(cli_env: dict[str, str], sentinels: dict[str, str]) -> dict[str, str]:
    return {**cli_env, **sentinels, "CITYSCAPES_USERNAME": "sentinel-user", "OMP_NUM_THREADS": "1"}


def run(argv: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if argv[0] == "soundflow":
        argv = [sys.executable, "-m", "soundflow", *argv[1:]]
    elif argv[0] == "dvc":
        argv = [str(Path(sys.executable).with_name("dvc")), *argv[1:]]
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=900)


def files_holding(folder: Path, secrets: list[str]) -> dict[str, list[str]]:
    """Every file under ``folder`` (raw bytes; the code's git history aside) holding a secret, with which."""
    found: dict[str, list[str]] = {}
    needles = [s.encode() for s in secrets]
    for f in folder.rglob("*"):
        if f.is_symlink() or not f.is_file() or ".git" in f.relative_to(folder).parts[:1]:
            continue
        data = f.read_bytes()
        hits = [n.decode() for n in needles if n in data]
        if hits:
            found[str(f.relative_to(folder))] = hits
    return found


def tracked_values(project: Path) -> list[str]:
    """Every param, tag and metric key of every run in the project's MLflow store, as the store returns them."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns.db'}")
    values = []
    for exp in client.search_experiments():
        for r in client.search_runs([exp.experiment_id], max_results=1000):
            values += [f"{k}={v}" for k, v in {**r.data.params, **r.data.tags}.items()] + list(r.data.metrics)
    return values


def with_remote(project: Path) -> Path:
    """The S3 remote an export needs, added as the README says: its URL in .dvc/config, its keys in the environment."""
    proc = run(["dvc", "remote", "add", "-d", "storage", "s3://soundflow/dvc"], project, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_remote(copy_project(ROOT, tmp_path_factory.mktemp("secrets") / "project", TINY))


def leaks(places: list[Path], outputs: list[str], project: Path, secrets: list[str]) -> dict[str, list[str]]:
    """Where each secret was found: files (raw bytes), the commands' output, the MLflow store's params and tags."""
    found: dict[str, list[str]] = {}
    for place in places:
        found.update({f"{place.name}/{k}": v for k, v in files_holding(place, secrets).items()})
    found.update({f"output {i}": [s for s in secrets if s in text] for i, text in enumerate(outputs)})
    if (project / "mlruns.db").is_file():
        found["mlflow params/tags"] = [s for v in tracked_values(project) for s in secrets if s in v]
    return {k: v for k, v in found.items() if v}


def refused_login(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``dvc repro datasets`` logging in to a local stand-in of the Cityscapes host, which refuses the login."""
    with running_server() as host:
        set_params(project, {"data.download.datasets": ["cityscapes"], "data.download.base_url": host.base})
        try:
            return run(["dvc", "repro", "datasets"], project, env)
        finally:
            set_params(project, {"data.download.datasets": [], "data.download.base_url": None})


def test_a_sentinel_login_and_s3_keys_reach_no_file_of_a_dvc_stage_or_an_export(
    project: Path, cli_env: dict[str, str], sentinels: dict[str, str], board: object
) -> None:
    env = secret_env(cli_env, sentinels)
    login = refused_login(project, env)
    argo = run(["soundflow", "export", "argo"], project, env)
    secrets = list(sentinels.values())
    found = leaks([project], [login.stdout + login.stderr, argo.stdout + argo.stderr], project, secrets)
    board.tried("secret", len(secrets))
    board.harm("secrets_found", sum(map(len, found.values())))
    assert login.returncode != 0 and "login failed for user 'sentinel-user'" in login.stdout + login.stderr
    assert argo.returncode == 0 and "soundflow-s3" in argo.stdout, argo.stderr[-2000:]  # keys by reference only
    assert (project / "mlruns.db").is_file(), "the stage's MLflow run was not searched"
    assert not found, found


@pytest.mark.soak
def test_no_sentinel_secret_in_any_file_dvc_prefect_mlflow_or_the_exports_leave(
    tmp_path: Path, cli_env: dict[str, str], sentinels: dict[str, str], board: object
) -> None:
    project = with_remote(copy_project(ROOT, tmp_path / "project", TINY))
    env = secret_env(cli_env, sentinels)
    login = refused_login(project, env)
    outputs = [login.stdout + login.stderr]
    dvc = run(["dvc", "repro", "datasets", "urban_synth"], project, env)
    prefect = run(["soundflow", "run", "urban_synth", "--force"], project, env)
    specs = [run(["soundflow", "export", engine], project, env) for engine in ("argo", "kfp")]
    outputs += [p.stdout + p.stderr for p in (dvc, prefect, *specs)]
    secrets = list(sentinels.values())
    found = leaks([project], outputs, project, secrets)
    board.tried("secret", len(secrets))
    board.harm("secrets_found", sum(map(len, found.values())))
    assert dvc.returncode == 0 and prefect.returncode == 0, outputs[1][-2000:] + outputs[2][-2000:]
    assert all(p.returncode == 0 and len(p.stdout) > 1000 for p in specs), [p.stderr[-2000:] for p in specs]
    assert any((project / ".soundflow/prefect").rglob("*.db")), "no Prefect database was searched"
    assert not found, found


@pytest.mark.soak
def test_no_sentinel_secret_reaches_the_tracking_and_s3_servers(
    tmp_path: Path, cli_env: dict[str, str], sentinels: dict[str, str], mlflow_server: object, s3_server: object,
    board: object,
) -> None:  # fmt: skip
    """A stage tracked to the real MLflow server (artifacts on the S3 server): its database, artifact store and
    logs, the stage's output and the project hold no secret."""
    project = copy_project(ROOT, tmp_path / "project", TINY)
    env = {**secret_env(cli_env, sentinels), "MLFLOW_TRACKING_URI": mlflow_server.url}
    stage = run(["soundflow", "stage", "urban_synth"], project, env)
    secrets = list(sentinels.values())
    found = leaks([project, mlflow_server.state, s3_server.state], [stage.stdout + stage.stderr], project, secrets)
    board.tried("secret", len(secrets))
    board.harm("secrets_found", sum(map(len, found.values())))
    assert stage.returncode == 0, (stage.stdout + stage.stderr)[-3000:]
    assert any(mlflow_server.state.rglob("*.db")), "the server's database was not searched"
    assert not found, found
