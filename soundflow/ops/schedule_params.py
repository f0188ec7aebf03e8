"""``schedules:`` in params.yaml: when ``soundflow serve`` starts each flow by itself (every schedule off by default).

An operations setting, not a parameter of the method: no stage declares it, so changing a schedule reruns nothing
(DVC sees only the keys each stage lists). Validated with the rest of params.yaml before any work; Prefect checks
the cron expression fully when the deployments are made (:mod:`soundflow.ops.deployments`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from soundflow.params_base import Strict

MAX_INTERVAL_SECONDS = 366 * 24 * 3600  # a year: a longer interval is a typo of a unit
# five fields (minute hour day month weekday), as Prefect's cron schedules take them; names such as MON allowed
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?]+$")


class FlowSchedule(Strict):
    """One flow's schedule: a cron expression or an interval (not both), created paused unless ``active``."""

    cron: str | None = None  # e.g. "0 2 * * *": every night at 02:00 in ``timezone``
    interval_seconds: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_SECONDS)
    timezone: str = Field(default="UTC", min_length=1)  # IANA name, e.g. Europe/Paris
    active: bool = False  # false: the schedule exists, paused, and is switched on in the UI or here
    # values of the flow's own parameters for the runs the schedule makes (e.g. {stages: [aed_evaluate]})
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, v: str | None) -> str | None:
        if v is not None and (len(v.split()) != 5 or not all(_CRON_FIELD.match(f) for f in v.split())):
            raise ValueError(f"expected five cron fields (minute hour day month weekday), got {v!r}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> FlowSchedule:
        if self.cron is not None and self.interval_seconds is not None:
            raise ValueError("give cron or interval_seconds, not both")
        if self.active and self.cron is None and self.interval_seconds is None:
            raise ValueError("active: true needs a cron or an interval_seconds")
        if "root" in self.parameters:
            raise ValueError("parameters.root: a flow served from a project always runs in that project")
        return self

    @property
    def defined(self) -> bool:
        return self.cron is not None or self.interval_seconds is not None


class SchedulesParams(Strict):
    """A schedule per flow of ``flows/pipeline.py`` (a test checks the names match ``FLOWS``)."""

    soundflow: FlowSchedule = FlowSchedule()
    acoustic_event_classification: FlowSchedule = FlowSchedule()
    image_to_soundscape: FlowSchedule = FlowSchedule()
    sound_localisation: FlowSchedule = FlowSchedule()
    spectral_transcoder: FlowSchedule = FlowSchedule()
    text_to_audio: FlowSchedule = FlowSchedule()
