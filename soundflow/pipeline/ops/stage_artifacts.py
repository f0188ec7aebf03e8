"""A stage's Prefect artifact: its metrics as a markdown table and a link to its MLflow run.

Published by the stage task (flows/stage_task.py) each time it runs inside a flow, under a key per stage
(``stage-aed-evaluate``), so the Prefect UI's Artifacts page keeps one versioned entry per stage and each flow
run shows the artifacts of its stages.
"""

from __future__ import annotations

import re
from pathlib import Path

from soundflow.pipeline.stages import get_stage
from soundflow.pipeline.tracking import metrics_from_json, tracking_uri, workflow_experiment


def artifact_key(stage: str) -> str:
    """Prefect's artifact keys take lowercase letters, digits and dashes only."""
    return "stage-" + re.sub(r"[^a-z0-9]+", "-", stage.lower()).strip("-")


def metrics_table(name: str, root: Path) -> str:
    """The numeric leaves of each metrics JSON the stage declares, one row each ('/' joins nested keys)."""
    rows = []
    for rel in get_stage(name).metrics:
        path = Path(root) / rel
        if not path.is_file():
            rows.append(f"| `{rel}` | (missing) |")
            continue
        rows += [f"| `{key}` | {value:.6g} |" for key, value in metrics_from_json(path).items()]
    if not rows:
        return "_This stage declares no metrics._"
    return "\n".join(["| metric | value |", "|:--|--:|", *rows])


def run_link(uri: str, experiment_id: str, run_id: str) -> str:
    """The run in the MLflow UI when tracking goes to a server; otherwise the run id and the store it is in."""
    if uri.startswith(("http://", "https://")):
        url = f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"[MLflow run `{run_id}`]({url})"
    return f"MLflow run `{run_id}` (experiment {experiment_id}) in `{uri}`"


def latest_run(root: Path, experiment: str, stage: str) -> tuple[str, str, str] | None:
    """(tracking URI, experiment id, run id) of the stage's latest finished MLflow run, if any; ``experiment``:
    the prefix of its workflow's experiment (``tracking.experiment``)."""
    from soundflow.pipeline.tracking import Tracker

    tracker = Tracker(root, workflow_experiment(experiment, get_stage(stage).flow))
    runs = tracker.search_runs(  # none while the tracking server is away
        f"tags.`soundflow.stage` = '{stage}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return (tracking_uri(root), tracker.experiment_id, runs[0].info.run_id) if runs else None


def stage_markdown(name: str, root: Path, experiment: str, ran: bool, outputs: list[str]) -> str:
    found = latest_run(root, experiment, name)
    link = run_link(*found) if found else "_no MLflow run of this stage yet_"
    state = "computed in this run" if ran else "up to date (dvc.lock): not recomputed"
    outs = "\n".join(f"- `{o}`" for o in outputs) or "- (none)"
    return (
        f"## Stage `{name}`: {state}\n\n{get_stage(name).desc}\n\n"
        f"### Metrics\n\n{metrics_table(name, root)}\n\n### Tracking\n\n{link}\n\n### Outputs\n\n{outs}\n"
    )


def publish(name: str, root: Path, experiment: str, ran: bool, outputs: list[str]) -> str:
    """Create the stage's markdown artifact in the current flow/task run; returns its key."""
    from prefect.artifacts import create_markdown_artifact

    key = artifact_key(name)
    create_markdown_artifact(
        key=key,
        markdown=stage_markdown(name, Path(root), experiment, ran, outputs),
        description=f"soundflow stage {name}: metrics and MLflow run",
    )
    return key
