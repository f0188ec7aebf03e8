"""``soundflow serve`` and ``soundflow worker``: the flows as Prefect deployments, run on schedule or from the UI.

``serve`` makes one deployment per flow (schedules from params.yaml) and executes their runs in this process
until Ctrl-C. ``worker`` is the other way, for deployments made by ``prefect deploy --all`` from prefect.yaml:
it creates the process work pool if missing and starts a Prefect worker on it. Both talk to the server at
PREFECT_API_URL and set nothing else behind the user's back.
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

SHUTDOWN_GRACE_SECONDS = 15.0
DEFAULT_POOL = "soundflow-process"  # the work pool prefect.yaml's deployments name


def describe(d: object) -> str:
    """A served deployment's schedule for the terminal: its next run, or why there is none."""
    from soundflow.pipeline.ops.deployments import next_run

    schedules = getattr(d, "schedules", None) or []
    if not schedules:
        return "no schedule (runs start from the UI or `prefect deployment run`)"
    s = schedules[0].schedule
    cron = getattr(s, "cron", None)
    what = f"cron {cron!r} {s.timezone or 'UTC'}" if cron else f"every {s.interval.total_seconds():g} s"
    if not schedules[0].active:
        return f"{what}, paused (switch it on in params.yaml or the UI)"
    when = next_run(s)
    return f"{what}, next run {when:%Y-%m-%d %H:%M:%S %Z}" if when else f"{what}, no run ahead"


@command(
    "serve",
    writes=False,  # each flow run takes the workspace lock itself
    help="serve every flow as a Prefect deployment (schedules from params.yaml)",
)
@click.option("--flow", multiple=True, help="serve only this flow, by a name `soundflow list` shows (repeatable)")
@click.option("--limit", type=int, default=1, help="flow runs at once (default 1: stages share the CPU)")
def cmd_serve(args: SimpleNamespace) -> int:
    from soundflow.pipeline.ops import deployments  # the parameter models: imported by the command, not by the parser

    root = env.find_root()
    env.configure(root)
    try:
        url = deployments.api_url()
    except deployments.NoPrefectServer as err:
        print(f"soundflow serve: {err}", file=sys.stderr)
        return 1
    os.chdir(root)  # the deployments' entrypoints (flows/pipeline.py:...) are paths in the project
    served = deployments.runner_deployments(root, args.flow)
    for d in served:
        print(f"soundflow serve: {d.flow_name}/{d.name}: {describe(d)}", file=sys.stderr)
    print(f"soundflow serve: {len(served)} deployment(s) on {url}; Ctrl-C stops", file=sys.stderr)
    from prefect import serve

    serve(*served, limit=args.limit, print_starting_message=False)
    return 0


def ensure_pool(name: str) -> bool:
    """Create the process work pool ``name`` unless it exists; True if it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True
    if pool.type != "process":
        raise ValueError(f"work pool {name!r} exists with type {pool.type!r}, not 'process'")
    return False


@command("worker", writes=False, help="start a Prefect worker on the process pool of prefect.yaml's deployments")
@click.option("--pool", default=DEFAULT_POOL, help=f"work pool (created if missing; default {DEFAULT_POOL})")
@click.option("--limit", type=int, help="flow runs at once (default: Prefect's, unlimited)")
def cmd_worker(args: SimpleNamespace) -> int:
    from soundflow.pipeline.ops import deployments, servers

    root = env.find_root()
    env.configure(root)
    try:
        deployments.api_url()
        created = ensure_pool(args.pool)
    except (deployments.NoPrefectServer, ValueError) as err:
        print(f"soundflow worker: {err}", file=sys.stderr)
        return 1
    print(f"soundflow worker: work pool {args.pool!r} {'created' if created else 'exists'}", file=sys.stderr)
    # prefect.yaml's pull step moves each flow run to SOUNDFLOW_ROOT: this project
    environ = dict(os.environ, SOUNDFLOW_ROOT=str(root))
    prefect = Path(sys.executable).with_name("prefect")
    argv = [str(prefect) if prefect.exists() else "prefect", "worker", "start", "--pool", args.pool]
    argv += ["--type", "process"] + (["--limit", str(args.limit)] if args.limit else [])
    print(f"soundflow worker: {' '.join(argv[1:])} (flow runs in {root})", file=sys.stderr)
    servers.stop_on_signals()
    proc = subprocess.Popen(argv, cwd=root, env=environ)
    try:
        return proc.wait()
    except KeyboardInterrupt as why:
        # a Ctrl-C reached the worker too (one process group): a grace period for its shutdown, then stopped;
        # SIGTERM or SIGHUP came to this process alone: passed on at once
        first = (lambda: None) if why.args in ((), ("SIGINT",)) else proc.terminate
        for step in (first, proc.terminate, proc.kill):  # Prefect's worker can hang on SIGINT alone
            step()
            try:
                return proc.wait(SHUTDOWN_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                continue
        return 130
