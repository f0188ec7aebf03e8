"""The flows' state hooks: a deployment's run says when it starts, and a failed run can tell someone.

A failure is sent where the environment of the process that runs the flow says (``soundflow serve``,
``soundflow worker``, ``soundflow run``), to either or both:

- ``SOUNDFLOW_FAILURE_WEBHOOK``: a URL that gets a JSON POST (flow, flow run, deployment, state, message, link);
- ``SOUNDFLOW_FAILURE_BLOCK``: a Prefect notification block saved on the server, by ``<block type>/<name>``
  (``custom-webhook/ops``, ``slack-webhook/team``, ...), whose ``notify(body, subject)`` sends it.

Neither set: nothing is sent. A notification that cannot be sent is logged and never changes the run's state.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

WEBHOOK_ENV = "SOUNDFLOW_FAILURE_WEBHOOK"
BLOCK_ENV = "SOUNDFLOW_FAILURE_BLOCK"
SEND_TIMEOUT_SECONDS = 10


def _deployment_name(flow_run: Any) -> str | None:
    """``flow/deployment`` of the run, None for a run started without one (``soundflow run``)."""
    if flow_run.deployment_id is None:
        return None
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        d = client.read_deployment(flow_run.deployment_id)
        return f"{client.read_flow(d.flow_id).name}/{d.name}"


def announce_start(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_running``: the run of a deployment, by name, and when it started (in the terminal of the process
    that serves or works it, and in the run's log)."""
    from prefect.logging.loggers import flow_run_logger

    deployment = _deployment_name(flow_run)
    if deployment is not None:
        when = state.timestamp.strftime("%Y-%m-%d %H:%M:%S %Z")
        logger = flow_run_logger(flow_run, flow)
        logger.info("flow run %r of deployment %s started at %s", flow_run.name, deployment, when)


def failure_report(flow: Any, flow_run: Any, state: Any) -> dict[str, Any]:
    from prefect.settings import get_current_settings

    ui = get_current_settings().ui_url
    return {
        "flow": flow.name,
        "flow_run": flow_run.name,
        "flow_run_id": str(flow_run.id),
        "deployment": _deployment_name(flow_run),
        "parameters": flow_run.parameters,
        "state": state.name,
        "message": state.message,
        "url": f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else None,
    }


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` / ``on_crashed``: the report to the webhook and the block the environment names."""
    from prefect.logging.loggers import flow_run_logger

    url, block = os.environ.get(WEBHOOK_ENV), os.environ.get(BLOCK_ENV)
    if not (url or block):
        return
    logger = flow_run_logger(flow_run, flow)
    report = failure_report(flow, flow_run, state)
    subject = f"soundflow: flow run {report['flow_run']} of {report['deployment'] or report['flow']} {state.name}"
    for where, send in ((url, _post), (block, _to_block)):
        if not where:
            continue
        try:
            send(where, report, subject)
            logger.info("failure sent to %s", where)
        except Exception as err:  # the run has failed already: a lost notification must not hide why
            logger.warning("could not send the failure to %s: %s: %s", where, type(err).__name__, err)


def _post(url: str, report: dict[str, Any], subject: str) -> None:
    body = json.dumps({"subject": subject, **report}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=SEND_TIMEOUT_SECONDS) as r:
        r.read()


def _to_block(name: str, report: dict[str, Any], subject: str) -> None:
    from prefect.blocks.core import Block

    body = "\n".join(f"{k}: {v}" for k, v in report.items() if v is not None)
    Block.load(name).notify(body, subject)
