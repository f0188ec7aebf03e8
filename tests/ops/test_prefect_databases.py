"""`soundflow server prefect` and the ephemeral server of a run without PREFECT_API_URL keep separate databases,
even under one PREFECT_HOME (the project's .soundflow/prefect): a run of one never lands in the other's."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from soundflow.pipeline.ops import servers
from tests.helpers.paths import ROOT
from tests.helpers.prefect_api import client_of
from tests.helpers.servers import Running, base_env

EPHEMERAL_RUN = """
from prefect import flow


@flow(name="ephemeral-db-check")
def check() -> str:
    from prefect.runtime import flow_run

    return flow_run.get_name()


print(check())
"""


@pytest.mark.slow  # an ephemeral server's first start migrates a new database: 20 to 45 s here
def test_the_ephemeral_server_does_not_share_the_database_of_soundflow_server_prefect(
    prefect_server: Running,
) -> None:
    home = prefect_server.state  # the session's server: started as `soundflow server prefect` starts it
    assert (home / servers.PREFECT_SERVER_DB).is_file() and not (home / "prefect.db").exists()
    env = dict(base_env(), PREFECT_HOME=str(home), PYTHONPATH=str(ROOT))  # no PREFECT_API_URL: ephemeral
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    out = subprocess.run([sys.executable, "-c", EPHEMERAL_RUN], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    name = out.stdout.split()[-1]
    with sqlite3.connect(home / "prefect.db") as db:  # Prefect's default file under the same home
        assert db.execute("select count(*) from flow_run where name = ?", (name,)).fetchone() == (1,)
    with client_of(prefect_server) as client:  # the server never saw it
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

        assert client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))) == []


SETTING = (
    "from prefect.settings import get_current_settings as s; "
    "print(s().server.database.connection_url.get_secret_value())"
)


def _database(env: dict[str, str]) -> str:
    """The database a Prefect server started with ``env`` opens, as Prefect's own settings resolve it."""
    out = subprocess.run([sys.executable, "-c", SETTING], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_each_server_resolves_its_own_database_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ephemeral = dict(base_env(), PREFECT_HOME=str(home))
    for k in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
        ephemeral.pop(k, None)
    spec = servers.prefect_server(home, port=servers.free_port())
    served = dict(ephemeral, **spec.env)  # as servers.start gives the server its environment
    assert _database(ephemeral).endswith(f"{home}/prefect.db")
    assert _database(served).endswith(f"{home}/{servers.PREFECT_SERVER_DB}")
