"""``soundflow export argo``: a golden file, Argo's schema (hera's generated models), the DAG itself, and what each
step needs on a real cluster: the DVC remote, the MLflow server, its CPU, memory and GPU requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from soundflow.pipeline import dag
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.export import argo
from soundflow.pipeline.export.steps import MLFLOW_DEFAULT, MLFLOW_PARAMETER, S3_SECRET, gpus, task_name
from soundflow.pipeline.stages import STAGES, get_stage
from tests.helpers.golden import check_golden

GOLDEN = Path(__file__).parent / "golden" / "argo-workflow.yaml"


@pytest.fixture(scope="module")
def text(project: Path) -> str:
    return argo.render(project)


@pytest.fixture(scope="module")
def wf(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def _tasks(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (entry,) = [t for t in wf["spec"]["templates"] if t["name"] == wf["spec"]["entrypoint"]]
    return {t["name"]: t for t in entry["dag"]["tasks"]}


def test_matches_the_golden_file(text: str) -> None:
    check_golden(GOLDEN, text)


def test_is_a_valid_argo_workflow(wf: dict[str, Any]) -> None:
    from hera.workflows.models import Workflow

    assert wf["apiVersion"] == "argoproj.io/v1alpha1" and wf["kind"] == "Workflow"
    model = Workflow.model_validate(wf)  # Argo's OpenAPI schema, as hera generates its models from it
    # a round trip keeps every key: none unknown to the schema (the models ignore those), none mistyped
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == wf
    templates = {t["name"] for t in wf["spec"]["templates"]}
    tasks = _tasks(wf)
    assert all(t["template"] in templates for t in tasks.values())
    assert all(set(t.get("dependencies", [])) <= set(tasks) for t in tasks.values())
    for t in tasks.values():  # every input artifact comes from a task it depends on
        for a in t.get("arguments", {}).get("artifacts", []):
            producer = a["from"].split(".")[1]
            assert producer in t["dependencies"], (t["name"], a)


def test_the_dag_is_the_stage_dag(wf: dict[str, Any], root: Path) -> None:
    graph = dag.upstream(read_params_yaml(root / "params.yaml"))
    expected = {task_name(n): {task_name(u) for u in ups} for n, ups in graph.items()}
    assert {n: set(t.get("dependencies", [])) for n, t in _tasks(wf).items()} == expected
    assert len(_tasks(wf)) == len(STAGES)


def test_each_step_runs_its_stage_between_dvc_pull_and_push(wf: dict[str, Any]) -> None:
    by_name = {t["name"]: t for t in wf["spec"]["templates"] if "container" in t}
    assert {c["container"]["image"] for c in by_name.values()} == {"soundflow:latest"}
    for s in STAGES:
        c = by_name[task_name(s.name)]["container"]
        script = c["command"][2]
        lines = script.splitlines()
        run = lines.index(s.cmd)  # the command dvc.yaml runs, verbatim
        assert lines[run + 1 :] == [
            f"dvc commit --force {s.name}",
            f"dvc push -r storage {s.name}",  # the default remote of .dvc/config, named
            f'python -m soundflow.pipeline.export.handoff send {s.name} "$out"',
        ]
        assert lines[3] == 'python -m soundflow.pipeline.export.handoff receive "$@"'
        assert {"secretRef": {"name": S3_SECRET}} in c["envFrom"]


def test_pulls_exactly_the_cached_upstream_outputs(wf: dict[str, Any]) -> None:
    scripts = {t["name"]: t["container"]["command"][2] for t in wf["spec"]["templates"] if "container" in t}
    assert "dvc pull" not in scripts["urban-synth"]  # no upstream
    assert "dvc pull -r storage data/generated/street_scenes outputs/seg/erfnet.pt\n" in scripts["seg-evaluate"]
    # the class weights are a metrics file, in DVC's cache like every output: pulled, so the cache holds them
    assert "dvc pull -r storage data/generated/street_scenes reports/seg/class_weights.json\n" in scripts["seg-train"]
    # configs/ is in the image
    pull = "dvc pull -r storage outputs/seg/predictions/fractions.csv data/generated/sound_library\n"
    assert pull in scripts["soundscapes"]


def test_gpu_requested_exactly_where_a_stage_trains(wf: dict[str, Any]) -> None:
    gpu = {
        t["name"]
        for t in wf["spec"]["templates"]
        if t.get("container", {}).get("resources", {}).get("limits", {}).get("nvidia.com/gpu") == "1"
    }
    assert gpu == {task_name(s.name) for s in STAGES if gpus(s)} == {task_name(s.name) for s in STAGES if s.trains}
    assert {"aed-train", "seg-train", "t2a-train", "loc-stage1", "transcoder-teacher"} <= gpu
    assert not gpu & {"datasets", "urban-synth", "aed-features", "street-scenes", "t2a-generate", "loc-scenes"}
    assert get_stage("aed_train").trains and not get_stage("aed_features").trains


def test_every_step_requests_its_stage_rows_cpu_and_memory(wf: dict[str, Any]) -> None:
    by_name = {t["name"]: t["container"] for t in wf["spec"]["templates"] if "container" in t}
    for s in STAGES:
        requests = by_name[task_name(s.name)]["resources"]["requests"]
        assert (requests["cpu"], requests["memory"]) == (s.cpu, s.memory), s.name
    assert by_name["aed-train"]["resources"]["requests"]["memory"] == "16Gi"  # flows/workflows/aed.py's row
    assert by_name["urban-synth"]["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}  # Stage's defaults


def test_every_step_logs_to_the_mlflow_server_of_the_workflow_parameter(wf: dict[str, Any]) -> None:
    (param,) = wf["spec"]["arguments"]["parameters"]
    assert param["name"] == MLFLOW_PARAMETER and param["value"] == MLFLOW_DEFAULT  # `argo submit -p` overrides it
    for t in wf["spec"]["templates"]:
        if "container" in t:
            env = {e["name"]: e["value"] for e in t["container"]["env"]}
            assert env["MLFLOW_TRACKING_URI"] == f"{{{{workflow.parameters.{MLFLOW_PARAMETER}}}}}", t["name"]


def test_image_and_remote_options(project: Path) -> None:
    wf = yaml.safe_load(argo.render(project, image="registry.example/soundflow:cuda", remote="archive"))
    containers = [t["container"] for t in wf["spec"]["templates"] if "container" in t]
    assert {c["image"] for c in containers} == {"registry.example/soundflow:cuda"}
    assert all("dvc push -r archive " in c["command"][2] for c in containers)
