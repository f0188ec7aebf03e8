"""The project's servers: Prefect (API + UI), MLflow tracking (SQL backend, artifacts local or on S3), an S3 store.

Each is a :class:`ServerSpec`: the command line, the environment it needs and the URL that answers when it is
ready. :func:`running` starts one as a subprocess, waits for it with a bound and stops it on exit, whatever
happened; the CLI (``soundflow server ...``) and the tests use the same definitions.

A server is announced ready only when it is the one started here: its port was free before it started
(:func:`check_port`), its process is alive, and the process listening on the port that answers is it or one of
its children -- another program already on the port would otherwise answer the health check for it.

Why the Prefect server is given ``PREFECT_UI_API_URL``: the UI is a single-page app that calls the API at the address
the server tells it (``/ui-settings``); Prefect's default is ``http://127.0.0.1:4200/api`` whatever port the
server was started on, so a server on another port shows "Can't connect to Server API" until it is set.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from soundflow.errors import UserError

# a server asked to listen on every interface is still reached through the loopback from this machine
_WILDCARDS = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    url: str  # the base address clients use
    health_url: str
    ui_url: str = ""
    notes: list[str] = field(default_factory=list)  # what a user exports to point runs at it
    listen: tuple[str, int] | None = None  # the interface and port it binds: checked free before it starts


class PortUnavailable(UserError, OSError):
    """The port a server is asked to listen on is taken (or the interface is not this machine's)."""


class ServerExited(UserError, RuntimeError):
    """The server's process ended before it answered."""


class ServerTimeout(UserError, TimeoutError):
    """The server did not answer within the bound."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in _WILDCARDS else host


def _exe(name: str) -> str:
    """A console script of this environment (the venv's own, whatever PATH says)."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


PREFECT_SERVER_DB = "server.db"


def prefect_server(home: Path, host: str = "127.0.0.1", port: int = 4200, public_url: str | None = None) -> ServerSpec:
    """Prefect's API and UI, its SQLite database ``server.db`` under ``home`` (the project's ``.soundflow/prefect``):
    not Prefect's default ``prefect.db`` there, which the ephemeral server of a run without PREFECT_API_URL uses
    (and older versions' server did: ``soundflow server prefect`` copies that history over once, prefect_history)."""
    base = (public_url or f"http://{_client_host(host)}:{port}").rstrip("/")
    api = f"{base}/api"
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": api,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{Path(home).resolve() / PREFECT_SERVER_DB}",
    }
    argv = [_exe("prefect"), "server", "start", "--host", host, "--port", str(port)]
    notes = [f"export PREFECT_API_URL={api}"]
    health = f"http://{_client_host(host)}:{port}/api/health"
    return ServerSpec("prefect", argv, env, base, health, base, notes, (host, port))


def mlflow_server(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
) -> ServerSpec:
    """MLflow's tracking server: runs and the model registry in a SQL database, artifacts proxied by the server.

    ``artifacts_destination`` is a folder or ``s3://bucket/prefix``; for S3 the server reads the endpoint
    (``MLFLOW_S3_ENDPOINT_URL``) and the credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) from its
    environment only, so they never appear on a command line, in params or in MLflow.
    """
    url = f"http://{_client_host(host)}:{port}"
    argv = [
        _exe("mlflow"), "server", "--host", host, "--port", str(port), "--workers", str(workers),
        "--backend-store-uri", backend_store_uri,
        "--serve-artifacts", "--artifacts-destination", artifacts_destination,
    ]  # fmt: skip
    if host in _WILDCARDS:  # MLflow's host-header check would refuse the addresses clients use
        argv += ["--allowed-hosts", "*"]
    env = {"MLFLOW_DISABLE_TELEMETRY": "true"}
    notes = [f"export MLFLOW_TRACKING_URI={url}"]
    return ServerSpec("mlflow", argv, env, url, f"{url}/health", url, notes, (host, port))


# moto's server is a test requirement (requirements/test.in pins it; `make install` leaves it out): the pin said
# to a user whose environment lacks it, checked against test.in by tests/ops/test_s3_server_cli.py
MOTO_REQUIREMENT = "moto[server]==5.2.5"


class ServerMissing(UserError, ModuleNotFoundError):
    """The package a server runs from is not installed; the message says which to install."""


def s3_server(host: str = "127.0.0.1", port: int = 5001) -> ServerSpec:
    """moto's S3-compatible server (the same API MinIO answers), in memory: for tests and trying S3 locally."""
    url = f"http://{_client_host(host)}:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
    notes = [f"export MLFLOW_S3_ENDPOINT_URL={url} AWS_ENDPOINT_URL={url}"]
    return ServerSpec("s3", argv, {}, url, f"{url}/moto-api/", "", notes, (host, port))


def require_moto() -> None:
    """Refuses in one line, naming what to install, when moto's server cannot be imported."""
    import importlib.util

    try:
        found = importlib.util.find_spec("moto.server") is not None
    except ImportError:  # no moto at all
        found = False
    if not found:
        raise ServerMissing(
            "soundflow server s3 runs moto's S3 server, which `make install` leaves out: "
            f"pip install -c requirements/constraints.txt '{MOTO_REQUIREMENT}' (or `make install-test`)"
        )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return 200 <= r.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"


def check_port(server: ServerSpec) -> None:
    """Refuses, in one sentence, to start ``server`` on a port another process holds (a bind test, as it binds)."""
    if server.listen is None:
        return
    host, port = server.listen
    where = _address(host, port)
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no owner
            s.bind(addr)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            why = "is already in use by another process; stop it or choose another --port"
        else:
            why = f"cannot be listened on ({(err.strerror or str(err)).lower()})"
        raise PortUnavailable(f"cannot start the {server.name} server: {where} {why}") from err


def _listens(proc: subprocess.Popen, port: int) -> bool:
    """Whether ``proc`` or one of its children listens on ``port`` (True when that cannot be told)."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        for p in [parent, *parent.children(recursive=True)]:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in p.net_connections("inet")):
                return True
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return True  # the other checks (alive, answering, port free at start) stand
    return False


def _tail(log: Path | None) -> str:
    return ":\n" + log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def wait_ready(server: ServerSpec, proc: subprocess.Popen, timeout: float, log: Path | None = None) -> float:
    """Seconds until ``server`` answers, as the process ``proc`` (alive, listening on the port that answers);
    a clear error if the process dies or the bound passes."""
    port = urllib.parse.urlsplit(server.health_url).port
    other = ""  # set when something answers that is not ours
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise ServerExited(
                f"{server.name} server exited with status {proc.returncode} before answering{other}{_tail(log)}"
            )
        if _answers(server.health_url):
            if port is None or _listens(proc, port):
                if proc.poll() is None:
                    return time.monotonic() - t0
                continue
            other = f"; another process answers on port {port}"
        time.sleep(0.25)
    raise ServerTimeout(
        f"{server.name} server did not answer {server.health_url} within {timeout:.0f} s{other} (log: {log})"
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member that changed its user is still a member
        return True
    return True


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to the server's whole process group (uvicorn/gunicorn workers too), SIGKILL after ``grace``.

    Done when the group is empty, not when ``proc`` has exited: a child that outlives its parent is adopted by
    init and would run on unowned (a Prefect worker whose ``soundflow worker`` ended at once on SIGTERM).
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # started with start_new_session: the group is the process's own
        except ProcessLookupError:  # nothing left in the group
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.1)
    if proc.poll() is None:  # not a group leader: the process alone
        proc.kill()
        proc.wait(grace)


def stop_on_signals() -> None:
    """SIGTERM (docker stop, systemd, kill) and SIGHUP end this command through its ``finally``, as Ctrl-C does.

    For a command that starts a server or worker: Python's default SIGTERM would end this process at once and
    leave its child running with no parent. A SIGINT ignored since start-up (a shell's background job) is
    listened to as well. The KeyboardInterrupt raised carries the signal's name.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, interrupt)


def start(server: ServerSpec, log: Path, base_env: dict[str, str] | None = None) -> subprocess.Popen:
    check_port(server)
    env = dict(os.environ if base_env is None else base_env)
    env.update(server.env)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own handle
        return subprocess.Popen(server.argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def running(
    server: ServerSpec, log: Path, timeout: float = 120.0, base_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, float]]:
    """The server, started and ready (with the seconds it took); stopped on exit, whatever happened."""
    proc = start(server, log, base_env)
    try:
        yield proc, wait_ready(server, proc, timeout, log)
    finally:
        stop(proc)
