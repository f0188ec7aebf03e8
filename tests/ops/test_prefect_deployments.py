"""Deployments, the work pool and stage artifacts against a real Prefect server (the session's one)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from flows.pipeline import FLOWS
from soundflow.pipeline.ops import deployments, prefect_cli, servers
from tests.helpers.paths import ROOT
from tests.helpers.prefect_api import client_of, poll
from tests.helpers.servers import Running, base_env

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)


def test_served_deployments_carry_schedules_and_typed_parameters(prefect_server: Running) -> None:
    with client_of(prefect_server) as client:
        for d in deployments.runner_deployments(ROOT):
            d.apply()
        got = {name: client.read_deployment_by_name(f"{name}/{name}") for name in FLOWS}
    main = got["soundflow"]
    assert main.parameters == {"root": str(ROOT)} and main.tags == deployments.TAGS
    (schedule,) = main.schedules  # the committed params.yaml: a nightly run, created paused
    assert schedule.schedule.cron == "0 2 * * *" and schedule.active is False
    props = main.parameter_openapi_schema["properties"]
    assert props["force"]["type"] == "boolean" and props["force"]["default"] is False  # shown and editable in the UI
    assert props["stages"]["anyOf"][0]["type"] == "array"
    assert all(got[n].schedules == [] for n in FLOWS if n != "soundflow")
    assert all(got[n].description for n in FLOWS)


def test_worker_creates_the_pool_and_prefect_deploy_registers_every_flow_apart_from_serve(
    prefect_server: Running, tmp_path: Path
) -> None:
    """`prefect deploy --all` after `soundflow serve` registered a scheduled deployment: the pool's deployments
    are its own, with no schedule, and serve's keeps its schedule and no pool (no worker runs what serve owns)."""
    env = dict(base_env(), PREFECT_API_URL=f"{prefect_server.url}/api", PREFECT_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = str(ROOT)
    worker = subprocess.Popen([sys.executable, "-m", "soundflow", "worker"], cwd=ROOT, env=env,
                              stdout=(tmp_path / "worker.log").open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    try:
        with client_of(prefect_server) as client:
            pool = prefect_cli.DEFAULT_POOL
            poll("a worker on the pool", lambda: _workers(client, pool), timeout=120)
            assert client.read_work_pool(pool).type == "process"
            served = deployments.runner_deployments(ROOT)
            for d in served:
                if d.name == "soundflow":  # switched on, as `active: true` in params.yaml does
                    d.schedules[0].active = True
                d.apply()
            out = subprocess.run(["prefect", "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
            for name in FLOWS:
                d = client.read_deployment_by_name(f"{name}/{name}{deployments.POOL_SUFFIX}")
                assert d.work_pool_name == pool and d.entrypoint.startswith("flows/pipeline.py:")
                assert d.pull_steps == [
                    {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $SOUNDFLOW_ROOT }}"}}
                ]
                assert d.schedules == [], f"{d.name}: {d.schedules}"  # nothing of serve's schedule reached it
                assert client.read_deployment_by_name(f"{name}/{name}").work_pool_name is None  # serve's, untouched
            (kept,) = client.read_deployment_by_name("soundflow/soundflow").schedules
            assert kept.active and kept.schedule.cron == "0 2 * * *"
            for d in deployments.runner_deployments(ROOT):  # as the committed params.yaml has them: paused
                d.apply()
        below = psutil.Process(worker.pid).children(recursive=True)
        assert any("worker" in p.cmdline() for p in below), "no Prefect worker below `soundflow worker`"
        worker.send_signal(signal.SIGTERM)  # to `soundflow worker` alone, as `kill` or systemd send it
        assert worker.wait(60) is not None
        _, alive = psutil.wait_procs(below, timeout=30)  # its Prefect worker ends with it, not adopted by init
        assert not alive, [p.cmdline() for p in alive]
    finally:
        servers.stop(worker)
    assert f"flow runs in {ROOT}" in (tmp_path / "worker.log").read_text()


def _workers(client: object, pool: str) -> list:
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_work_pool(pool)
    except ObjectNotFound:  # `soundflow worker` has not created it yet
        return []
    return client.read_workers_for_work_pool(pool)


PUBLISH_IN_A_FLOW = """
import sys
from pathlib import Path

from prefect import flow

from soundflow.pipeline.ops import stage_artifacts


@flow(name="artifact-check")
def publish_one() -> str:
    return stage_artifacts.publish("aed_evaluate", Path(sys.argv[1]), "ops-artifacts", True, [sys.argv[2]])


state = publish_one(return_state=True)
print(state.result(), state.state_details.flow_run_id)
"""


def test_a_stage_publishes_its_metrics_and_mlflow_link_as_an_artifact(
    prefect_server: Running, mlflow_server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uuid import UUID

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from soundflow.pipeline.tracking import Tracker, workflow_experiment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    (tmp_path / "reports/aed").mkdir(parents=True)
    (tmp_path / "reports/aed/metrics.json").write_text(json.dumps({"accuracy": 0.75, "n_files": 8}))
    tracker = Tracker(tmp_path, workflow_experiment("ops-artifacts", "aed"))  # the stage's workflow's experiment
    run_id = tracker.stage_run("aed_evaluate", None, {}, {})
    tracker.finish(run_id)

    # the flow runs in its own process, as a served or deployed flow does: Prefect's log and event workers,
    # started by a flow run against a server, must not live on in the test process (forked DataLoader
    # workers of later tests inherit them)
    env = dict(base_env(), PREFECT_API_URL=f"{prefect_server.url}/api", MLFLOW_TRACKING_URI=mlflow_server.url)
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", PUBLISH_IN_A_FLOW, str(tmp_path), "reports/aed/metrics.json"],
                         env=env, capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    key, flow_run_id = out.stdout.split()[-2:]
    with client_of(prefect_server) as client:
        # the session's server also holds the artifacts of other tests' runs of this stage: this run's one
        this_run = ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=this_run)
        )
        assert artifact.type == "markdown" and client.read_flow_run(artifact.flow_run_id).name
    md = artifact.data
    assert "| `accuracy` | 0.75 |" in md and "| `n_files` | 8 |" in md
    assert f"({mlflow_server.url}/#/experiments/{tracker.experiment_id}/runs/{run_id})" in md
    assert "computed in this run" in md


def test_serve_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    env = dict(base_env(), PREFECT_API_URL=f"http://127.0.0.1:{servers.free_port()}/api", PYTHONPATH=str(ROOT))
    env["PREFECT_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "soundflow", "serve"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1
    assert "no Prefect server answers at PREFECT_API_URL" in out.stderr and "soundflow server prefect" in out.stderr
