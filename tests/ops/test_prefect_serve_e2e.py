"""End to end: an interval schedule in params.yaml makes a flow run that ``soundflow serve`` executes to Completed.

A tiny copy of the project, its ``soundflow`` flow scheduled every few seconds for one cheap stage (the procedural
urban-sound dataset, generated for real); the served process runs against the session's Prefect server, and the
run's stage leaves its logs (computed, where its outputs are) and its artifact (its MLflow run) there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.ops import servers
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.paths import ROOT
from tests.helpers.prefect_api import client_of, poll
from tests.helpers.servers import Running, base_env

pytestmark = pytest.mark.slow

EVERY_SECONDS = 5
STAGE = "urban_synth"


def scheduled_project(dst: Path) -> Path:
    project = copy_project(ROOT, dst, TINY)
    raw = read_params_yaml(project / "params.yaml")
    raw["schedules"]["soundflow"] = {"cron": None, "interval_seconds": EVERY_SECONDS, "timezone": "UTC",
                                     "active": True, "parameters": {"stages": [STAGE]}}  # fmt: skip
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return project


def first_finished_run(client: object, deployment_id: object, log: Path) -> object | None:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    bad = [r for r in runs if r.state and r.state.type.value in ("FAILED", "CRASHED")]
    assert not bad, f"{bad[0].name}: {bad[0].state.message}\n{log.read_text(errors='replace')[-4000:]}"
    done = [r for r in runs if r.state and r.state.type.value == "COMPLETED"]
    return done[0] if done else None


def test_a_scheduled_run_is_executed_by_the_served_process(prefect_server: Running, tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    project = scheduled_project(tmp_path / "project")
    env = dict(base_env(), PREFECT_API_URL=f"{prefect_server.url}/api", PREFECT_HOME=str(tmp_path / "home"))
    env.update(PYTHONPATH=str(project), PREFECT_RUNNER_POLL_FREQUENCY="2", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    t0 = time.monotonic()
    argv = [sys.executable, "-m", "soundflow", "serve", "--flow", "soundflow"]
    serve = subprocess.Popen(argv, cwd=project, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                             start_new_session=True)  # fmt: skip
    try:
        with client_of(prefect_server) as client:
            deployment = poll("the served deployment with its active schedule",
                              lambda: _served(client, str(project)), timeout=180)  # fmt: skip
            t_served = time.monotonic() - t0
            run = poll("a scheduled run Completed", lambda: first_finished_run(client, deployment.id, log), 240, 2)
            t_done = time.monotonic() - t0
            # logs reach the server in batches, after the run's state: waited for too
            logs = poll("the stage's log lines", lambda: _stage_logs(client, run.id), timeout=60)
            artifact = Artifact.get("stage-urban-synth")
    finally:
        servers.stop(serve)
    print(f"\nPrefect server ready in {prefect_server.seconds_to_ready:.1f} s; serve: deployment up {t_served:.1f} s, "
          f"scheduled run Completed {t_done:.1f} s after start")  # fmt: skip
    assert run.parameters == {"root": str(project), "stages": [STAGE]} and run.auto_scheduled
    # serve said when the deployment runs next, and each run says when it started, there and in its log
    said = log.read_text(errors="replace")
    assert f"soundflow serve: soundflow/soundflow: every {EVERY_SECONDS} s, next run " in said, said[-3000:]
    started = f"flow run {run.name!r} of deployment soundflow/soundflow started at "
    assert started in said and any(m.startswith(started) for m in logs), logs
    assert any(m.startswith(f"{STAGE}: computed in") for m in logs), logs
    assert f"{STAGE}: outputs in {project}: data/generated/urban_synth" in logs
    assert (project / "data/generated/urban_synth").is_dir()  # real work, in the project the flow was served from
    assert artifact is not None and artifact.flow_run_id == run.id
    assert "computed in this run" in artifact.data and "declares no metrics" in artifact.data
    assert f"in `sqlite:///{project / 'mlruns.db'}`" in artifact.data  # the run id and the store it is in


def _stage_logs(client: object, run_id: object) -> list[str] | None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = [e.message for e in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))]
    return logs if any(m.startswith(f"{STAGE}: outputs in") for m in logs) else None


def _served(client: object, project: str) -> object | None:
    from prefect.exceptions import ObjectNotFound

    try:
        d = client.read_deployment_by_name("soundflow/soundflow")
    except ObjectNotFound:
        return None
    fresh = d.parameters.get("root") == project and d.schedules and d.schedules[0].active
    return d if fresh else None
