"""A server that is not ours is never announced as ours: a taken port is refused before anything starts, and a
server is ready only when the process we started is alive and is the one listening where the answer comes from."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundflow.pipeline.ops import servers
from tests.helpers.paths import ROOT


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held by a real listening socket of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.fixture
def foreign_http(tmp_path: Path) -> Iterator[int]:
    """Another program's HTTP server, answering every health URL the project's servers use."""
    for health in ("health", "api/health", "moto-api/index.html"):
        (tmp_path / "www" / health).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "www" / health).write_text("OK")
    port = servers.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(tmp_path / "www")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not servers._answers(f"http://127.0.0.1:{port}/health"):
            assert time.monotonic() < deadline and proc.poll() is None, "the foreign server did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("which", ["mlflow", "prefect", "s3"])
def test_server_command_refuses_a_taken_port(board, taken_port: int, which: str) -> None:
    board.tried("fault")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "soundflow", "server", which, "--port", str(taken_port), "--timeout", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    clear = proc.returncode != 0 and "Traceback" not in out and len(lines) == 1
    board.harm("stale_served", int("server ready" in out))  # another program's server announced as ours
    board.harm("unclear", int(not clear))
    assert "server ready" not in out and "MLFLOW_TRACKING_URI" not in out, out
    assert proc.returncode != 0, out
    assert f"127.0.0.1:{taken_port} is already in use" in lines[-1] and "Traceback" not in out, out
    assert len(lines) == 1, out
    assert time.monotonic() - t0 < 30  # refused before any server started


def test_check_port_is_a_user_error_naming_the_address(board, taken_port: int) -> None:
    from soundflow.errors import UserError

    board.tried("fault", 2)
    spec = servers.mlflow_server("sqlite:///x.db", "/tmp/x", port=taken_port)
    with pytest.raises(UserError, match=rf"mlflow server: 127\.0\.0\.1:{taken_port} is already in use") as taken:
        servers.check_port(spec)
    elsewhere = servers.mlflow_server("sqlite:///x.db", "/tmp/x", host="192.0.2.1", port=5000)  # not this machine
    with pytest.raises(UserError, match=r"192\.0\.2\.1:5000 cannot be listened on") as foreign:
        servers.check_port(elsewhere)
    board.harm("unclear", sum("\n" in str(e.value) for e in (taken, foreign)))
    servers.check_port(servers.mlflow_server("sqlite:///x.db", "/tmp/x", port=servers.free_port()))  # a free one


@pytest.mark.slow
def test_a_foreign_answer_is_not_our_server_ready(board, foreign_http: int, tmp_path: Path) -> None:
    """The race the port check cannot close: something else answers on the port while ours starts."""
    board.tried("fault", 2)
    health = f"http://127.0.0.1:{foreign_http}/health"
    stuck = servers.ServerSpec("stuck", [sys.executable, "-c", "import time; time.sleep(60)"], {}, health, health)
    proc = servers.start(stuck, tmp_path / "stuck.log")
    try:
        t0 = time.monotonic()
        with pytest.raises(servers.ServerTimeout, match=f"another process answers on port {foreign_http}"):
            servers.wait_ready(stuck, proc, timeout=3)
        took = time.monotonic() - t0
    finally:
        servers.stop(proc, grace=5)
    # ours fails to bind and exits: an error, never "ready" (the process being alive is not enough either)
    dies = servers.ServerSpec("dies", [sys.executable, "-c", "import time; time.sleep(1); raise SystemExit(1)"], {},
                              health, health)  # fmt: skip
    proc = servers.start(dies, tmp_path / "dies.log")
    try:
        with pytest.raises(servers.ServerExited, match="exited with status 1 before answering; another process"):
            servers.wait_ready(dies, proc, timeout=20)
    finally:
        servers.stop(proc, grace=5)
    board.harm("stale_served", 0)
    assert took < 10


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc), however deep."""
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_to_the_server_command_stops_the_server_it_started(tmp_path: Path, board, sig: str) -> None:
    """``docker stop`` / ``kill`` (SIGTERM) or Ctrl-C: the command ends and leaves no server process behind."""
    import signal

    board.tried("fault")
    port = servers.free_port()
    argv = [sys.executable, "-m", "soundflow", "server", "s3", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True)
    below: set[int] = set()
    try:
        line, deadline = "", time.monotonic() + 120
        while "ready" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
        assert "ready" in line, line
        below = _descendants(proc.pid)
        assert below, "the server command started no server"
        proc.send_signal(getattr(signal, sig))
        proc.wait(60)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in below) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = sorted(p for p in below if _alive(p))
        board.harm("files_lost", 0)
        assert not left, f"left running after {sig}: {left}"
    finally:  # whatever the outcome, nothing of this test outlives it
        for p in {proc.pid, *below, *_descendants(proc.pid)}:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        proc.wait(30)
