"""One cluster step per stage: what it needs from the stage table, and the shell script it runs.

Argo and Kubeflow run each stage in its own container, from the same image (the repository at one commit),
so a step's workspace starts empty of data. Large outputs travel through the DVC remote (``dvc pull`` of the
stage's data dependencies before, ``dvc push`` of its outputs after); what DVC does not carry travels as the
engine's artifact, the *handoff* (:mod:`soundflow.pipeline.export.handoff`): the ``dvc.lock`` entries that say which
hashes to pull, and the small outputs (metrics, plots) some stages read.

What would die with the pod is kept elsewhere: the data on the DVC remote, which every export must name
(:mod:`soundflow.pipeline.export.remote`), the runs on the MLflow server that ``MLFLOW_TRACKING_URI`` names
(each engine's export sets it from a parameter of the workflow or pipeline; a step without one refuses to run).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from soundflow.pipeline import dag
from soundflow.pipeline.config import PARAMS_FILE, read_params_yaml
from soundflow.pipeline.stages import Stage, get_stage

WORKDIR = "/soundflow"  # the Dockerfile's WORKDIR: the repository inside the image
DEFAULT_IMAGE = "soundflow:latest"
S3_SECRET = "soundflow-s3"  # Kubernetes Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optional extras)
MLFLOW_ENV = "MLFLOW_TRACKING_URI"
# the tracking server as a Service in the step's namespace, as deploy/kubernetes/prefect.yaml names it
MLFLOW_DEFAULT = "http://mlflow:5000"
MLFLOW_PARAMETER = "mlflow_tracking_uri"  # a parameter of the exported Argo workflow and Kubeflow pipeline


@dataclass(frozen=True)
class Step:
    """One stage as a cluster step: its upstream stages (the DAG's edges), what it pulls, what it requests."""

    stage: str
    upstream: tuple[str, ...]
    pulls: tuple[str, ...]
    cpu: str
    memory: str
    gpus: int

    @property
    def task(self) -> str:
        return task_name(self.stage)


def task_name(stage: str) -> str:
    # Argo and Kubeflow names are DNS labels: no underscores
    return stage.replace("_", "-")


def gpus(stage: Stage) -> int:
    """The GPUs the stage's step requests: its row's ``gpu``, else one where its code reaches the shared training
    loop (``Stage.trains``: it trains a model, or runs one it trained)."""
    return stage.gpu if stage.gpu is not None else int(stage.trains)


def tracked_paths(root: Path) -> list[str]:
    """Paths versioned by the root's ``.dvc`` files (``data.dvc``: data brought from outside the pipeline)."""
    paths = []
    for f in sorted(p for p in Path(root).glob("*.dvc") if p.is_file()):
        paths += [o["path"] for o in (yaml.safe_load(f.read_text()) or {}).get("outs", [])]
    return paths


def _within(path: str, folder: str) -> bool:
    p, f = PurePosixPath(path.rstrip("/")), PurePosixPath(folder.rstrip("/"))
    return p == f or f in p.parents


def pull_targets(stage: Stage, ups: list[str], raw: dict[str, Any], tracked: list[str]) -> tuple[str, ...]:
    """The data dependencies DVC keeps in its cache: inside an upstream stage's outputs (metrics and plots too:
    DVC caches every output, so the workspace's cache must hold what it reads) or a ``.dvc`` file's; repository
    files (configs) are in the image."""
    cached = [o for up in ups for o in get_stage(up).all_outs] + tracked
    deps = [dag.resolve(d, raw) for d in stage.deps]
    return tuple(d for d in deps if any(_within(d, c) for c in cached))


def steps(root: Path) -> list[Step]:
    """Every stage as a step, in run order, from the stage table and the DAG of :mod:`soundflow.pipeline.dag`."""
    raw = read_params_yaml(Path(root) / PARAMS_FILE)
    graph = dag.upstream(raw)
    tracked = tracked_paths(root)
    out = []
    for name in dag.topological_order(raw):
        stage = get_stage(name)
        pulls = pull_targets(stage, graph[name], raw, tracked)
        out.append(Step(name, tuple(graph[name]), pulls, stage.cpu, stage.memory, gpus(stage)))
    return out


def script(step: Step, remote: str) -> str:
    """The step's shell script. Arguments: the handoff folder to write, then the upstream handoffs to read.

    ``remote``: a remote of ``.dvc/config`` (:func:`soundflow.pipeline.export.remote.resolve`)."""
    r = ["-r", remote]
    stage = get_stage(step.stage)
    lines = [
        "set -eu",
        # a run logged to the pod's own ./mlruns would be lost with it: refuse before any work
        f': "${{{MLFLOW_ENV}:?no MLflow server for the runs: set the {MLFLOW_PARAMETER} parameter}}"',
        'out="$1"; shift',
        'python -m soundflow.pipeline.export.handoff receive "$@"',
        *([shlex.join(["dvc", "pull", *r, *step.pulls])] if step.pulls else []),
        stage.cmd,  # the command dvc.yaml runs
        shlex.join(["dvc", "commit", "--force", step.stage]),  # outputs into the cache, their hashes into dvc.lock
        shlex.join(["dvc", "push", *r, step.stage]),
        f'python -m soundflow.pipeline.export.handoff send {shlex.quote(step.stage)} "$out"',
    ]
    return "\n".join(lines) + "\n"
