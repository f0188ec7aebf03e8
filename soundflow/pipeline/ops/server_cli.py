"""``soundflow server prefect|mlflow|s3``: one of the project's servers in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from soundflow import env
from soundflow.pipeline.ops import servers

DEFAULT_PORTS = {"prefect": 4200, "mlflow": 5000, "s3": 5001}


def spec_for(args: argparse.Namespace, root: Path) -> servers.ServerSpec:
    port = args.port or DEFAULT_PORTS[args.which]
    if args.which == "prefect":
        return servers.prefect_server(Path(os.environ["PREFECT_HOME"]), args.host, port, args.public_url)
    if args.which == "mlflow":
        backend = args.backend_store_uri or f"sqlite:///{(root / 'mlruns.db').resolve()}"
        artifacts = args.artifacts_destination or (root / "mlartifacts").resolve().as_uri()
        if backend.startswith("sqlite:///"):  # SQLite creates the file, not its folder
            Path(backend.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return servers.mlflow_server(backend, artifacts, args.host, port, args.workers)
    return servers.s3_server(args.host, port)


def cmd_server(args: argparse.Namespace) -> int:
    root = env.find_root()
    env.configure(root)
    server = spec_for(args, root)
    servers.check_port(server)  # a refusal before anything starts: another program's server is never announced
    environ = dict(os.environ, **server.env)
    # the server runs in a session of its own (so a Ctrl-C meant for this terminal reaches it only through us)
    servers.stop_on_signals()
    proc = subprocess.Popen(server.argv, env=environ, start_new_session=True)  # its output is this terminal's
    try:
        took = servers.wait_ready(server, proc, args.timeout)  # ours: alive and listening where it answers
        print(f"soundflow: {server.name} server ready in {took:.1f} s at {server.url}", file=sys.stderr)
        for line in server.notes:
            print(f"soundflow:   {line}", file=sys.stderr)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        servers.stop(proc)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="start the Prefect server (API + UI), the MLflow tracking server or an S3 store")
    p.add_argument("which", choices=sorted(DEFAULT_PORTS))
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, help="default: prefect 4200, mlflow 5000, s3 5001")
    p.add_argument("--public-url", help="prefect: the address browsers reach it at (default http://HOST:PORT)")
    p.add_argument("--backend-store-uri", help="mlflow: SQL database (default sqlite:///mlruns.db; postgresql://...)")
    p.add_argument("--artifacts-destination", help="mlflow: folder or s3://bucket/prefix (default ./mlartifacts)")
    p.add_argument("--workers", type=int, default=1, help="mlflow: server worker processes")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the server to answer")
    p.set_defaults(fn=cmd_server, writes=False)
