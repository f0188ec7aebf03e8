"""``soundflow server mlflow --backend-store-uri postgresql://...``: runs kept in a real PostgreSQL database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soundflow.pipeline.ops import servers
from tests.helpers import postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres.postgres_bin() is None, reason="no PostgreSQL binaries (apt-get install postgresql)"),
]


def test_mlflow_server_on_postgresql(tmp_path: Path, cli_env: dict[str, str]) -> None:
    pytest.importorskip("psycopg2", reason="psycopg2-binary not installed (requirements/test.in)")
    import psycopg2
    from mlflow.tracking import MlflowClient

    port = servers.free_port()
    with postgres.cluster() as uri:
        argv = [sys.executable, "-m", "soundflow", "server", "mlflow", "--port", str(port),
                "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "artifacts")]  # fmt: skip
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=cli_env, start_new_session=True)
        try:
            deadline, line = time.monotonic() + 240, ""
            while "ready" not in line and time.monotonic() < deadline and proc.poll() is None:
                line = proc.stderr.readline()
            assert f"http://127.0.0.1:{port}" in line, line
            client = MlflowClient(f"http://127.0.0.1:{port}")
            run = client.create_run(client.create_experiment("on-postgres"))
            client.log_metric(run.info.run_id, "miou", 0.25)
            with psycopg2.connect(uri) as conn, conn.cursor() as cur:  # in the database, not beside it
                cur.execute("SELECT key, value FROM metrics WHERE run_uuid = %s", (run.info.run_id,))
                assert cur.fetchall() == [("miou", 0.25)]
        finally:
            servers.os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:  # never leave it running past the test
                servers.os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
