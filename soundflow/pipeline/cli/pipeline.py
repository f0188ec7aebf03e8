"""The pipeline's commands: ``run`` (a Prefect flow), ``repro`` (``dvc repro``), ``list``, ``stage`` (one stage,
the command dvc.yaml's stages call)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow.errors import UserError
from soundflow.pipeline.cli.command import command, project_root


def _sync_dvc_yaml(root: Path) -> None:
    from soundflow.pipeline import dag

    if dag.sync_dvc_yaml(root):  # code deps follow imports: an edit of the code can change them
        print(f"soundflow: regenerated {dag.DVC_YAML} from flows/workflows/ (the stages' code changed)")


@command("stage", writes=True, help="run one stage now (what dvc.yaml's commands call)")
@click.argument("name")
@click.option("--code", help="digest of the stage's code in stages.py when dvc.yaml was generated (checked)")
def cmd_stage(args: SimpleNamespace) -> int:
    from soundflow.pipeline import runner
    from soundflow.pipeline.stages import get_stage

    try:
        stage = get_stage(args.name)
    except KeyError as err:  # a typo in a command line, not a bug: no traceback
        print(f"soundflow: {err.args[0]}", file=sys.stderr)
        return 2
    if args.code is not None and args.code != stage.run_digest:
        # dvc.yaml was generated before the stage's code in soundflow/pipeline/stages.py changed: DVC's record of what
        # ran would be wrong, and other stages' code dependencies may be stale too
        print(
            f"soundflow: dvc.yaml is out of date with soundflow/pipeline/stages.py (stage {args.name}'s code changed): "
            "run `soundflow dvc-yaml`, or `soundflow repro`, which regenerates it",
            file=sys.stderr,
        )
        return 2
    try:
        runner.execute(args.name, project_root(), engine="dvc")
    except UserError as err:  # one line at the boundary; the traceback is in the stage's MLflow log
        raise StageFailed(args.name, err) from err
    args.exit_now = True  # done and recorded: the process may skip the interpreter's teardown (run_module)
    return 0


class StageFailed(UserError):
    """A stage that stopped on a user's mistake: its message and exit code, with the stage named."""

    def __init__(self, stage: str, err: UserError) -> None:
        super().__init__(f"stage {stage} failed: {err}")
        self.exit_code = err.exit_code


@command("list", writes=False, help="every stage with its status")
@click.option("-v", "--verbose", is_flag=True)
def cmd_list(args: SimpleNamespace) -> int:
    from soundflow.pipeline import dag, dvc_state
    from soundflow.pipeline.config import load_params, read_params_yaml
    from soundflow.pipeline.stages import get_stage

    root = project_root()
    load_params(root)
    order = dag.topological_order(read_params_yaml(root / "params.yaml"))
    width = max(map(len, order))
    with dvc_state.open_repo(root) as repo:
        found = dvc_state.statuses(repo, order)  # one DVC status call for the DAG
        for name in order:
            reasons = found[name]
            state = "up to date" if not reasons else "stale: " + "; ".join(reasons)
            print(f"{name:<{width}}  {state}")
            if args.verbose:
                print(f"{'':<{width}}  {get_stage(name).desc}")
    return 0


