"""``soundflow sync``: send the tracking calls kept offline (``.soundflow/offline``) to the MLflow server."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow import env
from soundflow.errors import UserError
from soundflow.pipeline.cli.command import command
from soundflow.pipeline.ops.sync import Journal, SyncResult, TrackingUnreachable, replay
from soundflow.pipeline.tracking import configure_bounds, experiment_id, redact, tracking_uri, unreachable


def send(root: Path, uri: str) -> SyncResult:
    """Sends the calls kept in ``root``'s offline journal to the tracking store at ``uri``."""
    from mlflow.tracking import MlflowClient

    journal = Journal(root)
    configure_bounds()
    why = unreachable(uri)
    if why:
        raise TrackingUnreachable(
            f"MLflow at {redact(uri)} is unreachable ({why}); the tracking calls kept in {journal.dir} stay there"
        )
    client = MlflowClient(uri)
    ids: dict[str, str] = {}

    def exp(name: str) -> str:
        return ids.setdefault(name, experiment_id(client, uri, root, name))

    return replay(journal, client, exp, lambda: unreachable(uri))


@command("sync", writes=False, help="send the runs kept offline while the MLflow server was unreachable")
@click.option("--to", help="tracking URI to send them to (default: MLFLOW_TRACKING_URI, else the local store)")
def cmd_sync(args: SimpleNamespace) -> int:
    root = env.find_root()
    env.configure(root)
    journal = Journal(root)
    if not journal.pending():
        print(f"soundflow: nothing to sync: no tracking calls kept in {journal.dir}", file=sys.stderr)
        return 0
    uri = args.to or tracking_uri(root)
    done = send(root, uri)
    print(f"soundflow: sent {done.runs} run(s) ({done.calls} calls) to MLflow at {redact(uri)}", file=sys.stderr)
    if done.failed:
        raise UserError(
            f"MLflow at {redact(uri)} refused {len(done.failed)} kept call(s), left in {journal.path} "
            f"(delete {journal.dir} to drop them); the first: {done.failed[0]}"
        )
    return 0
