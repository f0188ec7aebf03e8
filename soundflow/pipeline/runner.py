"""Running one stage: validated params, the stage's task function, MLflow logging around it.

Both engines come through here: ``dvc repro`` runs ``python -m soundflow stage NAME``
(DVC has decided the stage is stale), and the Prefect flow calls :func:`run_stage_if_stale`,
which asks DVC the same question and records the result in ``dvc.lock``.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundflow import env
from soundflow.pipeline.config import flatten, load_params, read_params_yaml, select
from soundflow.pipeline.stages import Stage, get_stage

SURVEY_ENV = "SOUNDFLOW_PARAMS_SURVEY"  # "1": undeclared parameter reads are recorded, not refused
READS_DIR = "param_reads"  # under .soundflow/: the declared parameters each stage read on its last run


@dataclass(frozen=True)
class StageOutcome:
    name: str
    ran: bool  # False: DVC said it was up to date, nothing recomputed
    seconds: float
    outputs: list[str]
    reasons: list[str]  # why it ran (DVC's status), empty when it did not


class _Tee(io.TextIOBase):
    """Copies what a stage prints to the terminal and to its log."""

    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


def _stage_params(stage: Stage, raw: dict[str, Any]) -> dict[str, Any]:
    """The parameters the stage's outputs depend on: its own and, through the stage graph, those of every stage
    upstream of it, so an evaluation run carries its features' and training's parameters and runs of one stage
    compare on their own in MLflow's UI."""
    from soundflow.pipeline.dag import topological_order

    out: dict[str, Any] = {}
    for name in topological_order(raw, [stage.name]):
        for key in get_stage(name).params:
            value = select(raw, key)
            out.update(flatten(value, key + ".") if isinstance(value, dict) else {key: value})
    return out


def execute(name: str, root: Path, *, engine: str, stage_hash: str | None = None) -> float:
    """Run stage ``name`` now, logging a nested MLflow run; returns the seconds it took."""
    root = Path(root).resolve()
    env.configure(root)
    stage = get_stage(name)
    params = load_params(root)  # validates everything before any work starts
    from soundflow.pipeline.params_check import check_stage_inputs

    check_stage_inputs(params, root, stage)  # its data locations, now that its upstream stages have run
    from soundflow.lock_check import refuse_altered_inputs

    refuse_altered_inputs(root, name, stage.deps)  # no upstream file edited by hand since its stage wrote it
    if env.launch_rank() != 0:
        return _execute_on_other_rank(stage, params, root)
    _remove_dead_temporaries(stage, root)
    raw = read_params_yaml(root / "params.yaml")
    from soundflow.pipeline.tracking import Tracker, git_commit, pipeline_key, provenance_tags, workflow_experiment

    tracker = Tracker(root, workflow_experiment(params.tracking.experiment, stage.flow))
    commit = git_commit(root)
    provenance = {"git_commit": commit, **provenance_tags(root, commit)}
    tags = {**provenance, "soundflow.engine": engine}
    # journalled for `soundflow repro`, the tag is read from dvc.lock when the run is sent: not hashed here again
    later = stage_hash is None and tracker.deferred
    if stage_hash is None and not later:
        stage_hash = _dvc_stage_hash(root, name)
    if stage_hash:
        tags["dvc_stage_hash"] = stage_hash
    key = pipeline_key()
    parent = tracker.pipeline_run(key, engine, flatten(raw), provenance) if key else None
    run_id = tracker.stage_run(name, parent, _stage_params(stage, raw), tags)
    if later:
        tracker.stage_hash_later(run_id, name)
    log = io.StringIO()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    ok = False
    try:
        with contextlib.redirect_stdout(_Tee(sys.stdout, log)):
            print(f"[{name}] {stage.desc}")
            run_declared(stage, params, root)
        ok = True
    except BaseException:
        log.write(traceback.format_exc())
        raise
    finally:
        seconds = time.perf_counter() - t0
        # CPU seconds too: on a shared machine the wall time says more about the neighbours than the stage
        tracker.log_metrics(run_id, {"stage_seconds": seconds, "stage_cpu_seconds": _cpu_seconds() - cpu0})
        tracker.log_text(run_id, log.getvalue(), f"{name}.log")
        if ok:
            _log_outputs(tracker, run_id, stage, root)
        tracker.finish(run_id, ok)
        if parent:
            # under `dvc repro` no process sees the whole pipeline end: each stage closes the parent run
            tracker.finish(parent, ok)
    return seconds