@command("run", writes=True, help="run the DAG (or STAGEs and their stale upstream) as a Prefect flow")
@click.argument("stages", nargs=-1)
@click.option(
    "--force",
    is_flag=True,
    help="recompute the named stages (or every stage of the DAG or --flow, if none are named) even if up to "
    "date; the stages upstream of them run only if stale",
)
@click.option("--flow", help="run one workflow's flow (a name `soundflow list` shows); soundflow: the whole DAG")
@click.option(
    "--always-prefect",
    is_flag=True,
    help="start the flow even when DVC says nothing is stale and no Prefect server is set (a temporary one "
    "then records the cached run)",
)
def cmd_run(args: SimpleNamespace) -> int:
    root = project_root()
    from soundflow.pipeline.params_check import validate
    from soundflow.pipeline.stages import flow_name, get_stage

    flow = flow_name(args.flow) if args.flow else None  # a typo is one line, before Prefect starts
    for name in args.stages:
        get_stage(name)  # likewise, with the likeliest name
    validate(root)  # a bad params.yaml or data location is reported before Prefect starts
    _sync_dvc_yaml(root)
    t0 = time.perf_counter()
    shortcut = not (args.force or args.always_prefect or os.environ.get("PREFECT_API_URL"))
    if shortcut and (done := _all_up_to_date(root, flow, args.stages)):
        print(
            f"soundflow run: {len(done)} stage(s), 0 recomputed: DVC says all are up to date, and with no Prefect "
            f"server set none was started for a run with nothing to do, {time.perf_counter() - t0:.1f} s"
        )
        return 0
    from flows.pipeline import FLOWS, pipeline

    try:
        if flow and flow != "soundflow":
            results = FLOWS[flow](root=str(root), force=args.force)
        else:
            results = pipeline(root=str(root), stages=args.stages or None, force=args.force)
    except UserError:
        raise  # the boundary says it in one line
    except Exception as err:  # Prefect has logged the traceback; end with the one line that matters
        print(f"soundflow run failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    ran = [n for n, r in results.items() if r["ran"]]
    print(
        f"soundflow run: {len(results)} stage(s), {len(ran)} recomputed"
        f"{' (' + ', '.join(ran) + ')' if ran else ''}, {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _all_up_to_date(root: Path, flow: str | None, stages: list[str]) -> list[str]:
    """The stages a run would consider, if DVC says every one is up to date (one status call); else [].

    A run with nothing to do then costs what `dvc status` costs: Prefect's temporary server (about 8 CPU s)
    would only record that nothing ran, in a database no UI reads. With PREFECT_API_URL set the flow runs as
    usual, so the server's UI shows the cached run."""
    from soundflow.pipeline import dag, dvc_state
    from soundflow.pipeline.config import read_params_yaml
    from soundflow.pipeline.stages import workflow

    targets = [s.name for s in workflow(flow).stages] if flow and flow != "soundflow" else stages
    names = dag.topological_order(read_params_yaml(root / "params.yaml"), targets or None)
    with dvc_state.open_repo(root) as repo:
        stale = [n for n, why in dvc_state.statuses(repo, names).items() if why]
    return [] if stale else names


@command("repro", writes=True, help="run `dvc repro` with all stages logged under one MLflow parent run")
@click.argument("stages", nargs=-1)
def cmd_repro(args: SimpleNamespace) -> int:
    root = project_root()
    from soundflow.pipeline.params_check import validate
    from soundflow.pipeline.stages import get_stage

    for name in args.stages:
        get_stage(name)  # a typo is one line with the likeliest name, not DVC's error
    validate(root)  # before dvc deletes the outputs of a stage that would then refuse its parameters
    from soundflow.pipeline.dvc_state import check_stage_interpreter

    check_stage_interpreter(root)  # likewise: the python the stage commands name must exist
    _sync_dvc_yaml(root)
    os.environ.setdefault("SOUNDFLOW_PIPELINE_KEY", f"dvc-{uuid.uuid4().hex}")
    from soundflow.pipeline.tracking import DEFER_ENV

    # dvc inherits the workspace-lock token main() exported, so its `soundflow stage` children proceed; they keep
    # their tracking calls in the journal, sent below by this one process (MLflow imported once, not per stage)
    dvc = Path(sys.executable).with_name("dvc")
    argv = [str(dvc) if dvc.exists() else "dvc", "repro", *args.stages]
    code = subprocess.call(argv, cwd=root, env={**os.environ, DEFER_ENV: "1"})
    send_deferred(root)
    return dvc_exit_code(code)


def dvc_exit_code(code: int) -> int:
    """``dvc repro``'s status as a shell reads it: 0 done, 1 failed (DVC itself exits 255), 128+N killed by N."""
    if code < 0:
        return 128 - code
    return 0 if code == 0 else 1


def send_deferred(root: Path) -> None:
    """The stages' tracking calls kept in the journal, sent now (or kept for `soundflow sync` if MLflow is away)."""
    from soundflow.pipeline.config import load_params
    from soundflow.pipeline.ops.sync import Journal
    from soundflow.pipeline.tracking import Tracker, tag_stage_hashes

    if Journal(root).pending():
        tag_stage_hashes(root)
        Tracker(root, load_params(root).tracking.experiment)  # sends what is pending on creation
