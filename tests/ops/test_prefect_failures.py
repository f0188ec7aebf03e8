"""A failing stage under Prefect, against the session's real server: retried only when a server or the network
failed, stopped at its time limit, and a failed flow run sent to a webhook and to a notification block.

Each flow runs in its own process, as a served or deployed one does (Prefect's log and event workers must not
live on in the test process).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.servers import Running, base_env

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

# The stage's work (runner.run_stage_if_stale) fails as it would against a server that is down or on a bad
# parameter; the task around it is the real stage task, its retry condition and time limit Prefect's.
STAGE_FAILURES = """
import json, sys, time, urllib.request
from prefect import flow
from prefect.cache_policies import NO_CACHE
from flows.stage_task import stage_task
from soundflow.pipeline import runner
from soundflow.pipeline.config import ParamsError
from soundflow.pipeline.ops.servers import free_port

attempts = {}


def work(name, root, force=False):
    attempts[name] = attempts.get(name, 0) + 1
    if name == "flaky" and attempts[name] == 1:
        urllib.request.urlopen(f"http://127.0.0.1:{free_port()}/api/health", timeout=5)  # nobody listens: refused
    if name == "bad":
        raise ParamsError("params.yaml: aed.train.epochs: must be at least 1")
    if name == "hung":
        time.sleep(120)
    return runner.StageOutcome(name, True, 0.0, [], ["forced"])


runner.run_stage_if_stale = work


@flow(name="stage-failures")
def stages(root: str) -> dict:
    task = stage_task.with_options(retry_delay_seconds=0, timeout_seconds=4, cache_policy=NO_CACHE)
    return {n: task.with_options(name=n)(n, root, return_state=True).name for n in ("flaky", "bad", "hung")}


print(json.dumps({"states": stages(sys.argv[1]), "attempts": attempts}))
"""

FAILED_FLOW = """
import sys
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from flows.pipeline import pipeline

text = {"text": "{{subject}}|{{body}}"}
block = CustomWebhookNotificationBlock(name="soundflow-ops", url=sys.argv[2], json_data=text)
block.save("failure-test", overwrite=True)
state = pipeline(root=sys.argv[1], return_state=True)  # no params.yaml there: the flow fails before any stage
print(state.name, state.state_details.flow_run_id)
"""


def _run(script: str, args: list[str], server: Running, **extra: str) -> str:
    env = dict(base_env(), PREFECT_API_URL=f"{server.url}/api", PYTHONPATH=str(ROOT), **extra)
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_a_stage_is_retried_on_a_network_failure_only_and_stopped_at_its_limit(
    prefect_server: Running, tmp_path: Path
) -> None:
    got = json.loads(_run(STAGE_FAILURES, [str(tmp_path)], prefect_server, PREFECT_HOME=str(tmp_path / "home")))
    assert got["states"] == {"flaky": "Completed", "bad": "Failed", "hung": "TimedOut"}
    assert got["attempts"] == {"flaky": 2, "bad": 1, "hung": 1}  # a bad parameter or a time limit: no retry


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    """A local HTTP receiver: its URL, and the (path, JSON body) of each POST it got."""
    got: list[tuple[str, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_failed_flow_run_is_sent_to_the_webhook_and_the_block(
    prefect_server: Running, tmp_path: Path, receiver: tuple[str, list[tuple[str, dict]]]
) -> None:
    url, got = receiver
    env = {"SOUNDFLOW_FAILURE_WEBHOOK": f"{url}/hook", "SOUNDFLOW_FAILURE_BLOCK": "custom-webhook/failure-test"}
    state, run_id = _run(FAILED_FLOW, [str(tmp_path / "nowhere"), f"{url}/block"], prefect_server,
                         PREFECT_HOME=str(tmp_path / "home"), **env).split()  # fmt: skip
    assert state == "Failed"
    posts = dict(got)
    assert set(posts) == {"/hook", "/block"}, got
    hook = posts["/hook"]
    assert hook["flow"] == "soundflow" and hook["flow_run_id"] == run_id and hook["state"] == "Failed"
    assert hook["deployment"] is None and hook["parameters"]["root"] == str(tmp_path / "nowhere")
    assert "params.yaml" in hook["message"] and hook["subject"].startswith(f"soundflow: flow run {hook['flow_run']}")
    assert hook["url"].endswith(f"/runs/flow-run/{run_id}")  # the run's page in the UI
    assert posts["/block"]["text"].startswith(hook["subject"]) and f"flow_run_id: {run_id}" in posts["/block"]["text"]


def test_no_notification_without_a_destination(prefect_server: Running, tmp_path: Path, receiver: tuple) -> None:
    url, got = receiver
    state, _ = _run(FAILED_FLOW, [str(tmp_path / "nowhere"), f"{url}/block"], prefect_server,
                    PREFECT_HOME=str(tmp_path / "home")).split()  # fmt: skip
    assert state == "Failed" and got == []
