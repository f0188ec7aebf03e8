"""Prefect flows over the stage graph: the whole DAG, one per workflow (built from the registry), or any stage
with its upstream."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from prefect import Flow, flow
from prefect.runtime import flow_run

from flows import hooks
from flows.stage_task import for_stage
from soundflow.pipeline import dag, dvc_state, workspace_lock
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.stages import WORKFLOWS, Workflow
from soundflow.pipeline.tracking import PIPELINE_KEY_ENV


def _run(root: Path, names: list[str], force: bool, targets: Collection[str] | None = None) -> dict[str, Any]:
    """Run ``names`` (in order) where stale; ``force`` recomputes the ``targets`` (all ``names`` if None) anyway,
    never their upstream stages, which run only if stale."""
    os.environ[PIPELINE_KEY_ENV] = f"prefect-{flow_run.get_id()}"
    results: dict[str, Any] = {}
    # a flow started without the CLI (a deployment, a notebook) writes too: it takes the workspace lock
    # itself; under `soundflow run`, which already holds it, this re-enters
    lock = workspace_lock.hold(root, f"prefect flow {flow_run.get_flow_name()} {' '.join(names)}")
    with lock, dvc_state.snapshot(root, names):  # one DVC status call for the DAG until a stage runs
        for name in names:  # topological order; stages are CPU/GPU-bound, so one at a time
            forced = force and (targets is None or name in targets)
            state = for_stage(name, root)(name, str(root), force=forced, return_state=True)
            result = dict(state.result())
            # a Cached state replays the result of the run that computed it: it recomputed nothing now
            result["ran"] = result["ran"] and state.name != "Cached"
            result["state"] = state.name
            results[name] = result
    return results


# a deployment's run says when it starts; a failed or crashed one is sent where the environment says (README)
HOOKS: dict[str, Any] = {
    "on_running": [hooks.announce_start],
    "on_failure": [hooks.notify_failure],
    "on_crashed": [hooks.notify_failure],
}


@flow(name="soundflow", log_prints=True, **HOOKS)
def pipeline(root: str = ".", stages: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """The whole DAG, or the given stages plus whatever upstream of them is stale (``force``: the given stages,
    or all if none, recomputed even if up to date)."""
    r = Path(root).resolve()
    return _run(r, dag.topological_order(read_params_yaml(r / "params.yaml"), stages or None), force, stages or None)


def _workflow_flow(unit: Workflow) -> Flow:
    """The Prefect flow of one workflow: its stages, plus whatever upstream of them is stale."""

    def run_workflow(root: str = ".", force: bool = False) -> dict[str, Any]:
        r = Path(root).resolve()
        mine = [s.name for s in unit.stages]
        return _run(r, dag.topological_order(read_params_yaml(r / "params.yaml"), mine), force, mine)

    # the deployments' entrypoints name it (flows/pipeline.py:<workflow>), and Prefect shows its docstring
    run_workflow.__name__ = run_workflow.__qualname__ = unit.name
    run_workflow.__doc__ = f"{unit.doc}."
    return flow(name=unit.name, log_prints=True, **HOOKS)(run_workflow)


# One flow per workflow the registry finds, each a module-level name of its own (what an entrypoint imports).
FLOWS: dict[str, Flow] = {"soundflow": pipeline}
for _unit in WORKFLOWS:
    FLOWS[_unit.name] = globals()[_unit.name] = _workflow_flow(_unit)
