"""The project's servers as ``soundflow server`` starts them: ready within a bound, answering, set up right."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from soundflow.pipeline.ops import servers
from tests.helpers.servers import S3_CREDENTIALS, Running, boto3_client

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200, url
        return r.read()


def test_prefect_ui_is_told_the_real_api_address(prefect_server: Running) -> None:
    # the UI asks /ui-settings where the API is: on a port other than 4200 it must not be Prefect's default
    settings = json.loads(get(f"{prefect_server.url}/ui-settings"))
    assert settings["api_url"] == f"{prefect_server.url}/api"
    assert prefect_server.url.rsplit(":", 1)[1] != "4200"
    assert b"<html" in get(prefect_server.url + "/").lower()
    # its database in the folder it was given, not the ephemeral server's file (tests/ops/test_prefect_databases.py)
    assert (prefect_server.state / servers.PREFECT_SERVER_DB).is_file()


def test_mlflow_server_keeps_runs_in_sql_and_artifacts_on_s3(mlflow_server: Running, s3_server: Running) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    exp = client.create_experiment("servers-test")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "accuracy", 0.5)
    with mlflow.utils.file_utils.TempDir() as tmp:
        f = Path(tmp.path("note.txt"))
        f.write_text("proxied to S3 by the server")
        client.log_artifact(run.info.run_id, str(f))  # mlflow-artifacts:/ → the server → S3; no credentials here
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).data.metrics["accuracy"] == 0.5
    keys = [o["Key"] for o in boto3_client(s3_server.url).list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/note.txt") for k in keys), keys
    assert (mlflow_server.state / "mlflow.db").is_file()
    assert "testing" not in " ".join(mlflow_server.spec.argv)  # credentials never on the command line


def test_a_server_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    spec = servers.ServerSpec("broken", [sys.executable, "-c", "print('no such server'); raise SystemExit(3)"], {},
                              "http://127.0.0.1:9", "http://127.0.0.1:9/health")  # fmt: skip
    with pytest.raises(RuntimeError, match=r"(?s)broken server exited with status 3.*no such server"):
        with servers.running(spec, tmp_path / "log.txt", timeout=30):
            pass


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    spec = servers.ServerSpec("silent", [sys.executable, "-c", "import time; time.sleep(60)"], {},
                              "http://127.0.0.1:9", f"http://127.0.0.1:{servers.free_port()}/health")  # fmt: skip
    proc = servers.start(spec, tmp_path / "log.txt")
    with pytest.raises(TimeoutError, match="silent server did not answer"):
        servers.wait_ready(spec, proc, timeout=1.5, log=tmp_path / "log.txt")
    servers.stop(proc, grace=5)
    assert proc.poll() is not None


# a server whose child ignores SIGTERM: the leader ends at once, the child would run on, adopted by init
LEADER_OF_A_STUBBORN_CHILD = """
import subprocess, sys, time
child = subprocess.Popen(["sh", "-c", "trap '' TERM; echo $$; exec sleep 60"], stdout=subprocess.PIPE, text=True)
open(sys.argv[1], "w").write(child.stdout.readline())
time.sleep(60)
"""


def test_stop_ends_the_whole_process_group_not_only_its_leader(tmp_path: Path) -> None:
    import psutil

    pid_file = tmp_path / "child.pid"
    spec = servers.ServerSpec("stubborn", [sys.executable, "-c", LEADER_OF_A_STUBBORN_CHILD, str(pid_file)], {},
                              "http://127.0.0.1:9", "http://127.0.0.1:9/health")  # fmt: skip
    proc = servers.start(spec, tmp_path / "log.txt")
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "log.txt").read_text()
        time.sleep(0.05)
    child = psutil.Process(int(pid_file.read_text()))
    try:
        servers.stop(proc, grace=1)
        assert proc.poll() is not None
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, "the child outlived stop()"
    finally:
        if child.is_running():
            child.kill()


def test_server_command_starts_and_stops_on_interrupt(tmp_path: Path) -> None:
    """``soundflow server s3`` in the foreground: ready message with the URL, then stopped by SIGINT."""
    import signal
    import time

    port = servers.free_port()
    env = dict(servers.os.environ, **S3_CREDENTIALS)
    proc = subprocess.Popen([sys.executable, "-m", "soundflow", "server", "s3", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        line = ""
        while "ready" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}" in line, line
        assert get(f"http://127.0.0.1:{port}/moto-api/")
        boto3_client(f"http://127.0.0.1:{port}").head_bucket(Bucket="soundflow")  # the bucket it serves, made
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/moto-api/")
