"""The stage DAG compiled to a Kubeflow Pipelines v2 pipeline definition (``kfp.compiler.Compiler``), client side only.

Each stage is a container component running the same step script as the Argo export
(:func:`soundflow.pipeline.export.steps.script`), from the same image; its upstream stages' handoffs are its input
artifacts and ``.after()`` orders it after them; a stage that trains requests one GPU. Credentials for the
DVC remote come from the cluster (a workload identity, or ``kfp-kubernetes``' ``use_secret_as_env`` on each
task with the ``soundflow-s3`` Secret), not from the pipeline definition.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from kfp import compiler, dsl

from soundflow.pipeline.export import yamltext
from soundflow.pipeline.export.steps import DEFAULT_IMAGE, WORKDIR, Step, script, steps

PIPELINE = "soundflow"
HANDOFF = "handoff"


def _input(up: str) -> str:
    return f"from_{up}"


def _component(step: Step, image: str, remote: str | None) -> Callable[..., dsl.PipelineTask]:
    """A container component whose signature is the step's artifacts (built here: it varies per stage)."""
    params = [inspect.Parameter(HANDOFF, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dsl.Output[dsl.Artifact])]
    params += [
        inspect.Parameter(_input(up), inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dsl.Input[dsl.Artifact])
        for up in step.upstream
    ]

    def body(*artifacts: object) -> dsl.ContainerSpec:
        # artifacts: the handoff to write, then the upstream handoffs, as path placeholders in that order
        return dsl.ContainerSpec(
            image=image,
            command=["sh", "-c", f"cd {WORKDIR}\n{script(step, remote)}", step.task],
            args=[a.path for a in artifacts],  # type: ignore[attr-defined]
        )

    body.__name__ = body.__qualname__ = step.task
    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dsl.container_component(body)


def build_pipeline(root: Path, image: str = DEFAULT_IMAGE, remote: str | None = None) -> Callable[[], None]:
    all_steps = steps(root)
    components = {s.stage: _component(s, image, remote) for s in all_steps}

    @dsl.pipeline(name=PIPELINE, description="soundflow: every stage of soundflow/pipeline/stages.py, in DAG order")
    def pipeline():  # no return annotation: kfp reads one as a pipeline output
        tasks: dict[str, dsl.PipelineTask] = {}
        for s in all_steps:
            task = components[s.stage](**{_input(up): tasks[up].outputs[HANDOFF] for up in s.upstream})
            task.set_display_name(s.stage)
            if s.upstream:
                task.after(*(tasks[up] for up in s.upstream))
            if s.gpu:
                task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
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
