"""``soundflow server s3`` serves the buckets it makes, says in one line what to install when moto is missing, and
``soundflow server mlflow`` refuses an S3 artifact store whose bucket is missing in one line naming the bucket and
the endpoint (not its clients' "Max retries exceeded" later). Real moto servers on 127.0.0.1 throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soundflow.pipeline.ops import s3_buckets, servers
from tests.helpers.paths import ROOT
from tests.helpers.servers import S3_CREDENTIALS, Running, base_env, boto3_client


def soundflow(*argv: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "soundflow", *argv], cwd=ROOT, env=env or base_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # fmt: skip


def finished(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, list[str]]:
    """Exit code and stderr lines of a command expected to end by itself."""
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:  # SIGINT first: the command stops the server it started
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return proc.returncode, [line for line in err.splitlines() if line.strip()]


def port_free(port: int) -> bool:
    try:
        servers.check_port(servers.s3_server(port=port))
    except servers.PortUnavailable:
        return False
    return True


@pytest.mark.slow
def test_server_s3_makes_the_buckets_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)  # the server's own command makes its buckets with none in its environment
    port = servers.free_port()
    proc = soundflow("server", "s3", "--port", str(port), "--bucket", "data", "--bucket", "runs")
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any("dvc remote add" in line for line in lines) and time.monotonic() < deadline:
            lines.append(proc.stderr.readline())
        url = f"http://127.0.0.1:{port}"
        assert any("ready in" in line and url in line for line in lines), lines
        assert f"dvc remote add -d storage s3://data/dvc && dvc remote modify storage endpointurl {url}" in "".join(
            lines
        )
        names = {b["Name"] for b in boto3_client(url).list_buckets()["Buckets"]}
        assert names == {"data", "runs"}
        s3_buckets.check("runs", url)  # what `soundflow server mlflow` asks: answered
        with pytest.raises(s3_buckets.BucketMissing, match=f"^bucket nope does not exist at {url}: create it"):
            s3_buckets.check("nope", url)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert port_free(port)


@pytest.mark.parametrize("name", ["Not_Valid", "ab", "-data", "a" * 64])
def test_a_name_that_is_no_bucket_name_is_refused_before_the_server_starts(name: str) -> None:
    port = servers.free_port()  # moto itself would accept any of these, and S3 none
    code, lines = finished(soundflow("server", "s3", "--port", str(port), f"--bucket={name}"))
    assert code == 2 and lines == [
        f"soundflow: --bucket {name}: not an S3 bucket name (3 to 63 lowercase letters, digits, '.' or '-', "
        "starting and ending with a letter or digit)"
    ]
    assert port_free(port)


def test_without_moto_the_command_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "moto").mkdir()
    (tmp_path / "moto" / "__init__.py").write_text("")  # a moto without its server module
    env = dict(base_env(), PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    code, lines = finished(soundflow("server", "s3", "--port", str(servers.free_port()), env=env))
    assert code == 2 and lines == [
        "soundflow: soundflow server s3 runs moto's S3 server, which `make install` leaves out: "
        f"pip install -c requirements/constraints.txt '{servers.MOTO_REQUIREMENT}' (or `make install-test`)"
    ]


def test_the_install_hint_names_the_tests_pin() -> None:
    pins = (ROOT / "requirements" / "test.in").read_text().split()
    assert servers.MOTO_REQUIREMENT in pins


def _mlflow_server(destination: str, endpoint: str, tmp_path: Path) -> tuple[int, list[str], int]:
    port = servers.free_port()
    env = dict(base_env(), MLFLOW_S3_ENDPOINT_URL=endpoint, **S3_CREDENTIALS)
    argv = ["server", "mlflow", "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'm.db'}"]
    code, lines = finished(soundflow(*argv, "--artifacts-destination", destination, env=env))
    return code, lines, port


def test_server_mlflow_refuses_a_missing_bucket_before_it_starts(s3_server: Running, tmp_path: Path) -> None:
    code, lines, port = _mlflow_server("s3://no-such-bucket/mlflow", s3_server.url, tmp_path)
    assert code == 2 and lines == [
        f"soundflow: bucket no-such-bucket does not exist at {s3_server.url}: create it (`soundflow server s3 "
        "--bucket no-such-bucket` serves one locally; on another store `aws s3 mb s3://no-such-bucket`)"
    ]
    assert port_free(port) and not (tmp_path / "m.db").exists()  # nothing started


def test_server_mlflow_refuses_an_s3_store_that_does_not_answer(tmp_path: Path) -> None:
    gone = f"http://127.0.0.1:{servers.free_port()}"
    code, lines, _ = _mlflow_server("s3://mlflow/artifacts", gone, tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"soundflow: bucket mlflow at {gone}: the store does not answer; start it"), lines
