"""The workflow modules only declare: each stage's ``run`` picks its parameters and paths and calls one task function.

The work, and any logic in the glue (loops, branches, reading files), belongs in ``tasks/``, where it is a
plain typed function with its own tests and where it joins the stage's code closure as a file. A loop or a
helper left in the stage table is code that only the ``--code`` digest tracks, and that no task test covers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from soundflow.pipeline import stages
from soundflow.pipeline.stages import STAGES

MAX_BODY_LINES = 12  # the imports, a parameter section or a paths bundle, and one call
LOGIC = (ast.For, ast.AsyncFor, ast.While, ast.comprehension, ast.If, ast.IfExp, ast.Try, ast.With, ast.Match)
# where a run may import from: the task packages, and the training loop's FitFiles (a bundle of paths)
IMPORTABLE = ("tasks.", "soundflow.training")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def run_problems(fn: ast.FunctionDef) -> list[str]:
    """Why ``fn`` is more than a declaration: too long, logic, foreign imports, or no task call at its end."""
    problems = []
    lines = fn.body[-1].end_lineno - fn.body[0].lineno + 1
    if lines > MAX_BODY_LINES:
        problems.append(f"{lines} lines (at most {MAX_BODY_LINES})")
    for node in ast.walk(fn):
        if isinstance(node, ast.comprehension):  # a loop too; it has no line of its own
            problems.append("a comprehension")
        elif isinstance(node, LOGIC):
            problems.append(f"{type(node).__name__} at line {node.lineno}")
    imported = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.ImportFrom):
            if not (node.module or "").startswith(IMPORTABLE):
                problems.append(f"imports {node.module}")
            imported.update({a.asname or a.name: node.module for a in node.names})
        elif isinstance(node, ast.Import):
            problems.append(f"imports {', '.join(a.name for a in node.names)}")
    last = fn.body[-1]
    callee = last.value.func if isinstance(last, ast.Return) and isinstance(last.value, ast.Call) else None
    if not (isinstance(callee, ast.Name) and str(imported.get(callee.id, "")).startswith("tasks.")):
        problems.append("does not end by returning the call of a task function")
    return problems


def _module_file(module: str) -> Path:
    return Path(sys.modules[module].__file__)


@pytest.mark.parametrize("unit", stages.WORKFLOWS, ids=lambda u: u.name)
def test_a_workflow_module_defines_no_helper(unit: stages.Workflow) -> None:
    """Besides its stages' runs, a workflow module defines only the rule it declares across params sections."""
    module = {s.run.__module__ for s in unit.stages}
    assert module == {f"flows.workflows.{unit.name}"}
    allowed = {s.run.__name__ for s in unit.stages} | ({unit.check.__name__} if unit.check else set())
    helpers = sorted(set(_functions(_tree(_module_file(module.pop())))) - allowed)
    assert helpers == [], f"flows/workflows/{unit.name}.py defines {helpers}: move them into tasks/"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_a_run_only_picks_parameters_and_paths_and_calls_one_task(stage: stages.Stage) -> None:
    fn = _functions(_tree(_module_file(stage.run.__module__)))[stage.run.__name__]
    assert run_problems(fn) == [], f"{stage.name}: {fn.name} in {stage.run.__module__} holds logic"


GLUE = """
def _with_loop(p, root):
    from tasks.x import work

    for name in p.names:
        work(name)
    return work(root)


def _with_branch(p, root):
    from tasks.x import work

    return work(root if p.flag else None)


def _reads_a_file(p, root):
    import json
    from tasks.x import work

    return work(json.loads((root / "a.json").read_text()))


def _ends_with_a_print(p, root):
    from tasks.x import work

    result = work(root)
    print(result)


def _declaration(p, root):
    from soundflow.training import FitFiles
    from tasks.x import work

    files = FitFiles(root / "state", root / "m.pt", root / "h.csv", root / "s.json")
    return work(root / "in", files, [p.a, p.b], device=p.device)
"""


def test_the_check_tells_glue_from_a_declaration(tmp_path: Path) -> None:
    path = tmp_path / "glue.py"
    path.write_text(GLUE)
    found = {name: run_problems(fn) for name, fn in _functions(_tree(path)).items()}
    assert found["_with_loop"] == ["For at line 5"]
    assert found["_with_branch"] == ["IfExp at line 13"]
    assert found["_reads_a_file"] == ["imports json"]
    assert found["_ends_with_a_print"] == ["does not end by returning the call of a task function"]
    assert found["_declaration"] == []
    long = tmp_path / "long.py"
    long.write_text("def _long(p, root):\n    from tasks.x import work\n\n" + "    p.a\n" * 10 + "    return work(p)\n")
    assert run_problems(_functions(_tree(long))["_long"]) == ["13 lines (at most 12)"]
