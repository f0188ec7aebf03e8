"""The stage DAG compiled to a Kubeflow Pipelines v2 pipeline definition (``kfp.compiler.Compiler``), client side only.

Each stage is a container component running the same step script as the Argo export
(:func:`soundflow.pipeline.export.steps.script`), from the same image; its upstream stages' handoffs are its input
artifacts and ``.after()`` orders it after them; it requests its row's CPU and memory, and one GPU where the
stage trains. The pipeline's ``mlflow_tracking_uri`` parameter reaches every step as ``MLFLOW_TRACKING_URI``
(a component input: KFP's ``set_env_variable`` takes constants only). Credentials for the
DVC remote come from the cluster (a workload identity, or ``kfp-kubernetes``' ``use_secret_as_env`` on each
task with the ``soundflow-s3`` Secret), not from the pipeline definition.
"""

# no `from __future__ import annotations`: kfp reads the pipeline function's annotations as types, not strings
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from kfp import compiler, dsl

from soundflow.pipeline.export import yamltext
from soundflow.pipeline.export.remote import resolve
from soundflow.pipeline.export.steps import (
    DEFAULT_IMAGE,
    MLFLOW_DEFAULT,
    MLFLOW_ENV,
    MLFLOW_PARAMETER,
    WORKDIR,
    Step,
    script,
    steps,
)

PIPELINE = "soundflow"
HANDOFF = "handoff"


def _input(up: str) -> str:
    return f"from_{up}"


def _component(step: Step, image: str, remote: str) -> Callable[..., dsl.PipelineTask]:
    """A container component whose signature is the MLflow URI and the step's artifacts (it varies per stage)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(MLFLOW_PARAMETER, kind, annotation=str)]
    params += [inspect.Parameter(HANDOFF, kind, annotation=dsl.Output[dsl.Artifact])]
    params += [
        inspect.Parameter(_input(up), inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dsl.Input[dsl.Artifact])
        for up in step.upstream
    ]

    def body(mlflow_uri: str, *artifacts: object) -> dsl.ContainerSpec:
        # artifacts: the handoff to write, then the upstream handoffs, as path placeholders in that order
        prelude = f'cd {WORKDIR}\nexport {MLFLOW_ENV}="$1"; shift\n'
        return dsl.ContainerSpec(
            image=image,
            command=["sh", "-c", prelude + script(step, remote), step.task],
            args=[mlflow_uri, *(a.path for a in artifacts)],  # type: ignore[attr-defined]
        )

    body.__name__ = body.__qualname__ = step.task
    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dsl.container_component(body)


def build_pipeline(root: Path, image: str = DEFAULT_IMAGE, remote: str | None = None) -> Callable[..., None]:
    """The pipeline function, ready for kfp's compiler; ``remote``: see :func:`resolve`."""
    remote = resolve(root, remote)
    all_steps = steps(root)
    components = {s.stage: _component(s, image, remote) for s in all_steps}

    @dsl.pipeline(name=PIPELINE, description="soundflow: every stage of soundflow/pipeline/stages.py, in DAG order")
    def pipeline(mlflow_tracking_uri: str = MLFLOW_DEFAULT):  # no return annotation: kfp reads one as an output
        tasks: dict[str, dsl.PipelineTask] = {}
        for s in all_steps:
            ins = {_input(up): tasks[up].outputs[HANDOFF] for up in s.upstream}
            task = components[s.stage](**{MLFLOW_PARAMETER: mlflow_tracking_uri}, **ins)
            task.set_display_name(s.stage)
            if s.upstream:
                task.after(*(tasks[up] for up in s.upstream))
            task.set_cpu_request(s.cpu).set_memory_request(s.memory)
            if s.gpus:
                task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(s.gpus)
            task.set_caching_options(False)  # DVC decides what is up to date, not KFP's cache
            tasks[s.stage] = task

    return pipeline


def render(root: Path, image: str = DEFAULT_IMAGE, remote: str | None = None) -> str:
    """The compiled pipeline definition (YAML), as ``kfp.compiler.Compiler().compile`` writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(build_pipeline(root, image, remote), str(path))
        text = path.read_text()
    return yamltext.dump(yaml.safe_load(text), header=yamltext.leading_comments(text), sort_keys=True)
