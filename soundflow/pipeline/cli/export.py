"""``soundflow export argo|kfp``: the stage DAG as an Argo Workflow or a Kubeflow Pipelines v2 pipeline (YAML)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow.pipeline.cli.command import command, project_root


@command("export", writes=False, help="the stage DAG as an Argo Workflow or a Kubeflow Pipelines v2 pipeline (YAML)")
@click.argument("engine", type=click.Choice(["argo", "kfp"]))
@click.option("--out", help="file to write (default: standard output)")
@click.option("--image", default="soundflow:latest", help="image of every step (default soundflow:latest)")
@click.option("--remote", help="DVC remote to pull from and push to (default: the default remote of .dvc/config)")
def cmd_export(args: SimpleNamespace) -> int:
    import importlib

    root = project_root()
    module = importlib.import_module(
        f"soundflow.pipeline.export.{args.engine}"
    )  # argo (hera) or kfp: heavy, loaded on demand
    text = module.render(root, image=args.image, remote=args.remote)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    from soundflow.io import write_text

    write_text(Path(args.out), text)
    print(f"wrote {args.out}: the stage DAG for {args.engine} (image {args.image})", file=sys.stderr)
    return 0
