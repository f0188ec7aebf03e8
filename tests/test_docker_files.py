"""The Dockerfile, docker-compose.yml and .dockerignore, checked without a Docker engine (none runs here): hadolint,
the image's structure, its HEALTHCHECK command and entrypoint run for real, every compose service's command parsed
by the soundflow CLI's own parser, every mount point created, and the build context holding exactly the clone."""

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

import click
import pytest
import yaml

from flows.pipeline import FLOWS
from soundflow.pipeline.cli import app
from tests.helpers.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = "deploy/docker/entrypoint.sh"
WORKDIR = "/soundflow"


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
    assert set(volume) == {f"{WORKDIR}/{p}" for p in ("data", "outputs", "reports", ".dvc", ".soundflow")}
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
    assert command[0] == "soundflow", command
    try:
        parsed, _ = app.parse(command[1:])  # the CLI's own parser: subcommand, options, choices
    except click.UsageError as err:
        raise AssertionError(f"service {name}: `{' '.join(command)}` is not a soundflow command: {err}") from err
    assert parsed.name == command[1]


def _created_dirs() -> set[str]:
    """Folders the Dockerfile's `mkdir -p` makes after its last USER (so owned by the image's user), with parents."""
    ins = _instructions()
    user = max(k for k, (i, _) in enumerate(ins) if i == "USER")
    made: set[str] = set()
    for _, args in ins[user:]:
        for m in re.finditer(r"mkdir -p ((?:[\w./-]+ ?)+)", args):
            for d in m.group(1).split():
                made |= {d, *(str(p) for p in Path(d).parents if str(p) != ".")}
    return made


def _lock_target() -> str:
    (target,) = re.findall(r"ln -sf (\S+) dvc\.lock", DOCKERFILE.read_text())
    return target


def test_every_path_compose_or_the_image_mounts_is_created_by_the_dockerfile() -> None:
    """A mount point missing from the image is created by Docker as root: a new volume there is not writable
    by the image's user. And the state the issue names lives on volumes: dvc.lock, DVC's cache and config, reports."""
    compose = _compose()
    mounts = {a for i, a in _instructions() if i == "VOLUME" for a in json.loads(a)}
    for name, s in compose["services"].items():
        for vol in s.get("volumes", []):
            source, target = vol.split(":")[:2]
            assert source in compose["volumes"], (name, vol)  # a named volume, never a path of the host
            mounts.add(target)
    assert all(m.startswith(f"{WORKDIR}/") for m in mounts), mounts
    assert {m.removeprefix(f"{WORKDIR}/") for m in mounts} <= _created_dirs()
    workflow = {v.split(":")[1] for v in compose["services"]["aed"]["volumes"]}
    assert {f"{WORKDIR}/{p}" for p in ("data", "outputs", "reports", ".dvc", ".soundflow")} <= workflow
    assert f"{WORKDIR}/{Path(_lock_target()).parent}" in workflow  # dvc.lock, through the image's link
    assert "ENTRYPOINT" in dict(_instructions()) and ENTRYPOINT in dict(_instructions())["ENTRYPOINT"]


def _entrypoint_project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A DVC project laid out as the image is: dvc.lock a link into an empty .soundflow/, the entrypoint in place."""
    proj = tmp_path / "image"
    (proj / "deploy/docker").mkdir(parents=True)
    shutil.copyfile(ROOT / ENTRYPOINT, proj / ENTRYPOINT)
    (proj / ".soundflow").mkdir()
    (proj / "dvc.lock").symlink_to(_lock_target())
    (proj / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo hi > a.txt\n    outs: [a.txt]\n")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, timeout=60)
    return proj


@pytest.mark.slow
def test_the_entrypoint_gives_a_fresh_state_volume_a_lock_dvc_accepts(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proj = _entrypoint_project(tmp_path, cli_env)

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        argv = ["sh", str(proj / ENTRYPOINT), *cmd]
        return subprocess.run(argv, cwd=proj, env=cli_env, capture_output=True, text=True, timeout=120)

    bare = subprocess.run(["dvc", "status"], cwd=proj, env=cli_env, capture_output=True, text=True, timeout=120)
    assert bare.returncode != 0  # what a fresh volume meets without the entrypoint: DVC refuses the dangling link
    status = run("dvc", "status")  # the command runs, after the seeding
    assert status.returncode == 0 and "a:" in status.stdout, status.stdout + status.stderr
    assert (proj / "dvc.lock").is_symlink() and (proj / _lock_target()).is_file()
    assert run("dvc", "repro", "-q").returncode == 0
    recorded = (proj / _lock_target()).read_text()
    assert "a.txt" in recorded and (proj / "dvc.lock").is_symlink()  # DVC wrote through the link, onto the volume
    assert run("true").returncode == 0 and (proj / _lock_target()).read_text() == recorded  # an existing lock: kept
    assert run("sh", "-c", "exit 3").returncode == 3  # the command's own exit status


def test_an_exported_step_replaces_the_dangling_link_with_its_received_lock(tmp_path: Path) -> None:
    """Argo and Kubeflow steps set their own command (no entrypoint): `handoff receive` writes dvc.lock itself."""
    from soundflow.pipeline.export import handoff

    (tmp_path / ".soundflow").mkdir()
    (tmp_path / "dvc.lock").symlink_to(_lock_target())
    handoff.receive(tmp_path, [])
    assert yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"] == {}


def _context(tmp_path: Path, files: list[str]) -> set[str]:
    """The files `docker build` sends from a context holding ``files`` (Docker's .dockerignore rules, as the
    Docker SDK for Python implements them)."""
    from docker.utils.build import exclude_paths

    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    patterns = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return {p for p in exclude_paths(str(tmp_path), patterns) if (tmp_path / p).is_file()}


def _local_state() -> list[str]:
    """What a checkout accumulates that a clone does not have: every stage output, DVC's and the servers' state."""
    from soundflow.pipeline import dag
    from soundflow.pipeline.config import read_params_yaml
    from soundflow.pipeline.stages import STAGES

    raw = read_params_yaml(ROOT / "params.yaml")
    outs = {dag.resolve(o, raw).rstrip("/") for s in STAGES for o in s.all_outs}
    state = [
        ".venv/bin/python", ".soundflow/prefect/prefect.db", ".soundflow/test-artifacts/browser/x.png", "mlruns.db",
        "mlruns/0/meta.yaml", "mlartifacts/1/x.bin", "data/raw/esc50/a.wav", "data/datasets/x.csv", "dvc.lock",
        ".dvc/cache/files/md5/00/x", ".dvc/tmp/rwlock", ".dvc/config.local", "soundflow/__pycache__/io.cpython-311.pyc",
        "soundflow.egg-info/PKG-INFO", ".pytest_cache/v/x", ".ruff_cache/x", ".hypothesis/x",
    ]  # fmt: skip
    return state + [f"{o}/x.bin" for o in outs]


def test_dockerignore_keeps_the_clone_and_leaves_local_state_out(tmp_path: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    # not those deleted in the working tree; the entrypoint the image runs, even before its first commit
    tracked = sorted({f for f in tracked if (ROOT / f).is_file()} | {ENTRYPOINT})
    state = _local_state()
    assert not set(state) & set(tracked)
    sent = _context(tmp_path, tracked + state)
    assert sorted(set(tracked) - sent) == []  # the image has every file a clone has
    assert sorted(set(state) & sent) == []  # and none of the checkout's state
    assert {"reports/real/us8k_aed.md", ".dvc/config", "data.dvc", "Dockerfile", ENTRYPOINT} <= sent
