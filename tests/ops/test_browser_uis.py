"""Seen in a real browser: a run against both servers shows up in the Prefect UI and the MLflow UI.

Starts (through the session fixtures) the Prefect server and the MLflow server as ``soundflow server`` does, runs
a workflow's flow at the tiny size against them, then loads the Prefect UI's flow-runs page and the MLflow UI's
experiment and run pages in headless Chromium and waits for the run names to be rendered. Screenshots are kept
in ``.soundflow/test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.browser import chromium, headless
from tests.helpers.commands import sh
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
    exp = client.get_experiment_by_name("soundflow")
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
