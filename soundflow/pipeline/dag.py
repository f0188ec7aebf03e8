"""The stage graph derived from :mod:`soundflow.pipeline.stages`, and ``dvc.yaml`` generated from it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from soundflow.io import write_text
from soundflow.pipeline.code_deps import as_dvc_deps, repository_root
from soundflow.pipeline.config import PARAMS_FILE, read_params_yaml, select
from soundflow.pipeline.stages import STAGES, WORKFLOWS, Stage, get_stage

DVC_YAML = "dvc.yaml"
_TEMPLATE = re.compile(r"\$\{([^}]+)\}")
HEADER = (
    "# GENERATED from flows/workflows/ by `soundflow dvc-yaml`: do not edit by hand.\n"
    "# tests/soundflow/pipeline/test_dag.py fails when this file and the stage declarations drift.\n"
)


def resolve(path: str, raw_params: dict[str, Any]) -> str:
    """Substitute ``${key}`` with its value in params.yaml, as DVC's templating does."""
    return _TEMPLATE.sub(lambda m: str(select(raw_params, m.group(1))), path)


def _normal(path: str) -> PurePosixPath:
    return PurePosixPath(str(PurePosixPath(path)).rstrip("/"))


def _inside(dep: PurePosixPath, out: PurePosixPath) -> bool:
    # on the normalised strings: PurePath.parents costs a graph query tens of milliseconds
    d, o = str(dep), str(out)
    return d == o or d.startswith(o + "/") or o.startswith(d + "/")


def upstream(raw_params: dict[str, Any]) -> dict[str, list[str]]:
    """For each stage, the stages that write something it reads (same rule as DVC: path equal or nested)."""
    writers = [(s.name, _normal(o)) for s in STAGES for o in s.all_outs]
    graph: dict[str, list[str]] = {}
    for s in STAGES:
        # data deps only: code deps are repository sources, which no stage writes, and deriving every
        # stage's import closure here would cost each graph query a walk of the code
        deps = [_normal(resolve(d, raw_params)) for d in s.deps]
        graph[s.name] = sorted({w for w, out in writers if w != s.name and any(_inside(d, out) for d in deps)})
    return graph


def topological_order(raw_params: dict[str, Any], targets: list[str] | None = None) -> list[str]:
    """Stages to consider for ``targets`` (all if None): the targets and everything upstream, in run order."""
    graph = upstream(raw_params)
    wanted: set[str] = set()
    stack = [get_stage(t).name for t in targets] if targets else [s.name for s in STAGES]
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack += graph[name]
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"cycle in the stage graph through {name!r}")
        visiting.add(name)
        for up in graph[name]:
            visit(up)
        visiting.discard(name)
        order.append(name)

    for s in STAGES:  # declaration order breaks ties, so runs are reproducible
        if s.name in wanted:
            visit(s.name)
    return order


def downstream(raw_params: dict[str, Any], name: str) -> list[str]:
    graph = upstream(raw_params)
    out, frontier = set(), {name}
    while frontier:
        frontier = {s for s, ups in graph.items() if frontier & set(ups)} - out
        out |= frontier
    return [s.name for s in STAGES if s.name in out]


def _stage_entry(s: Stage) -> dict[str, Any]:
    # deps: data first, then the .py files of the stage's import closure (soundflow.pipeline.code_deps), a
    # folder standing for its files where the closure holds all of them
    entry: dict[str, Any] = {"desc": s.desc, "cmd": s.cmd}
    code = as_dvc_deps(s.code_deps, repository_root(s.run))
    if s.deps or code:
        entry["deps"] = [*s.deps, *code]
    entry["params"] = list(s.params)
    if s.outs:
        entry["outs"] = [{o: {"persist": True}} if o in s.persist else o for o in s.outs]
    # metrics and plots are cached like every output, so `dvc checkout` restores them after a failed rerun. DVC's
    # tables list the stages' metrics first, in dvc.yaml's order, then the top-level ones: a workflow's results
    # are the stage's metrics, its summaries (features, training) plain outs listed under the top-level metrics
    results = [m for m in s.metrics if m in RESULTS]
    if results:
        entry["metrics"] = results
    if summaries := [m for m in s.metrics if m not in RESULTS]:
        entry["outs"] = entry.get("outs", []) + summaries
    # images are DVC plots as they are; a CSV is drawn only where the stage names its axes (the top-level
    # plots below), since DVC's default for a CSV (the last column against the row number) draws a table badly
    tables = [p for p in s.plots if not p.endswith(".png")]
    if tables:
        entry["outs"] = entry.get("outs", []) + tables
    if len(tables) < len(s.plots):
        entry["plots"] = [p for p in s.plots if p.endswith(".png")]
    return entry


RESULTS = frozenset(u.results for u in WORKFLOWS if u.results)


def _top_level_metrics() -> list[str]:
    """Every stage's metrics files that are not a workflow's results, after them in DVC's tables."""
    return [m for s in STAGES for m in s.metrics if m not in RESULTS]


def _top_level_plots() -> list[dict[str, Any]]:
    """One DVC plot per declared curve: its file's ``ys`` columns against ``x``, with its template if not lines."""
    return [
        {c.path: {"x": c.x, "y": list(c.ys), **({"template": c.template} if c.template != "linear" else {})}}
        for s in STAGES
        for c in s.curves
    ]


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper with PyYAML's own string style: hera (imported for the Argo export) replaces the
    shared one to quote y/n for kubectl, which would quote the plots' `y:` key in one process and not another."""


_Dumper.add_representer(str, yaml.representer.SafeRepresenter.represent_str)


def render_dvc_yaml() -> str:
    body: dict[str, Any] = {"stages": {s.name: _stage_entry(s) for s in STAGES}}
    if metrics := _top_level_metrics():
        body["metrics"] = metrics
    if plots := _top_level_plots():
        body["plots"] = plots
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=120)


def write_dvc_yaml(root: Path) -> Path:
    # reading params.yaml refuses keys DVC's run cache would not see (size, nfiles) before DVC is handed the file
    read_params_yaml(Path(root) / PARAMS_FILE)
    return write_text(Path(root) / DVC_YAML, render_dvc_yaml())


def sync_dvc_yaml(root: Path) -> bool:
    """Regenerate ``dvc.yaml`` if it no longer matches the stage table (a new import, an edited ``run``)."""
    path = Path(root) / DVC_YAML
    if path.is_file() and path.read_text() == render_dvc_yaml():
        return False
    write_dvc_yaml(root)
    return True
