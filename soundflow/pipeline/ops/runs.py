"""The tracking store's runs of a workflow's evaluation, as the comparison and the model registry read them.

Which stages a workflow's runs come from is read from the stage table (``Stage.flow``), never listed here:
the stages of the flow that declare ``metrics=``, of which a run counts when it has logged the chosen metric.
A metric is named by its key (``miou``), by the last part of a nested key (``macro_auprc`` matches
``esc50/deep/cnn_logits/macro_auprc``, see :func:`soundflow.pipeline.tracking.metrics_from_json`) or by the first
part of a family (``test_accuracy`` names ``test_accuracy/crnn/real/x0``...).

Each workflow's runs are in its own experiment, ``<tracking.experiment>/<workflow>``
(:func:`soundflow.pipeline.tracking.workflow_experiment`); runs logged before that, all in ``<tracking.experiment>``
itself, are read too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soundflow.pipeline.stages import STAGES, Stage, headline_metrics
from soundflow.pipeline.tracking import workflow_experiment

# the metric each workflow is judged by, higher is better (the papers' headline numbers), as it declares
DEFAULT_METRIC = headline_metrics()
STAGE_TAG = "soundflow.stage"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    name: str
    stage: str
    start_ms: int
    parent_id: str | None
    metrics: dict[str, float]
    params: dict[str, str]  # the pipeline run's parameters (all of params.yaml), then the stage run's own
    tags: dict[str, str] = field(default_factory=dict)
    experiment_id: str = ""


def workflows() -> list[str]:
    return sorted({s.flow for s in STAGES if s.metrics and s.flow != "data"})


def measured_stages(workflow: str | None) -> list[Stage]:
    """The stages of ``workflow`` (every workflow if None) that log metrics."""
    if workflow is not None and workflow not in workflows():
        raise ValueError(f"unknown workflow {workflow!r}; workflows: {', '.join(workflows())}")
    return [s for s in STAGES if s.metrics and s.flow != "data" and workflow in (None, s.flow)]


def metric_keys(logged: set[str], metric: str) -> list[str]:
    """The logged keys ``metric`` names: itself if logged, else every nested key ending in ``/metric``, else every
    key of the family ``metric/...``."""
    if metric in logged:
        return [metric]
    ends = sorted(k for k in logged if k.endswith("/" + metric))
    return ends or sorted(k for k in logged if k.startswith(metric + "/"))


def experiment_ids(client: Any, prefix: str, stages: list[Stage]) -> list[str]:
    """The experiments the runs of ``stages`` are in: their workflows' (``<prefix>/<workflow>``), and ``prefix``."""
    names = [*dict.fromkeys(workflow_experiment(prefix, s.flow) for s in stages), prefix]
    found = [e.experiment_id for n in names if (e := client.get_experiment_by_name(n)) is not None]
    if not found:
        raise ValueError(f"no MLflow experiment {names[0]!r} in {client.tracking_uri}: nothing has been run yet")
    return found


def find_runs(
    client: Any, experiment: str, stages: list[Stage], metric: str, last: int | None = None
) -> tuple[list[RunRecord], list[str]]:
    """The newest ``last`` finished runs of ``stages`` that logged ``metric``, and the keys it names; ``experiment``:
    the prefix of the workflows' experiments (``tracking.experiment``)."""
    return select_runs(client, stage_runs(client, experiment, stages), metric, last)


def stage_runs(client: Any, experiment: str, stages: list[Stage]) -> list[Any]:
    """Every finished run of ``stages`` (MLflow's runs), newest first."""
    ids = experiment_ids(client, experiment, stages)
    found = [
        r
        for s in stages  # one search per stage: MLflow's filter has no IN for tags
        for r in client.search_runs(
            ids,
            filter_string=f"tags.`{STAGE_TAG}` = '{s.name}' AND attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=5000,
        )
    ]
    found.sort(key=lambda r: r.info.start_time or 0, reverse=True)
    return found


Parents = dict[str, dict[str, str]]  # pipeline run id -> its parameters


def select_runs(
    client: Any, found: list[Any], metric: str, last: int | None = None, parents: Parents | None = None
) -> tuple[list[RunRecord], list[str]]:
    """Of ``found`` (newest first), the newest ``last`` that logged ``metric`` as records, and the keys it names;
    ``parents`` caches the pipeline runs' parameters between calls."""
    keys = metric_keys({k for r in found for k in r.data.metrics}, metric)
    keep = [r for r in found if any(k in r.data.metrics for k in keys)][: last or None]
    parents = {} if parents is None else parents
    return [_record(client, r, parents) for r in keep], keys


def _record(client: Any, run: Any, parents: Parents) -> RunRecord:
    parent = run.data.tags.get("mlflow.parentRunId")
    if parent and parent not in parents:  # its pipeline run holds all of params.yaml (the stage run: its own)
        parents[parent] = dict(client.get_run(parent).data.params)
    return RunRecord(
        run.info.run_id,
        run.info.run_name or run.info.run_id,
        run.data.tags[STAGE_TAG],
        int(run.info.start_time or 0),
        parent,
        dict(run.data.metrics),
        {**parents.get(parent or "", {}), **run.data.params},
        dict(run.data.tags),
        str(run.info.experiment_id),
    )
