"""The model registry: each workflow's best checkpoint as a registered model version, addressed by aliases.

``champion`` is the version whose evaluation run is best by the workflow's metric, ``candidate`` the newest
evaluated version when it is not the champion (registry stages are deprecated since MLflow 2.9: aliases only).

Which checkpoint an evaluation measured is read from the stage table: an evaluation stage declares metrics,
writes no checkpoint itself, and depends on checkpoints that another stage of its flow logs as artifacts
(``Stage.artifacts``; the runner logs them under ``outputs/``). The version is created from that training
run's artifact: the training run of the same pipeline run, else the newest one before the evaluation.

Each checkpoint is ranked by its own metric: the one its training stage declares (``Stage.ranked_by``; the
transcoder's teacher by its own macro AUPRC, each student by its own), else the workflow's headline; an evaluation
stage's runs are searched once for all the checkpoints it measures. Each version is an MLflow Model (pyfunc
flavour, signature, input example, the raw checkpoint inside; :mod:`soundflow.pipeline.ops.pyfunc_models`) logged
in the training run, one per evaluation run: its config is read from that run's parameters, and the checkpoints
it needs from other stages (CNN-logits' teacher) are those of the same pipeline run. So
``mlflow models serve -m models:/<name>@champion`` answers requests as the pipeline computed; a checkpoint of a
stage without a wrapper would stay the checkpoint file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundflow.pipeline.ops import compare
from soundflow.pipeline.ops.runs import DEFAULT_METRIC, STAGE_TAG, RunRecord, measured_stages, select_runs, stage_runs
from soundflow.pipeline.stages import STAGES, Stage, get_stage

CHAMPION, CANDIDATE = "champion", "candidate"
EVAL_RUN_TAG = "soundflow.evaluation_run"
# the checkpoint file's path inside a version's source, when the source is an MLflow Model folder
CHECKPOINT_TAG = "soundflow.checkpoint"
MODEL_DIR = "mlflow-model"  # where in the training run's artifacts the MLflow Models are logged


@dataclass(frozen=True)
class Registered:
    name: str
    alias: str
    version: str
    run_id: str  # the evaluation run
    metric: str
    value: float


def checkpoints(stage: Stage) -> list[tuple[Stage, str]]:
    """(training stage, checkpoint path) of each checkpoint ``stage`` evaluates; empty if it is no evaluation."""
    if not stage.metrics or stage.artifacts:
        return []
    return [(s, d) for d in stage.deps for s in STAGES if s.flow == stage.flow and s is not stage and d in s.artifacts]


def model_name(stage: Stage, checkpoint: str) -> str:
    """``soundflow-<workflow>``; with the checkpoint's name when its flow evaluates several (the transcoder)."""
    evaluated = {c for s in STAGES if s.flow == stage.flow for _, c in checkpoints(s)}
    return f"soundflow-{stage.flow}" + (f"-{Path(checkpoint).stem}" if len(evaluated) > 1 else "")