def _remove_dead_temporaries(stage: Stage, root: Path) -> None:
    """What a killed run of the stage left among its outputs: inside an output folder DVC would record it."""
    from soundflow.io import remove_dead_temporaries

    for out in stage.all_outs:
        for p in remove_dead_temporaries(root / out):
            print(f"{stage.name}: removed {p.relative_to(root)}, left by an interrupted write")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (data loaders, workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_declared(stage: Stage, params: Any, root: Path) -> object:
    """``stage.run`` on the parameters it declares and nothing else; which of them it read is kept in
    ``.soundflow/param_reads/<stage>.json`` (a test holds every stage to declared == read)."""
    from soundflow.env import STATE_DIR
    from soundflow.io import write_json
    from soundflow.pipeline.params_view import stage_view

    view = stage_view(params, stage, survey=os.environ.get(SURVEY_ENV) == "1")
    result = stage.run(view, root)
    reads = {"read": sorted(view.read_keys), "undeclared": sorted(view.undeclared_keys)}
    write_json(root / STATE_DIR / READS_DIR / f"{stage.name}.json", reads)
    return result


def _execute_on_other_rank(stage: Stage, params: Any, root: Path) -> float:
    """A rank other than 0 of ``torchrun ... -m soundflow stage NAME``: the stage's work only, whose training
    joins rank 0's (:func:`soundflow.training.fit`); rank 0 alone writes the outputs, the log and the MLflow run."""
    t0 = time.perf_counter()
    run_declared(stage, params, root)
    return time.perf_counter() - t0


def _dvc_stage_hash(root: Path, name: str) -> str | None:
    """DVC's run-cache key of the stage, read while DVC itself may be running it (it only reads)."""
    from soundflow.pipeline import dvc_state

    try:
        with dvc_state.open_repo(root) as repo:
            return dvc_state.stage_hash(repo, name)
    except Exception as err:  # a tag is not worth failing a stage for
        print(f"note: could not compute the DVC stage hash of {name}: {err}")
        return None


def _log_outputs(tracker: Any, run_id: str, stage: Stage, root: Path) -> None:
    from soundflow.pipeline.tracking import metrics_from_json

    for m in stage.metrics:
        tracker.log_metrics(run_id, metrics_from_json(root / m))
        tracker.log_artifact(run_id, root / m, "metrics")
    for p in stage.plots + stage.artifacts:
        if (root / p).is_file():
            tracker.log_artifact(run_id, root / p, "outputs")
        elif (root / p).is_dir():  # a folder of outputs (the transcoder's audio examples): each file under it
            for f in sorted(x for x in (root / p).rglob("*") if x.is_file()):
                tracker.log_artifact(run_id, f, f"outputs/{Path(p).name}")
    if stage.history:
        tracker.log_history(run_id, root / stage.history)
    if stage.runs:
        tracker.log_runs(run_id, root / stage.runs)


def run_stage_if_stale(name: str, root: Path, *, force: bool = False) -> StageOutcome:
    """Run ``name`` if DVC says it is stale (or ``force``), then record it in dvc.lock."""
    from soundflow.pipeline import dvc_state

    root = Path(root).resolve()
    stage = get_stage(name)
    t0 = time.perf_counter()
    with dvc_state.open_repo(root) as repo:
        reasons = dvc_state.status(repo, name)
        if not reasons and not force:
            return StageOutcome(name, False, time.perf_counter() - t0, list(stage.all_outs), [])
        stage_hash = dvc_state.stage_hash(repo, name)
    execute(name, root, engine="prefect", stage_hash=stage_hash)
    with dvc_state.open_repo(root) as repo:
        dvc_state.commit(repo, name)
    return StageOutcome(name, True, time.perf_counter() - t0, list(stage.all_outs), reasons or ["forced"])
