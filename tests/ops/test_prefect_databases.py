"""`soundflow server prefect` and the ephemeral server of a run without PREFECT_API_URL keep separate databases,
even under one PREFECT_HOME (the project's .soundflow/prefect): a run of one never lands in the other's.

The server's history from older versions, kept in the file that is now the ephemeral server's, is copied to the
server's own database on its first start, once, and never while a process holds the old file open."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from soundflow.pipeline.ops import prefect_history, servers
from tests.helpers.paths import ROOT
from tests.helpers.prefect_api import client_of
from tests.helpers.servers import Running, base_env

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

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
    prefect_server: Running, tmp_path: Path
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
    # the same file as an older version's server left it, in a project of its own: its run shows on the new server
    upgraded = tmp_path / "upgraded"
    upgraded.mkdir()
    with closing(sqlite3.connect(home / "prefect.db")) as src, closing(sqlite3.connect(upgraded / "prefect.db")) as dst:
        src.backup(dst)
    log = _soundflow_server_prefect(upgraded, tmp_path / "upgraded.log", lambda api: _flow_run_names(api, name))
    assert "copied the server's history" in log.read_text()


def _flow_run_names(api: str, name: str) -> list[str]:
    body = json.dumps({"flow_runs": {"name": {"any_": [name]}}}).encode()
    req = urllib.request.Request(f"{api}/flow_runs/filter", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return [run["name"] for run in json.load(r)]


def _soundflow_server_prefect(home: Path, log: Path, check) -> Path:
    """Start `soundflow server prefect` with PREFECT_HOME ``home``, assert ``check(api)`` once it answers, stop it."""
    spec = servers.prefect_server(home, port=servers.free_port())
    env = dict(base_env(), PREFECT_HOME=str(home), PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "soundflow", "server", "prefect", "--port", str(spec.listen[1])]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        servers.wait_ready(spec, proc, 180, log)
        assert check(f"{spec.url}/api"), log.read_text()[-3000:]
    finally:
        servers.stop(proc)  # SIGTERM: the command stops its server on its way out
    return log


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


def _old_database(home: Path, runs: list[str]) -> Path:
    """A tiny SQLite file where an older version's server kept its history (WAL mode, as Prefect opens it)."""
    home.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(home / prefect_history.OLD_SERVER_DB)) as db:
        db.execute("pragma journal_mode = wal")
        db.execute("create table flow_run (name text)")
        db.executemany("insert into flow_run values (?)", [(r,) for r in runs])
        db.commit()
    return home / prefect_history.OLD_SERVER_DB


def _runs(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as c:
        return [r for (r,) in c.execute("select name from flow_run order by name")]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_history_of_an_older_server_is_copied_once(tmp_path: Path) -> None:
    old = _old_database(tmp_path, ["run-a", "run-b"])
    new = tmp_path / servers.PREFECT_SERVER_DB
    before = _digest(old)
    said = prefect_history.carry_over(tmp_path)
    assert said and str(old) in said and str(new) in said
    assert _runs(new) == ["run-a", "run-b"]
    assert _digest(old) == before  # the ephemeral server's file is read, not changed
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name, new.name]  # no temporary file left
    # from now on each server writes its own file; the next start copies nothing
    with closing(sqlite3.connect(new)) as db:
        db.execute("insert into flow_run values ('served-after')")
        db.commit()
    with closing(sqlite3.connect(old)) as db:
        db.execute("insert into flow_run values ('ephemeral-after')")
        db.commit()
    assert prefect_history.carry_over(tmp_path) is None
    assert _runs(new) == ["run-a", "run-b", "served-after"]


def test_nothing_is_copied_without_an_old_database(tmp_path: Path) -> None:
    assert prefect_history.carry_over(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # no empty server.db that would stop a later copy


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("select count(*) from flow_run").fetchone()
print("open", flush=True)
time.sleep(120)
"""


def test_the_copy_is_refused_while_a_process_holds_the_old_database(tmp_path: Path) -> None:
    old = _old_database(tmp_path, ["run-a"])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(old)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(prefect_history.DatabaseInUse, match=rf"{old.name} is open in .*pid {holder.pid}"):
            prefect_history.carry_over(tmp_path)
        assert not (tmp_path / servers.PREFECT_SERVER_DB).exists()
    finally:
        holder.kill()
        holder.wait(10)
    assert prefect_history.carry_over(tmp_path)  # once it has let go
    assert _runs(tmp_path / servers.PREFECT_SERVER_DB) == ["run-a"]
