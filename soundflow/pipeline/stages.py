"""The stage registry: every workflow module of ``flows/workflows/``, found, and their stages.

A workflow is one module there holding ``WORKFLOW`` (:class:`soundflow.pipeline.stage.Workflow`); adding
one adds its stages to ``dvc.yaml``, its section to ``params.yaml``'s schema, its Prefect flow, its names to
the CLI and its steps to the exports, with no other file to edit (as kedro's ``find_pipelines()`` does).
``dvc.yaml`` is generated from the registry (``soundflow dvc-yaml``; a test fails when they drift), and
``python -m soundflow stage NAME`` (the command DVC runs) executes a stage by calling its ``run``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

import flows.workflows
from soundflow.errors import UserError
from soundflow.pipeline.stage import Stage, Workflow

PIPELINE_FLOW = "soundflow"  # the flow of the whole DAG, beside one per workflow


def discover() -> tuple[Workflow, ...]:
    """The ``WORKFLOW`` of every module of ``flows/workflows/``, by name."""
    found = []
    for info in sorted(pkgutil.iter_modules(flows.workflows.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{flows.workflows.__name__}.{info.name}")
        unit = getattr(module, "WORKFLOW", None)
        if not isinstance(unit, Workflow):
            raise TypeError(f"{module.__file__}: a workflow module must define WORKFLOW = Workflow(...)")
        if unit.name != info.name:
            raise ValueError(f"{module.__file__}: WORKFLOW is named {unit.name!r}; name it after its module")
        found.append(unit)
    _refuse_clashes(found)
    return tuple(found)


def _refuse_clashes(units: list[Workflow]) -> None:
    seen: dict[str, str] = {}
    for u in units:
        for kind, names in (("flow", (u.name, *u.aliases)), ("section", tuple(u.sections))):
            for n in names:
                key = f"{kind} {n}"
                if key in seen:
                    raise ValueError(f"workflows {seen[key]} and {u.name} both declare the {kind} {n!r}")
                seen[key] = u.name
        for s in u.stages:
            if f"stage {s.name}" in seen:
                raise ValueError(f"workflows {seen[f'stage {s.name}']} and {u.name} both declare stage {s.name!r}")
            seen[f"stage {s.name}"] = u.name


WORKFLOWS: tuple[Workflow, ...] = discover()
STAGES: tuple[Stage, ...] = tuple(s for u in WORKFLOWS for s in u.stages)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
_FLOW_NAMES: dict[str, str] = {n: u.name for u in WORKFLOWS for n in (u.name, *u.aliases)}


class UnknownName(UserError, KeyError):
    """A stage or workflow name that is not in the registry; the message lists the names and the likeliest."""

    def __str__(self) -> str:  # KeyError's own would quote the sentence
        return str(self.args[0])


def _unknown(kind: str, name: str, known: list[str]) -> UnknownName:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UnknownName(f"unknown {kind} {name!r}{hint} ({kind}s: {', '.join(known)})")


def get_stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise _unknown("stage", name, list(BY_NAME)) from None


def workflow(name: str) -> Workflow:
    """The workflow called ``name`` or one of its former names."""
    try:
        own = _FLOW_NAMES[name]
    except KeyError:
        raise _unknown("workflow", name, [u.name for u in WORKFLOWS]) from None
    return next(u for u in WORKFLOWS if u.name == own)


def flow_name(name: str) -> str:
    """The Prefect flow ``name`` means: ``soundflow`` (the whole DAG) or a workflow, by any of its names."""
    return name if name == PIPELINE_FLOW else workflow(name).name


def headline_metrics() -> dict[str, str]:
    """The metric each workflow's models are ranked by (higher is better), for the workflows that have one."""
    return {u.name: u.headline for u in WORKFLOWS if u.headline}
