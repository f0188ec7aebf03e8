"""Shared test utilities live in tests/helpers/: no test imports a conftest.py or another test module.

Importing ``tests.conftest`` as a module runs it a second time under another name (pytest already loaded
it as ``conftest``), and importing a ``test_*`` module from another one collects nothing but couples the
two. conftest.py files hold only what pytest looks for there: fixtures and hooks.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.paths import ROOT

TESTS = ROOT / "tests"


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every module an ``import`` or ``from ... import`` names, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return name.split(".")[0] in {"tests", "conftest"} and (last == "conftest" or last.startswith("test_"))


def is_fixture_or_hook(node: ast.stmt) -> bool:
    """A hook (``pytest_*``) or a function decorated with ``pytest.fixture`` (called or not)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    if node.name.startswith("pytest_"):
        return True
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            return True
    return False


def test_the_checks_see_what_they_look_for() -> None:
    tree = ast.parse("from tests.conftest import ROOT\ndef f():\n    from tests.a.test_b import x\n")
    assert [n for _, n in imported_modules(tree) if is_test_module(n)] == ["tests.conftest", "tests.a.test_b"]
    assert not is_test_module("tests.helpers.audio")
    fixture, hook, plain = ast.parse("@pytest.fixture()\ndef a(): ...\ndef pytest_x(): ...\ndef w(): ...\n").body
    assert is_fixture_or_hook(fixture) and is_fixture_or_hook(hook) and not is_fixture_or_hook(plain)


def test_no_test_imports_a_conftest_or_another_test_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in _test_files()
        for line, name in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if is_test_module(name)
    ]
    assert not found, "move what they share into tests/helpers/:\n" + "\n".join(found)


def test_conftest_files_define_only_fixtures_and_hooks() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}"
        for path in sorted(TESTS.rglob("conftest.py"))
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not is_fixture_or_hook(node)
    ]
    assert not found, "helpers belong in tests/helpers/, not in conftest.py:\n" + "\n".join(found)
