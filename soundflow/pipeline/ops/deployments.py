"""Deployments of the project's flows: one per flow of ``flows/pipeline.py``, its schedule from params.yaml.

``soundflow serve`` serves them all from one process (Prefect's ``serve``), each named after its flow
(``soundflow/soundflow``, ``aed/aed``, ...); ``prefect deploy --all`` makes their counterparts from
``prefect.yaml`` for a process work pool, named ``<flow>-pool`` (``soundflow/soundflow-pool``, ...). Distinct
names keep each side's schedules and pause state its own: a deploy never turns on a schedule made for ``serve``.
Either way the parameters (typed, defaults shown) are the flow function's, editable in the Prefect UI for each run.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from soundflow.errors import UserError
from soundflow.pipeline.config import ParamsError, load_params
from soundflow.pipeline.ops.schedule_params import FlowSchedule, SchedulesParams
from soundflow.pipeline.stages import flow_name

TAGS = ["soundflow"]
POOL_SUFFIX = "-pool"  # prefect.yaml's deployment of flow F is F/F-pool; serve's is F/F


class NoPrefectServer(UserError, RuntimeError):
    """PREFECT_API_URL is unset or does not answer: the message says how to start a server."""


def prefect_schedule(flow_name: str, s: FlowSchedule) -> Any:
    """Prefect's schedule for one flow's params entry; None when the entry defines none."""
    from prefect.schedules import Cron, Interval

    if not s.defined:
        return None
    slug = f"{flow_name}-params-yaml"  # one schedule per flow, updated in place by each serve/deploy
    try:
        if s.cron is not None:
            return Cron(s.cron, timezone=s.timezone, active=s.active, parameters=s.parameters, slug=slug)
        every = dt.timedelta(seconds=s.interval_seconds)
        return Interval(every, timezone=s.timezone, active=s.active, parameters=s.parameters, slug=slug)
    except ValueError as err:
        raise ParamsError(f"params.yaml: schedules.{flow_name}: {err}") from None


def check_parameters(flows: dict[str, Any], schedules: SchedulesParams) -> None:
    """Each schedule's parameters must be parameters of its flow (Prefect would only refuse the runs later)."""
    for name, fn in flows.items():
        given = set(getattr(schedules, name).parameters)
        unknown = given - set(fn.parameters.properties)
        if unknown:
            raise ParamsError(
                f"params.yaml: schedules.{name}.parameters: {', '.join(sorted(unknown))} not a parameter of flow "
                f"{name} (its parameters: {', '.join(fn.parameters.properties)})"
            )


def runner_deployments(root: Path, only: list[str] | None = None) -> list[Any]:
    """One deployment per flow (or per flow in ``only``), ready for ``prefect.serve``."""
    from flows.pipeline import FLOWS

    schedules = load_params(root).schedules
    missing = set(FLOWS) - set(SchedulesParams.model_fields)
    if missing:  # a new flow without an entry here would silently never be scheduled
        raise ParamsError(f"params.yaml: schedules: no entry for flow(s) {', '.join(sorted(missing))}")
    only = [flow_name(n) for n in only or ()]  # a workflow's former names too; a typo is refused by name
    chosen = {n: f for n, f in FLOWS.items() if not only or n in only}
    check_parameters(chosen, schedules)
    out = []
    for name, fn in chosen.items():
        schedule = prefect_schedule(name, getattr(schedules, name))
        out.append(
            fn.to_deployment(
                name=name,
                schedules=[schedule] if schedule else [],
                parameters={"root": str(Path(root).resolve())},  # runs work in this project, whatever their cwd
                description=fn.description,
                tags=TAGS,
            )
        )
    return out


def next_run(schedule: Any, after: dt.datetime | None = None) -> dt.datetime | None:
    """When the scheduler will next start a run of a deployment's ``schedule`` (its client-side model), as
    the server computes it (Prefect's own schedule models); None for a kind it does not know."""
    import asyncio

    from prefect.server.schemas import schedules as server

    kinds = {"cron": server.CronSchedule, "interval": server.IntervalSchedule, "rrule": server.RRuleSchedule}
    kind = next((k for k in kinds if getattr(schedule, k, None) is not None), None)
    if kind is None:
        return None
    model = kinds[kind].model_validate(schedule.model_dump())
    dates = asyncio.run(model.get_dates(n=1, start=after or dt.datetime.now(dt.UTC)))
    return dates[0] if dates else None


def api_url() -> str:
    """PREFECT_API_URL (environment or Prefect profile); a clear error when unset or not answering."""
    from prefect.settings import get_current_settings

    url = os.environ.get("PREFECT_API_URL") or get_current_settings().api.url
    hint = "start one with `soundflow server prefect` and export the PREFECT_API_URL it prints"
    if not url:
        raise NoPrefectServer(f"PREFECT_API_URL is not set: deployments need a Prefect server; {hint}")
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=10) as r:
            if r.status == 200:
                return url
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise NoPrefectServer(f"no Prefect server answers at PREFECT_API_URL={url} ({err}); {hint}") from None
    raise NoPrefectServer(f"the Prefect server at PREFECT_API_URL={url} is not healthy; {hint}")
