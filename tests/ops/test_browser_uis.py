"""Seen in a real browser: a run against both servers shows up in the Prefect UI and the MLflow UI.

Starts (through the session fixtures) the Prefect server and the MLflow server as ``soundflow server`` does, runs
a workflow's flow at the tiny size against them, then loads the Prefect UI's flow-runs page and the MLflow UI's
experiment and run pages in headless Chromium and waits for the run names to be rendered; and, after two
``dvc exp run -S`` variants of the AED workflow, MLflow's compare page of their two evaluation runs (and DVC's own
view of them, ``dvc exp show --only-changed``). Screenshots are kept in ``.soundflow/test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from flows.workflows.aed import AED_METRICS
from flows.workflows.aed import WORKFLOW as AED
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.browser import chromium, headless
from tests.helpers.commands import sh
from tests.helpers.exp_show import check_only_changed
from tests.helpers.paths import ROOT
from tests.helpers.servers import Running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (`make install-test` installs it)"),
]
SHOTS = ROOT / ".soundflow" / "test-artifacts" / "browser"
FLOW = "aed"  # the project's first workflow: four stages, under a minute at the tiny size


def flow_run_names(api: str) -> list[str]:
    req = urllib.request.Request(f"{api}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return [run["name"] for run in json.load(r)]


def test_a_flow_run_appears_in_the_prefect_and_mlflow_uis(
    prefect_server: Running, mlflow_server: Running, cli_env: dict[str, str], tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    project = copy_project(ROOT, tmp_path / "project", TINY)
    env = dict(cli_env, PREFECT_API_URL=f"{prefect_server.url}/api", MLFLOW_TRACKING_URI=mlflow_server.url)
    sh(["soundflow", "run", "--flow", FLOW], project, env)

    prefect_names = flow_run_names(f"{prefect_server.url}/api")
    assert prefect_names, "the flow run was not recorded by the Prefect server"
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name(f"soundflow/{FLOW}")  # the workflow's own experiment
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    parent = next(name for name, r in runs.items() if "mlflow.parentRunId" not in r.data.tags)
    evaluate = runs["aed_evaluate"]

    with headless(tmp_path / "chromium-profile") as browser:
        browser.open(f"{prefect_server.url}/runs")
        browser.wait_for_text([FLOW, *prefect_names, "Completed"], timeout=90)
        browser.screenshot(SHOTS / "prefect-flow-runs.png")

        browser.open(f"{mlflow_server.url}/#/experiments/{exp.experiment_id}/runs")
        browser.wait_for_text(["soundflow", parent], timeout=90)
        browser.screenshot(SHOTS / "mlflow-experiment.png")

        browser.open(f"{mlflow_server.url}/#/experiments/{exp.experiment_id}/runs/{evaluate.info.run_id}")
        browser.wait_for_text(["aed_evaluate", "accuracy"], timeout=90)
        browser.screenshot(SHOTS / "mlflow-run-aed-evaluate.png")
    for name in ("prefect-flow-runs.png", "mlflow-experiment.png", "mlflow-run-aed-evaluate.png"):
        assert (SHOTS / name).stat().st_size > 10_000  # a rendered page, not a blank one


def js_metric(v: float) -> str:
    """A metric as MLflow's UI prints it (Utils.formatMetric: 3 decimals below 10, JavaScript's number text)."""
    rounded = math.floor(v * 1000 + 0.5) / 1000
    return str(int(rounded)) if rounded == int(rounded) else repr(rounded)


def test_mlflow_compares_two_dvc_experiments_of_a_workflow(
    mlflow_server: Running, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Two ``dvc exp run -S`` variants of the AED (its stages only: the cheapest workflow at the tiny size): MLflow's
    compare page of the two evaluation runs lists the parameter that differs, from their upstream training stage,
    and each run's headline metrics; so does ``dvc exp show --only-changed``, its headlines numbers, first."""
    from mlflow.tracking import MlflowClient

    # its own experiment prefix: the session's server holds the other browser test's AED runs
    project = copy_project(ROOT, tmp_path / "project", {**TINY, "tracking.experiment": "dvc-exps"})
    env = dict(cli_env, MLFLOW_TRACKING_URI=mlflow_server.url)
    # a parameter of the training that changes the checkpoint: DVC reruns an evaluation only on a new one (more
    # epochs at this size can keep the same best epoch, hence the same file, and rightly reuse the evaluation)
    for width in (4, 8):
        sh(["dvc", "exp", "run", "aed_evaluate", "-S", f"aed.model.width={width}"], project, env)
    check_only_changed(project, env, "aed.model.width", [4, 8], AED_METRICS, list(AED.headlines.values()))
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name("dvc-exps/aed")
    evaluations = client.search_runs(
        [exp.experiment_id], "tags.`soundflow.stage` = 'aed_evaluate'", order_by=["attributes.start_time ASC"]
    )
    assert len(evaluations) == 2
    assert [r.data.params["aed.model.width"] for r in evaluations] == ["4", "8"]  # aed_train's, on the evaluation
    assert all(r.data.tags["soundflow.git_dirty"] == "false" for r in evaluations)  # params.yaml is no code edit
    values = [js_metric(r.data.metrics[k]) for r in evaluations for k in ("accuracy", "MAP")]

    ids = json.dumps([r.info.run_id for r in evaluations])
    query = f"runs={urllib.parse.quote(ids)}&experiments={urllib.parse.quote(json.dumps([exp.experiment_id]))}"
    with headless(tmp_path / "chromium-profile") as browser:
        browser.open(f"{mlflow_server.url}/#/compare-runs?{query}")
        browser.wait_for_text(["aed.model.width", "accuracy", "MAP", *values], timeout=120)
        browser.screenshot(SHOTS / "mlflow-compare-aed-evaluate.png")
    assert (SHOTS / "mlflow-compare-aed-evaluate.png").stat().st_size > 10_000
