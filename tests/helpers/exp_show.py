"""What ``dvc exp show --only-changed`` presents of a project's experiments, checked as a user reads it.

Both views: ``--json`` (every column: DVC applies --only-changed to its table only), where the values' types are
seen, and the table (``--md``, no pager), where the columns that are kept are seen.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from soundflow.metric_files import is_number, leaves, non_numbers

PARAMS_FILE = "params.yaml"


def _dvc_exp_show(project: Path, env: dict[str, str], *flags: str) -> str:
    argv = ["dvc", "exp", "show", "--only-changed", "--no-pager", *flags]
    out = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{' '.join(argv)} exited {out.returncode}:\n{out.stderr[-3000:]}"
    return out.stdout


def _rows(shown: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every row of ``dvc exp show --json``: the workspace, each baseline and each experiment under it."""
    for row in shown:
        yield row
        for branch in row.get("experiments") or []:
            yield from branch["revs"]


def _files(row: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The parsed files of one kind ('params', 'metrics') of a row, those DVC could read."""
    return {f: v["data"] for f, v in ((row.get("data") or {}).get(kind) or {}).items() if "data" in v}


def _dotted(key: str) -> str:
    """A flattened key (``a/b``, as MLflow and soundflow.metric_files name it) as DVC names its column (``a.b``)."""
    return key.replace("/", ".")


def _flat_params(row: Mapping[str, Any]) -> dict[str, str]:
    """A row's parameters as DVC names its columns (dotted keys), each value as JSON text."""
    flat = {}
    for path, data in _files(row, "params").items():
        for key, value in leaves(data):
            flat[f"{path}:{_dotted(key)}"] = json.dumps(value)
    return flat


def _table(md: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a Markdown table as DVC prints it."""
    lines = [ln.strip() for ln in md.splitlines() if ln.strip().startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return cells[0], cells[2:]  # the second line is the header's rule


def _column(header: list[str], path: str, key: str) -> int:
    """A column's index: DVC names it ``key``, or ``path:key`` where another file has the same key."""
    for name in (f"{path}:{key}", key):
        if name in header:
            return header.index(name)
    raise AssertionError(f"no column {key} ({path}) in `dvc exp show --only-changed`: {header}")


def _column_or_none(header: list[str], path: str, key: str) -> int | None:
    try:
        return _column(header, path, key)
    except AssertionError:  # a column --only-changed left out
        return None


def check_only_changed(
    project: Path, env: dict[str, str], param: str, values: Sequence[Any], metrics: str, headlines: Sequence[str]
) -> None:
    """The experiments of ``project`` as ``dvc exp show --only-changed`` lists them: one per value of ``param``
    (a dotted key of params.yaml), each with the ``headlines`` of the metrics file ``metrics`` as numbers, first
    in the file and in the table, where no parameter that all rows share has a column."""
    shown = json.loads(_dvc_exp_show(project, env, "--json"))
    rows = list(_rows(shown))
    experiments = [r for branch in shown for b in branch.get("experiments") or [] for r in b["revs"]]
    by_value = {_flat_params(r)[f"{PARAMS_FILE}:{param}"]: r for r in experiments}
    assert sorted(by_value) == sorted(json.dumps(v) for v in values), by_value.keys()
    for r in experiments:
        got = _files(r, "metrics").get(metrics)
        assert got is not None, f"{r['name']}: no {metrics} in `dvc exp show`"
        assert non_numbers(got) == [], f"{r['name']}: {metrics} holds values that are not numbers"
        assert [k for k, _ in leaves(got)][: len(headlines)] == list(headlines), f"{metrics}: {list(got)}"

    header, table = _table(_dvc_exp_show(project, env, "--md"))
    flat = [_flat_params(r) for r in rows]
    shared = {k for k in set().union(*flat) if len({f.get(k) for f in flat}) == 1}  # the same in every row
    for key in shared:
        name = key.split(":", 1)[1]
        assert key not in header and name not in header, f"unchanged parameter {name} has a column: {header}"
    width = _column(header, PARAMS_FILE, param)
    keys = [_dotted(k) for k, _ in leaves(_files(experiments[0], "metrics")[metrics])]
    shown_keys = [k for k in keys if f"{metrics}:{k}" in header or k in header]
    in_table = sorted(shown_keys, key=lambda k: _column(header, metrics, k))
    assert in_table[: len(headlines)] == [_dotted(k) for k in headlines], f"headlines not first: {header}"
    # and first of every metrics file's columns: a workflow's results come before its stages' summaries
    every = {(f, _dotted(k)) for r in experiments for f, data in _files(r, "metrics").items() for k, _ in leaves(data)}
    columns = sorted(i for f, k in every for i in [_column_or_none(header, f, k)] if i is not None)
    first = [_column(header, metrics, _dotted(k)) for k in headlines]
    assert columns[: len(headlines)] == first, f"another file's metrics before {metrics}'s headlines: {header}"
    for r in experiments:
        (line,) = [t for t in table if f"[{r['name']}]" in t[0]]  # the Experiment cell: "├── 1a2b3c4 [name]"
        assert line[width] == str(_flat_params(r)[f"{PARAMS_FILE}:{param}"]).strip('"'), (line, header)
        got = _files(r, "metrics")[metrics]
        for key in headlines:
            cell = line[_column(header, metrics, _dotted(key))]
            value = dict(leaves(got))[key]
            assert is_number(value) and math.isclose(float(cell), value, rel_tol=1e-3, abs_tol=1e-5), (key, cell)
