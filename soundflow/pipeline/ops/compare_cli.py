"""``soundflow compare``: the tracked runs of a workflow's evaluation side by side (terminal, CSV, PNG)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow import env
from soundflow.pipeline.cli.command import command
from soundflow.pipeline.ops import runs  # compare (pandas) is imported by the command: `soundflow --help` stays quick


def experiment_client(root: Path, experiment: str | None) -> tuple[object, str]:
    """The MLflow client of the project's tracking store (MLFLOW_TRACKING_URI or mlruns.db) and the prefix of the
    workflows' experiments (``tracking.experiment``)."""
    from mlflow.tracking import MlflowClient

    from soundflow.pipeline.tracking import tracking_uri

    if experiment is None:
        from soundflow.pipeline.config import load_params

        experiment = load_params(root).tracking.experiment
    return MlflowClient(tracking_uri(root)), experiment


def metric_for(args: SimpleNamespace) -> str:
    if args.metric:
        return args.metric
    if args.workflow:
        return runs.DEFAULT_METRIC[args.workflow]
    raise ValueError("give --workflow or --metric (workflows: " + ", ".join(runs.workflows()) + ")")


@command(
    "compare",
    writes=False,  # only reports/compare, which no stage owns
    help="tracked runs side by side: differing params, metrics, git commit, data",
)
@click.option(
    "--workflow", type=click.Choice(runs.workflows()), help="its evaluation runs only (default: every workflow)"
)
@click.option("--metric", help="sort by this metric (default: the workflow's; a nested key's last part is enough)")
@click.option("--last", type=int, default=10, help="the N newest runs (default 10)")
@click.option("--ascending", is_flag=True, help="lower is better (losses, errors)")
@click.option(
    "--experiment",
    help="the MLflow experiments' prefix: a workflow's runs are in PREFIX/WORKFLOW (default: tracking.experiment)",
)
@click.option("--out", help="folder for the CSV and PNG (default reports/compare)")
def cmd_compare(args: SimpleNamespace) -> int:
    from soundflow.pipeline.ops import compare

    root = env.find_root()
    env.configure(root)
    try:
        metric = metric_for(args)
        client, experiment = experiment_client(root, args.experiment)
        found, keys = runs.find_runs(client, experiment, runs.measured_stages(args.workflow), metric, args.last)
    except ValueError as err:
        print(f"soundflow compare: {err}", file=sys.stderr)
        return 2
    if not found:
        print(f"soundflow compare: no finished run under {experiment!r} logged {metric!r}", file=sys.stderr)
        return 1
    df, key = compare.table(found, keys, args.ascending)
    print(f"{len(found)} run(s) of {args.workflow or 'every workflow'}, sorted by {key}:")
    print(compare.render(df))
    out = Path(args.out) if args.out else root / "reports" / "compare"
    csv, png = compare.write(df, key, out, f"{args.workflow or 'all'}_{metric}")
    print(f"wrote {csv} and {png}")
    return 0
