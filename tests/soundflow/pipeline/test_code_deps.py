"""The import closure that makes a stage's code its dependency, on a small package written for each test."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from soundflow.pipeline.code_deps import as_dvc_deps, code_closure, import_closure, source_digest


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


PACKAGE = {
    "synth_app/__init__.py": "VERSION = 1\n",
    "synth_app/main.py": """
        import json
        from synth_app import helpers, VERSION   # a submodule and an attribute of the package
        from synth_app.util import CONST         # an attribute of a module: the module, not a file named CONST

        def run():
            from .lazy import thing              # relative, inside a function: runs when run() does
            return thing, json, helpers, CONST, VERSION
        """,
    "synth_app/helpers.py": "from . import main  # a cycle back to main\n",
    "synth_app/util.py": "CONST = 1\n",
    "synth_app/lazy.py": "import synth_app.deep.leaf\nthing = 2\n",
    "synth_app/deep/__init__.py": "",
    "synth_app/deep/leaf.py": "from ..util import CONST  # two levels up\n",
    "synth_app/unused.py": "import synth_app.main\nAnnotation = object\n",
    "synth_other/__init__.py": "",
}


def test_closure_follows_every_kind_of_import(tmp_path: Path) -> None:
    _write(tmp_path, PACKAGE)
    assert import_closure([("synth_app.main", ())], tmp_path) == [
        "synth_app/__init__.py",
        "synth_app/deep/__init__.py",
        "synth_app/deep/leaf.py",
        "synth_app/helpers.py",
        "synth_app/lazy.py",
        "synth_app/main.py",
        "synth_app/util.py",
    ]  # not unused.py (it imports main, main does not import it), not synth_other, nothing outside tmp_path


def test_closure_of_a_submodule_includes_its_packages(tmp_path: Path) -> None:
    _write(tmp_path, PACKAGE)
    assert import_closure([("synth_app.deep", ("leaf",))], tmp_path) == [
        "synth_app/__init__.py",
        "synth_app/deep/__init__.py",
        "synth_app/deep/leaf.py",
        "synth_app/util.py",
    ]
    assert import_closure([("json", ()), ("synth_missing", ("x",))], tmp_path) == []


def test_closure_sees_an_edit(tmp_path: Path) -> None:
    _write(tmp_path, PACKAGE)
    before = import_closure([("synth_app.util", ())], tmp_path)
    (tmp_path / "synth_app/util.py").write_text("from synth_other import *\nCONST = 1\n")
    assert before == ["synth_app/__init__.py", "synth_app/util.py"]
    assert import_closure([("synth_app.util", ())], tmp_path) == before + ["synth_other/__init__.py"]


def test_relative_import_beyond_the_top_is_named(tmp_path: Path) -> None:
    _write(tmp_path, {"synth_bad/__init__.py": "", "synth_bad/m.py": "from ... import x\n"})
    with pytest.raises(ValueError, match=r"synth_bad/m\.py: relative import \(level 3\)"):
        import_closure([("synth_bad.m", ())], tmp_path)


TABLE = {
    **PACKAGE,
    "synth_table.py": """
        from __future__ import annotations

        from synth_app import util               # used in a run: counts
        from synth_app.unused import Annotation  # used only in annotations: never runs

        def _helper():
            from synth_app.deep import leaf
            return leaf

        def run(p: Annotation, root: Annotation) -> Annotation:
            return _helper(), util.CONST

        def other():
            from synth_app import main
        """,
}


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _write(tmp_path, TABLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("synth_table")
    for name in [n for n in sys.modules if n.split(".")[0] in {"synth_table", "synth_app", "synth_other"}]:
        del sys.modules[name]


def test_stage_code_follows_helpers_and_module_level_names(table) -> None:
    # the table module is not a dependency, but what its run() reaches is: the helper's lazy import and `util`
    assert code_closure(table.run, table_module="synth_table") == (
        "synth_app/__init__.py",
        "synth_app/deep/__init__.py",
        "synth_app/deep/leaf.py",
        "synth_app/util.py",
    )


def test_a_task_module_is_its_own_dependency(table) -> None:
    # run() defined in an ordinary module: that module and everything it imports count
    closure = code_closure(table.run, table_module="soundflow.pipeline.stages")
    assert "synth_table.py" in closure and "synth_app/unused.py" in closure and "synth_app/main.py" in closure


def test_only_module_level_functions_are_stages(table) -> None:
    with pytest.raises(ValueError, match="module-level function"):
        code_closure(lambda p, root: None, table_module="synth_table")


def test_source_digest_follows_the_run_function_and_its_helpers(table, tmp_path: Path) -> None:
    # run() and _helper() live in the table module, which is no file dependency: their source is hashed instead
    before = source_digest(table.run), source_digest(table.other)
    path = tmp_path / "synth_table.py"
    text = path.read_text()
    for old, new in (("return leaf\n", "return leaf, 1\n"), ("util.CONST\n", "util.CONST + 0\n")):
        path.write_text(text.replace(old, new))
        edited = importlib.reload(table)
        assert source_digest(edited.run) != before[0], f"editing {old!r} left run's digest unchanged"
        assert source_digest(edited.other) == before[1]  # other() calls neither
    path.write_text(text)
    assert source_digest(importlib.reload(table).run) == before[0]


def test_a_folder_replaces_its_files_only_when_they_are_all_it_holds(tmp_path: Path) -> None:
    for f in ("a/x.py", "a/y.py", "a/__pycache__/x.cpython-311.pyc", "b/z.py", "b/notes.txt", "c/w.py", "c/sub/v.py"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    assert as_dvc_deps(["a/x.py", "a/y.py", "b/z.py", "c/w.py", "top.py"], tmp_path) == [
        "a",  # every file of a/ (bytecode is ignored by DVC, .dvcignore)
        "b/z.py",  # b/ holds a file outside the closure
        "c/w.py",  # c/ holds a subfolder, which DVC would hash too
        "top.py",  # never the repository itself
    ]
    assert as_dvc_deps(["a/x.py"], tmp_path) == ["a/x.py"]  # a/y.py is not in the closure
