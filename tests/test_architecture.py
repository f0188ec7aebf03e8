"""The three layers (README, "Layout"): enforced by import-linter, and kept out of every stage's code closure.

The contracts are pyproject.toml's ``[tool.importlinter]``. They must hold on this tree, and break when an
import goes upwards: a task importing the pipeline, a reusable module (even a new one the contracts do not
name) importing the pipeline or a task. The pipeline layer is what no stage may depend on: editing the CLI,
the tracker or the stage table must rerun nothing, so no stage's code closure (``dvc.yaml``'s deps) holds it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from soundflow.pipeline.code_deps import module_file
from soundflow.pipeline.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("soundflow", "tasks", "models", "flows")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def pipeline_modules() -> list[str]:
    """The top layer as the layers contract declares it: its first layer's modules."""
    layers = next(c for c in _config()["contracts"] if c["type"] == "layers")["layers"]
    return [m.strip() for m in layers[0].split(":")]


def pipeline_files(root: Path) -> list[str]:
    """Repository-relative paths of the top layer's files: its modules, and every file of its packages."""
    files = []
    for name in pipeline_modules():
        path = module_file(root, name)
        assert path is not None, f"pyproject.toml names {name}, which has no file"
        found = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        files += [p.relative_to(root).as_posix() for p in found]
    return files


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # run in ``root``: lint-imports reads its pyproject.toml and puts it first on sys.path, ahead of the
    # editable install of this checkout, so a scratch copy is analysed as it is
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120)


def scratch_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_the_import_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_config()['contracts'])} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("path", "line", "importer", "imported"),
    [
        # a task importing the pipeline layer: the cycle this contract removed
        (
            "tasks/aed/evaluate.py",
            "import soundflow.pipeline.tracking\n",
            "tasks.aed.evaluate",
            "soundflow.pipeline.tracking",
        ),
        # imports inside functions count: they run too
        (
            "tasks/features/sets.py",
            "def _runner():\n    from flows.pipeline import FLOWS\n    return FLOWS\n",
            "tasks.features.sets",
            "flows.pipeline",
        ),
        # a reusable module importing the pipeline, or a task
        (
            "soundflow/io.py",
            "from soundflow.pipeline.config import load_params\n",
            "soundflow.io",
            "soundflow.pipeline.config",
        ),
        ("soundflow/plots.py", "import tasks.segmentation.iou\n", "soundflow.plots", "tasks.segmentation.iou"),
        ("models/aed_cnn.py", "from tasks.aed.params import AedModelParams\n", "models.aed_cnn", "tasks.aed.params"),
        # a new bottom module, named by no contract, is held to the same rule
        (
            "soundflow/new_helper.py",
            "from soundflow.pipeline.stages import STAGES\n",
            "soundflow.new_helper",
            "soundflow.pipeline.stages",
        ),
        # inside the tasks: a shared package importing a workflow, a workflow importing another one
        (
            "tasks/features/sets.py",
            "def _seg():\n    from tasks.segmentation.params import SegParams\n    return SegParams\n",
            "tasks.features.sets",
            "tasks.segmentation.params",
        ),
        (
            "tasks/localisation/pseudo_labels.py",
            "import tasks.aed.inference\n",
            "tasks.localisation.pseudo_labels",
            "tasks.aed.inference",
        ),
        ("tasks/datasets/cityscapes.py", "import tasks.procedural\n", "tasks.datasets.cityscapes", "tasks.procedural"),
    ],
)
def test_an_upward_import_breaks_the_contracts(
    tmp_path: Path, path: str, line: str, importer: str, imported: str
) -> None:
    repo = scratch_copy(tmp_path)
    target = repo / path
    target.write_text((target.read_text() if target.exists() else '"""A scratch module."""\n') + line)
    result = lint_imports(repo)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    assert f"{importer} -> {imported}" in result.stdout, result.stdout


def test_no_stage_code_closure_holds_the_pipeline_layer() -> None:
    top = set(pipeline_files(ROOT))
    assert {
        "soundflow/pipeline/cli/app.py",
        "soundflow/pipeline/tracking.py",
        "soundflow/pipeline/stages.py",
        "flows/pipeline.py",
    } <= top
    for stage in STAGES:
        assert not top & set(stage.code_deps), f"{stage.name}: {sorted(top & set(stage.code_deps))}"


def test_editing_the_pipeline_layer_reruns_no_stage() -> None:
    # DVC reruns a stage when one of its deps in dvc.yaml changes: no pipeline file may be one
    top = set(pipeline_files(ROOT))
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        deps = {d for d in stage.get("deps", []) if isinstance(d, str)}
        assert not top & deps, f"{name}: {sorted(top & deps)}"
