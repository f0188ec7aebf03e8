"""``schedules:`` in params.yaml: when ``soundflow serve`` starts each flow by itself (every schedule off by default).

An operations setting, not a parameter of the method: no stage declares it, so changing a schedule reruns nothing
(DVC sees only the keys each stage lists). Validated with the rest of params.yaml before any work, the cron
expression field by field (each value in its field's range), so that ``soundflow params`` refuses ``99 99 * * *``
rather than ``soundflow serve`` failing on it later.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model, field_validator, model_validator

from soundflow.params_base import Strict
from soundflow.pipeline.stages import WORKFLOWS

MAX_INTERVAL_SECONDS = 366 * 24 * 3600  # a year: a longer interval is a typo of a unit
# five fields (minute hour day month weekday), as Prefect's cron schedules take them: name, lowest, highest value
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("weekday", 0, 7))
_NAMES = {
    "month": ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    "weekday": ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
}


def _cron_value(text: str, field: str, lo: int, hi: int) -> int:
    names = _NAMES.get(field, ())
    if text.upper() in names:
        return names.index(text.upper()) + (1 if field == "month" else 0)
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise ValueError(f"{field} {text!r} is not in {lo}-{hi}{' or a name such as ' + names[0] if names else ''}")
    return int(text)


def _cron_item(item: str, field: str, lo: int, hi: int) -> None:
    """One comma-separated item: ``*`` (or ``?`` for a day), ``a``, ``a-b``, each optionally ``/step``."""
    base, _, step = item.partition("/")
    if "/" in item and not (step.isdigit() and int(step) >= 1):
        raise ValueError(f"{field} step {step!r} is not a whole number of at least 1")
    if base in ("*", "?") if field in ("day of month", "weekday") else base == "*":
        return
    first, dash, last = base.partition("-")
    start = _cron_value(first, field, lo, hi)
    if dash and _cron_value(last, field, lo, hi) < start:
        raise ValueError(f"{field} range {base!r} ends before it starts")


def check_cron(expr: str) -> None:
    """Raise ValueError naming the field when ``expr`` is not five valid cron fields."""
    fields = expr.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"expected five cron fields (minute hour day month weekday), got {expr!r}")
    for text, (field, lo, hi) in zip(fields, CRON_FIELDS):
        for item in text.split(","):
            _cron_item(item, field, lo, hi)


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
        if v is not None:
            try:
                check_cron(v)
            except ValueError as err:
                raise ValueError(f"{err} (in {v!r})") from None
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


# A schedule per flow: the whole pipeline's, then one per workflow the registry finds (the Prefect flows of
# flows/pipeline.py are built from the same list).
SchedulesParams = create_model(
    "SchedulesParams",
    __base__=Strict,
    **{name: (FlowSchedule, FlowSchedule()) for name in ("soundflow", *(u.name for u in WORKFLOWS))},
)
