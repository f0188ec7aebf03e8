"""``soundflow server prefect|mlflow|s3``: one of the project's servers in the foreground, until Ctrl-C.

``s3`` serves the buckets it is given (``--bucket``, default the one the README's DVC remote names); ``mlflow``
with artifacts on ``s3://BUCKET/...`` first asks the store whether BUCKET exists (pipeline/ops/s3_buckets.py);
``prefect`` first carries an older version's history over to its own database (pipeline/ops/prefect_history.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow import env
from soundflow.pipeline.cli.command import command
from soundflow.pipeline.ops import prefect_history, s3_buckets, servers

DEFAULT_PORTS = {"prefect": 4200, "mlflow": 5000, "s3": 5001}


def spec_for(args: SimpleNamespace, root: Path) -> servers.ServerSpec:
    port = args.port or DEFAULT_PORTS[args.which]
    if args.which == "prefect":
        return servers.prefect_server(Path(os.environ["PREFECT_HOME"]), args.host, port, args.public_url)
    if args.which == "mlflow":
        backend = args.backend_store_uri or f"sqlite:///{(root / 'mlruns.db').resolve()}"
        artifacts = args.artifacts_destination or (root / "mlartifacts").resolve().as_uri()
        if backend.startswith("sqlite:///"):  # SQLite creates the file, not its folder
            Path(backend.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return servers.mlflow_server(backend, artifacts, args.host, port, args.workers)
    servers.require_moto()
    s3_buckets.check_names(args.bucket or [])  # before it starts: moto would serve a name no S3 store accepts
    return servers.s3_server(args.host, port)


def check_artifact_store(args: SimpleNamespace) -> None:
    """An MLflow server's S3 bucket, asked for where the server will look for it (MLFLOW_S3_ENDPOINT_URL)."""
    bucket = s3_buckets.bucket_of(args.artifacts_destination or "")
    if args.which == "mlflow" and bucket:
        s3_buckets.check(bucket, os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)


def serve_buckets(args: SimpleNamespace, server: servers.ServerSpec) -> list[str]:
    """The buckets of ``soundflow server s3``, made; the lines that tell a user how to use them."""
    if args.which != "s3":
        return []
    buckets = args.bucket or [s3_buckets.DEFAULT_BUCKET]
    s3_buckets.create(server.url, buckets)
    first = buckets[0]
    return [
        f"bucket(s) {', '.join(buckets)} made (in memory: gone when this server stops)",
        f"dvc remote add -d storage s3://{first}/dvc && dvc remote modify storage endpointurl {server.url}",
        f"soundflow server mlflow --artifacts-destination s3://{first}/mlflow   # with the export above",
        "moto accepts any credentials: export AWS_ACCESS_KEY_ID=soundflow-local AWS_SECRET_ACCESS_KEY=soundflow-local",
    ]


@command(
    "server",
    writes=False,
    help="start the Prefect server (API + UI), the MLflow tracking server or an S3 store",
)
@click.argument("which", type=click.Choice(sorted(DEFAULT_PORTS)))
@click.option("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every interface)")
@click.option("--port", type=int, help="default: prefect 4200, mlflow 5000, s3 5001")
@click.option("--public-url", help="prefect: the address browsers reach it at (default http://HOST:PORT)")
@click.option("--backend-store-uri", help="mlflow: SQL database (default sqlite:///mlruns.db; postgresql://...)")
@click.option("--artifacts-destination", help="mlflow: folder or s3://bucket/prefix (default ./mlartifacts)")
@click.option("--workers", type=int, default=1, help="mlflow: server worker processes")
@click.option(
    "--bucket",
    multiple=True,
    metavar="NAME",
    help=f"s3: a bucket to make and serve (repeatable; default {s3_buckets.DEFAULT_BUCKET})",
)
@click.option("--timeout", type=float, default=180.0, help="seconds to wait for the server to answer")
def cmd_server(args: SimpleNamespace) -> int:
    root = env.find_root()
    env.configure(root)
    server = spec_for(args, root)
    servers.check_port(server)  # a refusal before anything starts: another program's server is never announced
    check_artifact_store(args)  # a missing bucket said now, not as its clients' "Max retries exceeded"
    if args.which == "prefect":  # after the port check: an older server still on this port is refused first
        if copied := prefect_history.carry_over(Path(server.env["PREFECT_HOME"])):
            print(f"soundflow: {copied}", file=sys.stderr)
    environ = dict(os.environ, **server.env)
    # the server runs in a session of its own (so a Ctrl-C meant for this terminal reaches it only through us)
    servers.stop_on_signals()
    proc = subprocess.Popen(server.argv, env=environ, start_new_session=True)  # its output is this terminal's
    try:
        took = servers.wait_ready(server, proc, args.timeout)  # ours: alive and listening where it answers
        made = serve_buckets(args, server)
        print(f"soundflow: {server.name} server ready in {took:.1f} s at {server.url}", file=sys.stderr)
        for line in [*server.notes, *made]:
            print(f"soundflow:   {line}", file=sys.stderr)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        servers.stop(proc)
