"""The project's files and data: ``params`` (validate params.yaml), ``dvc-yaml``, ``reproduce`` (a workflow at its
paper's sizes), ``datasets`` (the registry) and ``download``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow.pipeline.cli.command import command, project_root


@command(
    "params",
    writes=lambda a: bool(a.apply),  # params.yaml must not change under a run
    help="validate params.yaml (after setting the values of --apply files)",
)
@click.option(
    "--apply", multiple=True, metavar="FILE", help="YAML of dotted keys to set in params.yaml first (repeatable)"
)
def cmd_params(args: SimpleNamespace) -> int:
    from soundflow.pipeline.config import PARAMS_FILE, apply_overrides, read_overrides
    from soundflow.pipeline.params_check import pending_checks, validate

    root = project_root()
    for file in args.apply or ():  # each file's values set in params.yaml, as `dvc exp run -S` per key
        overrides = read_overrides(Path(file))
        apply_overrides(root / PARAMS_FILE, overrides, Path(file))
        print(f"params.yaml: {len(overrides)} value(s) set from {file}")
    params = validate(root)  # the schema, the data locations the user brings, the parameters that must fit the data
    for note in pending_checks(params, root):
        print(f"params.yaml: {note}")
    print("params.yaml: valid")
    return 0


@command(
    "reproduce",
    writes=lambda a: not a.dry_run,
    help="a workflow at its paper's sizes on the real datasets (configs/paper/), as a DVC experiment",
)
@click.argument("workflow", help="a flow of flows/pipeline.py, or aed, localisation, transcoder")
@click.option("--dry-run", is_flag=True, help="validate, then print the dvc exp run command only")
@click.option("--name", help="the experiment's name (default paper-<workflow>)")
def cmd_reproduce(args: SimpleNamespace) -> int:
    from soundflow.pipeline import reproduce

    root = project_root()
    plan = reproduce.plan(root, args.workflow)  # the set validated, its data checked, before DVC starts
    for note in plan.notes:
        print(f"soundflow reproduce: {note}", file=sys.stderr)
    if args.dry_run:
        print(shlex.join(plan.command(args.name)))
        return 0
    return reproduce.run(root, plan, args.name)


@command(
    "dvc-yaml",
    writes=lambda a: not a.check,  # writing dvc.yaml under a run mixes DAGs
    help="write dvc.yaml from the stage declarations",
)
@click.option("--check", is_flag=True, help="only check that dvc.yaml is current")
def cmd_dvc_yaml(args: SimpleNamespace) -> int:
    from soundflow.pipeline import dag

    root = project_root()
    path = root / dag.DVC_YAML
    if args.check:
        if not path.is_file() or path.read_text() != dag.render_dvc_yaml():
            print(
                f"{path} is out of date with the stages of flows/workflows/: run `soundflow dvc-yaml`", file=sys.stderr
            )
            return 1
        print(f"{path}: matches the stages of flows/workflows/")
        return 0
    dag.write_dvc_yaml(root)
    print(f"wrote {path}")
    return 0


@command("datasets", writes=False, help="the dataset registry: name, size, licence, present locally")
def cmd_datasets(args: SimpleNamespace) -> int:
    from flows.workflows.data import DATASETS
    from tasks.datasets import registry

    root = project_root()
    places = {"data/raw": root / "data" / "raw", DATASETS: root / DATASETS}  # `soundflow download`, the DAG stage
    rows = []
    for name in registry.available():
        info = registry.get(name)
        known = [f.size for f in info.files]
        size = f"{sum(known) / 1e9:.2f} GB" if known and all(k is not None for k in known) else "?"
        where = [label for label, folder in places.items() if registry.is_present(name, folder)]
        rows.append(
            (name, size, info.licence, ("in " + ", ".join(where)) if where else "no", " (login)" if info.login else "")
        )
    w = max(len(r[0]) for r in rows)
    pw = max(7, *(len(r[3]) for r in rows))
    print(f"{'dataset':<{w}}  {'size':>9}  {'present':<{pw}}  licence")
    for name, size, licence, present, login in rows:
        print(f"{name:<{w}}  {size:>9}  {present:<{pw}}  {licence}{login}")
    return 0


@command("download", writes=True, help="fetch, verify, extract and prepare one registered dataset into data/raw")
@click.argument("name")
@click.option("--base-url", help="a mirror to fetch from instead of the published host")
def cmd_download(args: SimpleNamespace) -> int:
    from tasks.datasets import registry
    from tasks.datasets.fetch import fetch_dataset

    raw = project_root() / "data" / "raw"
    folder = fetch_dataset(args.name, raw, base_url=args.base_url)
    table = registry.prepare(args.name, raw)
    print(f"{args.name}: in {folder}; metadata table {table}")
    return 0
