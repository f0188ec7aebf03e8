"""DVC's S3 remote end to end, against moto's S3-compatible server (the same calls MinIO answers).

In a scratch copy: an S3 remote with an ``endpointurl``, credentials only in the environment, ``dvc repro
aed_train`` (the generated dataset and a tiny checkpoint), ``dvc push``, the cache and the workspace copies
deleted, ``dvc pull``: every byte comes back and the pipeline is up to date again.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.workflows.aed import AED_MODEL
from flows.workflows.data import URBAN_SYNTH
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow

BUCKET = "soundflow-test"
PREFIX = "dvc"
# dummy credentials: moto accepts any; they must reach DVC through the environment only
ACCESS_KEY = "AKIASOUNDFLOWTEST000"
SECRET_KEY = "soundflow-dummy-secret-4f1c9b2e7a"
REGION = "us-east-1"
UP_TO_DATE = "Data and pipelines are up to date"


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{out[-4000:]}")
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """moto's S3 server in a subprocess on a free local port; stopped afterwards, whatever the test did."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited {proc.returncode}:\n{(tmp_path / 'moto.log').read_text()}")
            try:
                with no_proxy.open(url + "/", timeout=2) as resp:  # S3 ListBuckets
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not answer on {url} within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def s3_env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``cli_env`` with dummy AWS credentials, and nothing from the user's AWS set-up that could override them."""
    e = {k: v for k, v in cli_env.items() if not k.startswith("AWS_")}
    e.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    e["NO_PROXY"] = e["no_proxy"] = "127.0.0.1,localhost"
    return e


def md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot(project: Path) -> dict[str, str]:
    """md5 of the checkpoint and of every file of the generated dataset, by path relative to the project."""
    files = [project / AED_MODEL, *(p for p in (project / URBAN_SYNTH).rglob("*") if p.is_file())]
    return {str(p.relative_to(project)): md5(p) if p.is_file() else "missing" for p in files}


def bucket_keys(endpoint: str) -> set[str]:
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def test_push_then_pull_from_an_s3_compatible_remote_restores_every_output(
    tmp_path: Path, s3_endpoint: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    project = copy_project(ROOT, tmp_path / "project", TINY)
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket=BUCKET)
    assert bucket_keys(s3_endpoint) == set()

    sh(["dvc", "remote", "add", "-d", "storage", f"s3://{BUCKET}/{PREFIX}"], project, s3_env)
    sh(["dvc", "remote", "modify", "storage", "endpointurl", s3_endpoint], project, s3_env)
    config = (project / ".dvc/config").read_text()
    assert f"s3://{BUCKET}/{PREFIX}" in config and s3_endpoint in config and "remote = storage" in config

    sh(["dvc", "repro", "aed_train"], project, s3_env)
    before = snapshot(project)
    # TINY: 4 clips per class, 10 classes
    assert before[AED_MODEL] != "missing" and sum(k.endswith(".wav") for k in before) >= 10
    status = ["dvc", "status", "--with-deps", "aed_train"]  # the stages `dvc repro aed_train` ran
    assert UP_TO_DATE in sh(status, project, s3_env)

    pushed = sh(["dvc", "push"], project, s3_env)
    keys = bucket_keys(s3_endpoint)
    assert keys, pushed
    expected = {f"{PREFIX}/files/md5/{h[:2]}/{h[2:]}" for h in before.values()}
    assert expected <= keys, (sorted(expected - keys)[:5], pushed[-2000:])
    assert any(k.endswith(".dir") for k in keys)  # the directory manifest of data/generated/urban_synth

    shutil.rmtree(project / ".dvc/cache")
    shutil.rmtree(project / URBAN_SYNTH)
    (project / AED_MODEL).unlink()
    assert UP_TO_DATE not in sh(status, project, s3_env)

    # only aed_train and its upstream ran here: a bare `dvc pull` would fail on the never-built seg outputs
    pulled = sh(["dvc", "pull", "--with-deps", "aed_train"], project, s3_env)
    assert snapshot(project) == before, pulled[-2000:]
    assert UP_TO_DATE in sh(status, project, s3_env)
    assert "Running stage" not in sh(["dvc", "repro", "aed_train"], project, s3_env)
    assert "in sync" in sh([*status, "--cloud"], project, s3_env)

    for name in ("config", "config.local"):  # the credentials never reached DVC's config files
        path = project / ".dvc" / name
        text = path.read_text() if path.exists() else ""
        assert SECRET_KEY not in text and ACCESS_KEY not in text, name
