"""A workflow is one module of flows/workflows/: adding one adds it everywhere, with no shared file to edit.

The scratch copy gets a minimal workflow (its module, a one-function task package and its values in
params.yaml) and nothing else; it must then be in ``dvc.yaml``, the params schema, the CLI's flow names, the
Prefect flows and the Argo export, and the import contracts must still hold.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from soundflow.pipeline.workspace import copy_project
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

WORKFLOW = '''"""A minimal workflow: one stage that writes a greeting."""

from __future__ import annotations

from pathlib import Path

from soundflow.pipeline.stage import Stage, Workflow
from tasks.hello.params import HelloParams

GREETING = "reports/hello/greeting.txt"


def _hello_greet(p, root: Path) -> object:
    from tasks.hello.greet import greet

    return greet(p.hello.name, root / GREETING)


WORKFLOW = Workflow(
    name="hello",
    doc="Workflow 6: a greeting",
    sections={"hello": HelloParams},
    stages=(
        Stage(
            name="hello_greet",
            desc="Write a greeting",
            run=_hello_greet,
            deps=(),
            params=("hello.name",),
            outs=(GREETING,),
        ),
    ),
)
'''
TASK_PARAMS = """from soundflow.params_base import Strict


class HelloParams(Strict):
    name: str
"""
TASK = """from pathlib import Path

from soundflow.io import write_text


def greet(name: str, out: Path) -> Path:
    return write_text(out, f"hello, {name}\\n")
"""


def _sh(project: Path, *args: str, ok: bool = True) -> str:
    proc = subprocess.run(args, cwd=project, capture_output=True, text=True, timeout=300)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(ROOT, tmp_path_factory.mktemp("units") / "project")
    (project / "flows/workflows/hello.py").write_text(WORKFLOW)
    (project / "tasks/hello").mkdir()
    (project / "tasks/hello/__init__.py").write_text('"""Workflow 6: greetings."""\n')
    (project / "tasks/hello/params.py").write_text(TASK_PARAMS)
    (project / "tasks/hello/greet.py").write_text(TASK)
    with open(project / "params.yaml", "a") as fh:
        fh.write("hello:\n  name: world\n")
    return project


def test_the_new_workflow_is_in_dvc_yaml_the_schema_and_the_cli(project: Path) -> None:
    py = str(project / ".venv/bin/python")
    _sh(project, py, "-m", "soundflow", "dvc-yaml")
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["hello_greet"]
    assert stage["params"] == ["hello.name"] and stage["outs"] == ["reports/hello/greeting.txt"]
    assert "tasks/hello/greet.py" in stage["deps"]  # its code, from its imports
    # the schema validates the new section by its dotted key
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text.replace("  name: world\n", "  name: 3\n"))
    try:
        assert "hello.name" in _sh(project, py, "-m", "soundflow", "params", ok=False)
    finally:
        (project / "params.yaml").write_text(text)
    # the CLI knows the flow: a typo of it is answered with its name
    assert "did you mean 'hello'" in _sh(project, py, "-m", "soundflow", "run", "--flow", "helo", ok=False)
    assert "hello_greet" in _sh(project, py, "-m", "soundflow", "list")


def test_the_new_workflow_has_a_prefect_flow_and_an_export_step(project: Path) -> None:
    py = str(project / ".venv/bin/python")
    flows = _sh(project, py, "-c", "from flows.pipeline import FLOWS; print(sorted(FLOWS))")
    assert "'hello'" in flows
    _sh(project, py, "-m", "dvc", "remote", "add", "-d", "storage", "s3://soundflow/dvc")  # an export needs one
    argo = yaml.safe_load(_sh(project, py, "-m", "soundflow", "export", "argo"))
    assert "hello-greet" in yaml.safe_dump(argo) or "hello_greet" in yaml.safe_dump(argo)


def test_the_new_stage_runs_and_the_contracts_hold(project: Path) -> None:
    py = str(project / ".venv/bin/python")
    _sh(project, py, "-m", "soundflow", "stage", "hello_greet")
    assert (project / "reports/hello/greeting.txt").read_text() == "hello, world\n"
    # the copy's packages, not the installed ones: the current folder first on the path, as `python -m` does
    lint = "import sys; sys.path.insert(0, ''); from importlinter.cli import lint_imports_command as c; c()"
    assert "0 broken" in _sh(project, py, "-c", lint)
