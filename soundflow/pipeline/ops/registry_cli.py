"""``soundflow register``: each workflow's best evaluated checkpoint in the model registry, with aliases."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from soundflow import env
from soundflow.pipeline.cli.command import command
from soundflow.pipeline.ops import runs  # registry (pandas) is imported by the command: `soundflow --help` stays quick


@command(
    "register",
    writes=False,  # writes the registry only
    help="register each workflow's best evaluated checkpoint (aliases champion and candidate)",
)
@click.option(
    "--workflow", type=click.Choice(runs.workflows()), help="default: every workflow that evaluates a checkpoint"
)
@click.option("--metric", help="judge by this metric (default: the workflow's)")
@click.option("--ascending", is_flag=True, help="lower is better")
@click.option("--experiment", help="prefix of the workflows' MLflow experiments (default: tracking.experiment)")
def cmd_register(args: SimpleNamespace) -> int:
    from soundflow.pipeline.ops import registry
    from soundflow.pipeline.ops.compare_cli import experiment_client

    root = env.find_root()
    env.configure(root)
    try:
        client, experiment = experiment_client(root, args.experiment)
        done = registry.register_best(client, experiment, args.workflow, args.metric, args.ascending)
    except (ValueError, LookupError) as err:
        print(f"soundflow register: {err}", file=sys.stderr)
        return 2
    if not done:
        print(
            "soundflow register: no evaluated checkpoint to register (run an evaluation stage first)", file=sys.stderr
        )
        return 1
    for r in done:
        print(f"models:/{r.name}@{r.alias}  version {r.version}  {r.metric} = {r.value:.4f}  (run {r.run_id})")
    return 0
