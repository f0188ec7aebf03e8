"""``soundflow export kfp``: a golden file, the spec loaded back by kfp, its DAG equal to the stage DAG, and each
step's resources and MLflow server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from soundflow.pipeline import dag
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.export import kfp as export_kfp
from soundflow.pipeline.export.steps import MLFLOW_DEFAULT, MLFLOW_PARAMETER, gpus, task_name
from soundflow.pipeline.stages import STAGES
from tests.helpers.golden import check_golden

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

GOLDEN = Path(__file__).parent / "golden" / "kfp-pipeline.yaml"


@pytest.fixture(scope="module")
def text(project: Path) -> str:
    return export_kfp.render(project)


@pytest.fixture(scope="module")
def spec(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def test_matches_the_golden_file(text: str) -> None:
    check_golden(GOLDEN, text)


def test_the_compiled_spec_loads_back_as_a_pipeline(text: str, tmp_path: Path) -> None:
    from kfp import components, dsl

    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "soundflow"
    spec = loaded.pipeline_spec
    tasks = spec.root.dag.tasks
    assert len(tasks) == len(STAGES)
    # the loaded component can be used as a step of another pipeline (what `kfp` clients do with a spec)

    @dsl.pipeline(name="outer")
    def outer():  # no return annotation: kfp reads one as an output
        loaded()

    from kfp import compiler

    compiler.Compiler().compile(outer, str(tmp_path / "outer.yaml"))
    assert (tmp_path / "outer.yaml").stat().st_size > path.stat().st_size / 2


def test_the_dag_is_the_stage_dag(spec: dict[str, Any], root: Path) -> None:
    graph = dag.upstream(read_params_yaml(root / "params.yaml"))
    tasks = spec["root"]["dag"]["tasks"]
    assert {n: set(t.get("dependentTasks", [])) for n, t in tasks.items()} == {
        task_name(n): {task_name(u) for u in ups} for n, ups in graph.items()
    }
    for name, t in tasks.items():  # each upstream handoff comes from the task it names
        for art in t.get("inputs", {}).get("artifacts", {}).values():
            assert art["taskOutputArtifact"]["producerTask"] in t["dependentTasks"], name


def test_gpu_where_a_stage_trains_and_the_stage_command(spec: dict[str, Any]) -> None:
    executors = spec["deploymentSpec"]["executors"]
    gpu = {
        name.removeprefix("exec-")
        for name, e in executors.items()
        if e["container"].get("resources", {}).get("accelerator", {}).get("resourceCount") == "1"
    }
    assert gpu == {task_name(s.name) for s in STAGES if gpus(s)} == {task_name(s.name) for s in STAGES if s.trains}
    for s in STAGES:
        c = executors[f"exec-{task_name(s.name)}"]["container"]
        assert c["image"] == "soundflow:latest"
        lines = c["command"][2].splitlines()
        assert s.cmd in lines and f"dvc push -r storage {s.name}" in lines
        assert c["args"][1] == "{{$.outputs.artifacts['handoff'].path}}"
        res = c["resources"]
        assert (res["resourceCpuRequest"], res["resourceMemoryRequest"]) == (s.cpu, s.memory), s.name  # the row's


def test_every_step_exports_the_pipelines_mlflow_parameter(spec: dict[str, Any]) -> None:
    (param,) = spec["root"]["inputDefinitions"]["parameters"].items()
    assert param == (MLFLOW_PARAMETER, {"defaultValue": MLFLOW_DEFAULT, "isOptional": True, "parameterType": "STRING"})
    for name, t in spec["root"]["dag"]["tasks"].items():
        given = t["inputs"]["parameters"][MLFLOW_PARAMETER]
        assert given == {"componentInputParameter": MLFLOW_PARAMETER}, name
    for name, e in spec["deploymentSpec"]["executors"].items():
        c = e["container"]
        assert c["args"][0] == f"{{{{$.inputs.parameters['{MLFLOW_PARAMETER}']}}}}", name
        assert c["command"][2].splitlines()[1] == 'export MLFLOW_TRACKING_URI="$1"; shift', name
