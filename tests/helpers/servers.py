"""Session-scoped real servers for the operations tests: Prefect, MLflow (SQLite backend) and moto's S3.

One of each per test session (started on first use, on a free 127.0.0.1 port, waited for with a bound, stopped
at the end), as the project's own ``soundflow server`` starts them: the specs are soundflow.pipeline.ops.servers'.
Registered as fixtures in tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soundflow.pipeline.ops import servers

# dummy credentials: moto accepts any; they reach MLflow and boto3 through the environment only
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class Running:
    spec: servers.ServerSpec
    seconds_to_ready: float
    log: Path
    state: Path  # the server's own folder (database, artifacts)

    @property
    def url(self) -> str:
        return self.spec.url


def base_env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    for k in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "SOUNDFLOW_PIPELINE_KEY"):
        e.pop(k, None)
    return e


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("s3-server")
    spec = servers.s3_server(port=servers.free_port())
    with servers.running(spec, state / "server.log", timeout=60, base_env=base_env()) as (_, took):
        yield Running(spec, took, state / "server.log", state)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("prefect-server")
    spec = servers.prefect_server(state, port=servers.free_port())
    with servers.running(spec, state / "server.log", timeout=180, base_env=base_env()) as (_, took):
        yield Running(spec, took, state / "server.log", state)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, s3_server: Running) -> Iterator[Running]:
    """MLflow with a SQLite backend and its artifacts on the S3 store (through the server, credentials from env)."""
    state = tmp_path_factory.mktemp("mlflow-server")
    boto3_client(s3_server.url).create_bucket(Bucket="mlflow")
    spec = servers.mlflow_server(f"sqlite:///{state / 'mlflow.db'}", "s3://mlflow/artifacts", port=servers.free_port())
    env = dict(base_env(), MLFLOW_S3_ENDPOINT_URL=s3_server.url, **S3_CREDENTIALS)
    with servers.running(spec, state / "server.log", timeout=180, base_env=env) as (_, took):
        yield Running(spec, took, state / "server.log", state)


def boto3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )
