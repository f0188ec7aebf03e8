"""The Kubernetes work pool: deploy/kubernetes/prefect.yaml's job variables rendered into the pool's base job
template with Prefect's own templating, as the worker does, with no cluster: the GPU request, image, env and
volumes land in the Job spec, and no job variable is one the template ignores."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prefect.utilities.templating import apply_values

from flows.pipeline import FLOWS
from soundflow.pipeline import dag
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.stages import STAGES, get_stage
from tests.helpers.paths import ROOT

TEMPLATE = ROOT / "deploy/kubernetes/base-job-template.json"
PREFECT_FILE = ROOT / "deploy/kubernetes/prefect.yaml"
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
# Prefect's Kubernetes worker (prefect-kubernetes 0.8.0) default variables; ours are added to these
PREFECT_DEFAULT_VARIABLES = {
    "name", "env", "labels", "command", "annotations", "namespace", "image", "service_account_name",
    "image_pull_policy", "backoff_limit", "finished_job_ttl", "job_watch_timeout_seconds",
    "pod_watch_timeout_seconds", "stream_output", "cluster_config", "cpu_request", "cpu_limit",
    "memory_request", "memory_limit",
}  # fmt: skip
OURS = {"gpu", "s3_secret", "volumes", "volume_mounts"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def deployments() -> list[dict[str, Any]]:
    return yaml.safe_load(PREFECT_FILE.read_text())["deployments"]


def _readme_secret() -> str:
    """The Secret the README's `kubectl create secret generic NAME ...` creates."""
    (name,) = re.findall(r"kubectl create secret generic (\S+)", (ROOT / "README.md").read_text())
    return name


README_SECRET = _readme_secret()


def _lock_link() -> str:
    """Where the Dockerfile links dvc.lock (`ln -sf TARGET dvc.lock`)."""
    (target,) = re.findall(r"ln -sf (\S+) dvc\.lock", (ROOT / "Dockerfile").read_text())
    return target


def _image_gid() -> int:
    (gid,) = re.findall(r"groupadd --gid (\d+) soundflow", (ROOT / "Dockerfile").read_text())
    return int(gid)


def render(template: dict[str, Any], job_variables: dict[str, Any]) -> dict[str, Any]:
    """What the worker does (prefect.workers.base.BaseJobConfiguration.from_template_and_values): the
    variables' defaults, overridden by the deployment's job variables, substituted into the configuration."""
    props = template["variables"]["properties"]
    values = {k: v["default"] for k, v in props.items() if v.get("default") is not None}
    values.update(job_variables)
    return apply_values(copy.deepcopy(template["job_configuration"]), values)


def _container(config: dict[str, Any]) -> dict[str, Any]:
    (c,) = config["job_manifest"]["spec"]["template"]["spec"]["containers"]
    return c


def _placeholders(obj: Any) -> set[str]:
    return set(PLACEHOLDER.findall(json.dumps(obj)))


def test_the_template_is_prefects_with_gpu_and_volumes_referenced_in_the_job(template: dict[str, Any]) -> None:
    props = set(template["variables"]["properties"])
    assert props == PREFECT_DEFAULT_VARIABLES | OURS
    # every variable reaches the job configuration (one not referenced would be silently ignored) and back
    assert _placeholders(template["job_configuration"]) == props
    job = template["job_configuration"]["job_manifest"]
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    assert OURS <= _placeholders(job)
    jsonschema.Draft202012Validator.check_schema(template["variables"])


def test_every_deployment_renders_its_image_gpu_env_and_volumes_into_the_job(
    template: dict[str, Any], deployments: list[dict[str, Any]]
) -> None:
    from hera.workflows.models.io.k8s.api.core.v1 import Container, Volume

    for d in deployments:
        jv = d["work_pool"]["job_variables"]
        assert set(jv) <= set(template["variables"]["properties"]), d["name"]  # none ignored by the template
        jsonschema.validate(jv, template["variables"])  # as the server validates job variables
        config = render(template, jv)
        c = _container(config)
        assert c["image"] == jv["image"] == "soundflow:cuda"
        gpus = jv["gpu"]  # 1, or 0 for the data flow, which trains nothing (checked against the stages below)
        assert c["resources"]["limits"]["nvidia.com/gpu"] == c["resources"]["requests"]["nvidia.com/gpu"] == gpus
        assert c["resources"]["requests"]["cpu"] == "4" and "cpu" not in c["resources"]["limits"]  # unset: dropped
        assert c["env"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert c["envFrom"] == [{"secretRef": {"name": README_SECRET}}]  # the DVC remote's credentials
        pod = config["job_manifest"]["spec"]["template"]["spec"]
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "soundflow-workspace"
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert mounts >= {"/soundflow/data", "/soundflow/outputs", "/soundflow/reports", "/soundflow/.dvc/cache"}
        assert f"/soundflow/{Path(_lock_link()).parent}" in mounts  # dvc.lock, through the image's link
        assert len({m["subPath"] for m in c["volumeMounts"]}) == len(c["volumeMounts"])  # none shares another's
        assert pod["securityContext"]["fsGroup"] == _image_gid()  # the claim writable by the image's user
        # valid Kubernetes objects (the worker turns the env mapping into a list of name/value pairs; the API
        # server reads a quantity given as a JSON number as its decimal string, the models take only the string)
        quantities = {kind: {k: str(v) for k, v in q.items()} for kind, q in c["resources"].items()}
        k8s = {**c, "env": [{"name": k, "value": v} for k, v in c["env"].items()], "resources": quantities}
        assert Container.model_validate(k8s).resources.limits["nvidia.com/gpu"].root == str(gpus)
        assert all(Volume.model_validate(v) for v in pod["volumes"])


def test_without_job_variables_no_gpu_and_the_default_image(template: dict[str, Any]) -> None:
    c = _container(render(template, {}))
    assert c["image"] == "soundflow:latest"
    assert c["envFrom"] == [{"secretRef": {"name": README_SECRET}}]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 0
    assert c["volumeMounts"] == [] and "cpu" not in c["resources"]["requests"]


def test_one_deployment_per_flow_with_a_gpu_where_its_stages_train(deployments: list[dict[str, Any]]) -> None:
    by_entry = {d["entrypoint"]: d for d in deployments}
    assert set(by_entry) == {f"flows/pipeline.py:{fn.fn.__name__}" for fn in FLOWS.values()}
    assert len({d["name"] for d in deployments}) == len(deployments)
    raw = read_params_yaml(ROOT / "params.yaml")
    for name, fn in FLOWS.items():
        mine = [s.name for s in STAGES if name == "soundflow" or s.flow == name]
        runs = dag.topological_order(raw, mine)  # the flow's stages and their upstream, as _workflow runs them
        gpu = by_entry[f"flows/pipeline.py:{fn.fn.__name__}"]["work_pool"]["job_variables"]["gpu"]
        assert gpu == (1 if any(get_stage(s).trains for s in runs) else 0), name
        assert by_entry[f"flows/pipeline.py:{fn.fn.__name__}"]["parameters"] == {"root": "/soundflow"}


def test_the_pull_step_enters_the_images_workdir() -> None:
    config = yaml.safe_load(PREFECT_FILE.read_text())
    (step,) = config["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == "/soundflow"
    assert "WORKDIR /soundflow" in (ROOT / "Dockerfile").read_text()
    assert Path(ROOT / "flows/pipeline.py").is_file()
