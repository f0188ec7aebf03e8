"""The packages of ``tasks/`` form no import cycle: the folder-level graph, read from the source, is acyclic.

pyproject.toml's tasks contract orders the packages it names; this test also covers the ones it does not
name yet (a new workflow, a new shared package). An edge is any import of one package's module by another's,
inside a function too (it runs as well). Before the dataset formats moved to ``tasks/datasets``, ``aed``,
``features``, ``localisation`` and ``segmentation`` formed one strongly connected component (``features``
reached into ``localisation`` for the Flickr XML parser and into ``segmentation`` for the Cityscapes pairing,
both of which import ``features``; ``localisation`` imported ``aed``), so this test failed there.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported(tree: ast.AST, package: list[str]) -> set[str]:
    """Absolute names of the modules ``tree`` imports, relative ones resolved from its ``package``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def folder_graph(tasks_dir: Path) -> dict[str, set[str]]:
    """``{package: packages it imports}`` over the sub-packages of ``tasks_dir``, self-imports left out."""
    top = tasks_dir.name
    graph: dict[str, set[str]] = {p.name: set() for p in tasks_dir.iterdir() if (p / "__init__.py").is_file()}
    for path in sorted(tasks_dir.rglob("*.py")):
        parts = path.relative_to(tasks_dir).with_suffix("").parts
        if len(parts) < 2:
            continue  # tasks/__init__.py belongs to no package
        for name in _imported(ast.parse(path.read_text(), str(path)), [top, *parts[:-1]]):
            target = name.split(".")
            if len(target) > 1 and target[0] == top and target[1] != parts[0] and target[1] in graph:
                graph[parts[0]].add(target[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan, 1972): each holds a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_tasks_packages_import_each_other_without_a_cycle() -> None:
    graph = folder_graph(ROOT / "tasks")
    assert {"aed", "datasets", "features", "localisation", "procedural"} <= set(graph)
    assert "datasets" in graph["features"] and "features" in graph["aed"]  # the graph was read at all
    assert cycles(graph) == []


def test_a_cycle_between_two_packages_is_found(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    for package, source in {
        "shared": "def f():\n    from tasks.workflow.format import TABLE\n    return TABLE\n",
        "workflow": "from ..shared.table import f\nTABLE = f\n",  # relative imports count too
        "other": "import tasks.shared.table\n",
    }.items():
        (tasks / package).mkdir(parents=True)
        (tasks / package / "__init__.py").write_text("")
        (tasks / package / ("format.py" if package == "workflow" else "table.py")).write_text(source)
    graph = folder_graph(tasks)
    assert graph == {"shared": {"workflow"}, "workflow": {"shared"}, "other": {"shared"}}
    assert cycles(graph) == [["shared", "workflow"]]
