"""``soundflow compare``: the tracked runs of a workflow's evaluation side by side (terminal, CSV, PNG)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soundflow import env
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


def metric_for(args: argparse.Namespace) -> str:
    if args.metric:
        return args.metric
    if args.workflow:
        return runs.DEFAULT_METRIC[args.workflow]
    raise ValueError("give --workflow or --metric (workflows: " + ", ".join(runs.workflows()) + ")")


def cmd_compare(args: argparse.Namespace) -> int:
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="tracked runs side by side: differing params, metrics, git commit, data")
    p.add_argument("--workflow", choices=runs.workflows(), help="its evaluation runs only (default: every workflow)")
    p.add_argument("--metric", help="sort by this metric (default: the workflow's; a nested key's last part is enough)")
    p.add_argument("--last", type=int, default=10, help="the N newest runs (default 10)")
    p.add_argument("--ascending", action="store_true", help="lower is better (losses, errors)")
    p.add_argument(
        "--experiment",
        help="the MLflow experiments' prefix: a workflow's runs are in PREFIX/WORKFLOW (default: tracking.experiment)",
    )
    p.add_argument("--out", help="folder for the CSV and PNG (default reports/compare)")
    p.set_defaults(fn=cmd_compare, writes=False)  # only reports/compare, which no stage owns