def training_run(client: Any, experiment_id: str, evaluation: RunRecord, train: Stage) -> Any:
    """The run that logged the evaluated checkpoint: same pipeline run, else the newest before the evaluation."""
    parent = f" AND tags.`mlflow.parentRunId` = '{evaluation.parent_id}'" if evaluation.parent_id else ""
    for extra in (parent, "") if parent else ("",):
        found = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{STAGE_TAG}` = '{train.name}' AND attributes.status = 'FINISHED'"
            f" AND attributes.start_time <= {evaluation.start_ms}{extra}",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if found:
            return found[0]
    raise LookupError(f"no finished {train.name} run before {evaluation.stage} run {evaluation.run_id}")


def ensure_model(client: Any, name: str, stage: Stage) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"{stage.flow}: checkpoints evaluated by {stage.name}")


def version_for(client: Any, name: str, evaluation: RunRecord, train_run: Any, checkpoint: str, key: str) -> str:
    """The version made from ``evaluation``'s checkpoint: the existing one, or a new one with its metrics."""
    existing = client.search_model_versions(f"name = '{name}' AND tags.`{EVAL_RUN_TAG}` = '{evaluation.run_id}'")
    if existing:
        return str(existing[0].version)
    tags = {f"metric.{k}": f"{v:.6g}" for k, v in evaluation.metrics.items() if not k.startswith("history/")}
    tags |= {EVAL_RUN_TAG: evaluation.run_id, "soundflow.train_run": train_run.info.run_id}
    tags |= {k: evaluation.tags[k] for k in ("soundflow.git_commit", "soundflow.data_version") if k in evaluation.tags}
    description = (
        f"{evaluation.stage} run {evaluation.run_id}: {key} = {evaluation.metrics[key]:.4f}; "
        f"checkpoint {checkpoint} of {train_run.data.tags.get(STAGE_TAG)} run {train_run.info.run_id}"
    )
    source, inside = model_source(client, evaluation, train_run, checkpoint)
    tags |= {CHECKPOINT_TAG: inside} if inside else {}
    mv = client.create_model_version(name, source, run_id=train_run.info.run_id, tags=tags, description=description)
    return str(mv.version)


def model_source(client: Any, evaluation: RunRecord, train_run: Any, checkpoint: str) -> tuple[str, str | None]:
    """(source of a new version, the checkpoint's path inside it): the MLflow Model of the checkpoint logged in
    ``train_run`` when the project can serve it (its config from ``evaluation``'s parameters, the run that
    measured it), else (the checkpoint artifact itself, None)."""
    import tempfile

    from soundflow.pipeline.ops import pyfunc_models  # mlflow.pyfunc: only when a version is made

    name = Path(checkpoint).name
    stage = train_run.data.tags.get(STAGE_TAG, "")
    wrapper = pyfunc_models.WRAPPERS.get(stage)
    if wrapper is None:
        return f"{train_run.info.artifact_uri}/outputs/{name}", None
    # one model per evaluation: its config (and its upstream checkpoints) are that evaluation's pipeline's
    folder = f"{MODEL_DIR}/{Path(checkpoint).stem}-{evaluation.run_id}"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(train_run.info.run_id, f"outputs/{name}", tmp))
        upstream = {up: _upstream(client, evaluation, up, Path(tmp)) for up in wrapper.upstream}
        pyfunc_models.save_model(stage, local, Path(tmp) / "model", evaluation.params, upstream)
        client.log_artifacts(train_run.info.run_id, str(Path(tmp) / "model"), folder)
    return f"{train_run.info.artifact_uri}/{folder}", f"artifacts/{name}"


def _upstream(client: Any, evaluation: RunRecord, stage: str, tmp: Path) -> Path:
    """The checkpoint ``stage`` logged in ``evaluation``'s pipeline run (else the newest before it), downloaded."""
    up = get_stage(stage)
    run = training_run(client, evaluation.experiment_id, evaluation, up)
    (tmp / stage).mkdir()
    return Path(client.download_artifacts(run.info.run_id, f"outputs/{Path(up.artifacts[0]).name}", str(tmp / stage)))


def register_best(
    client: Any, experiment: str, workflow: str | None, metric: str | None, ascending: bool = False
) -> list[Registered]:
    """Register each evaluation's best run as ``champion`` and its newest (when another) as ``candidate``."""
    out: list[Registered] = []
    for stage in measured_stages(workflow):
        pairs = checkpoints(stage)
        found = stage_runs(client, experiment, [stage]) if pairs else []  # once: the transcoder ranks three by it
        parents: dict[str, dict[str, str]] = {}
        for train, checkpoint in pairs:
            records, keys = select_runs(client, found, metric or ranking_metric(train), parents=parents)
            out += register_checkpoint(client, stage, train, checkpoint, records, keys, ascending)
    return out


def ranking_metric(train: Stage) -> str:
    """The metric a checkpoint of ``train`` is ranked by: its own declaration, else its workflow's headline."""
    return train.ranked_by or DEFAULT_METRIC[train.flow]


def register_checkpoint(
    client: Any,
    stage: Stage,
    train: Stage,
    checkpoint: str,
    records: list[RunRecord],
    keys: list[str],
    ascending: bool,
) -> list[Registered]:
    """``checkpoint`` (of ``train``) of the best of ``stage``'s ``records`` by the metric ``keys`` name as champion,
    of the newest as candidate."""
    if not records:
        return []
    key = compare.sort_key(records, keys)
    best = compare.sorted_runs(records, key, ascending)[0]
    newest = max(records, key=lambda r: r.start_ms)
    chosen = {CHAMPION: best} | ({CANDIDATE: newest} if newest.run_id != best.run_id else {})
    name = model_name(stage, checkpoint)
    ensure_model(client, name, stage)
    out = []
    for alias, rec in chosen.items():
        run = training_run(client, rec.experiment_id, rec, train)  # its workflow's experiment
        version = version_for(client, name, rec, run, checkpoint, key)
        client.set_registered_model_alias(name, alias, version)
        out.append(Registered(name, alias, version, rec.run_id, key, rec.metrics.get(key, float("nan"))))
    if CANDIDATE not in chosen:
        _drop_alias(client, name, CANDIDATE)
    return out


def _drop_alias(client: Any, name: str, alias: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model_alias(name, alias)
    except MlflowException:
        pass  # it had none
