"""One source of truth: dvc.yaml, DVC's own graph and the Prefect flows all follow soundflow/pipeline/stages.py."""

from modulefinder import ModuleFinder
from pathlib import Path, PurePosixPath

import pytest
import yaml

from soundflow.pipeline import dag, dvc_state
from soundflow.pipeline.config import read_params_yaml, select
from soundflow.pipeline.stages import STAGES


def test_dvc_yaml_is_generated_from_the_stage_declarations(root: Path) -> None:
    assert (root / "dvc.yaml").read_text() == dag.render_dvc_yaml(), "run `soundflow dvc-yaml` and commit dvc.yaml"


def test_dvcs_graph_equals_ours(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    with dvc_state.open_repo(root) as repo:
        graph = repo.index.graph
        dvc_edges = {(up.name, down.name) for down, up in graph.edges if hasattr(up, "name") and up.name}
        stage_names = {s.name for s in repo.index.stages if hasattr(s, "name") and s.name}
    ours = {(up, name) for name, ups in dag.upstream(raw).items() for up in ups}
    assert stage_names == {s.name for s in STAGES}
    assert dvc_edges == ours


def test_persistent_outs_reach_dvc(root: Path) -> None:
    with dvc_state.open_repo(root) as repo:
        dvcs = {
            (s.name, o.def_path) for s in repo.index.stages if getattr(s, "name", None) for o in s.outs if o.persist
        }
    ours = {(s.name, o) for s in STAGES for o in s.persist}
    assert dvcs == ours and ("datasets", "data/datasets") in ours


def test_declared_params_and_code_exist(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    for s in STAGES:
        for key in s.params:
            select(raw, key)  # KeyError if the key is not in params.yaml
        assert s.code_deps, f"{s.name}: no code dependency"
        for path in s.code_deps:
            assert path.endswith(".py") and (root / path).is_file(), f"{s.name}: code dependency {path} is not a file"
        assert s.cmd == f".venv/bin/python -m soundflow stage {s.name} --code {s.run_digest}"


def _module_name(path: str) -> str:
    parts = PurePosixPath(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_files(root: Path, modules: list[str]) -> set[str]:
    """Repository files ``modules`` import, transitively, by the standard library's own static scanner."""
    finder = ModuleFinder(path=[str(root)])  # only the repository: the standard library and packages stay out
    for module in modules:
        finder.import_hook(module)
    return {
        Path(m.__file__).resolve().relative_to(root.resolve()).as_posix() for m in finder.modules.values() if m.__file__
    }


def _dvc_yaml_code_deps(root: Path) -> dict[str, list[str]]:
    """Each stage's code files as dvc.yaml lists them, a listed code folder read as its .py files."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]

    def files(dep: str) -> list[str]:
        if dep.endswith(".py"):
            return [dep]
        if dep.split("/")[0] in CODE_TOP and (root / dep).is_dir():
            return [p.relative_to(root).as_posix() for p in (root / dep).glob("*.py")]
        return []

    return {name: sorted(f for d in entry.get("deps", []) for f in files(d)) for name, entry in stages.items()}


CODE_TOP = {"soundflow", "models", "tasks", "flows"}


def test_a_code_folder_stands_for_its_files_only_when_the_closure_holds_them_all(root: Path) -> None:
    """dvc.yaml lists a folder instead of its files (a smaller dvc.lock, which DVC rewrites after every stage)
    only where nothing else is in it: the folder's hash then changes exactly when one of those files does."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    folders = 0
    for s in STAGES:
        for dep in stages[s.name].get("deps", []):
            if dep.split("/")[0] in CODE_TOP and not dep.endswith(".py"):
                folders += 1
                inside = {p.name for p in (root / dep).iterdir() if p.name != "__pycache__"}
                listed = {Path(f).name for f in s.code_deps if str(Path(f).parent) == dep}
                assert inside == listed, f"{s.name}: {dep} holds {sorted(inside - listed)} outside the closure"
    assert folders >= 24  # models/ in every stage that imports the registry


@pytest.mark.slow
def test_code_deps_are_closed_under_imports(root: Path) -> None:
    """Every .py file a listed file imports, even inside a function, is listed: its change reruns the stage."""
    listed = _dvc_yaml_code_deps(root)
    assert set(listed) == {s.name for s in STAGES}
    table = "soundflow/pipeline/stages.py"  # no stage's dependency unless task code really imports it
    for name, files in listed.items():
        assert files == sorted(files), f"{name}: code deps not sorted"
        imported = _imported_files(root, [_module_name(f) for f in files if f != table])
        missing = imported - set(files)
        assert not missing, f"{name}: its listed files import {sorted(missing)}, which dvc.yaml does not list"
        assert table not in files or table in imported, f"{name}: lists {table}, which none of its code imports"


@pytest.mark.parametrize(
    ("stage", "files"),
    [
        ("seg_train", ["tasks/segmentation/dataset.py"]),  # ERFNet's augmentation
        ("aed_evaluate", ["tasks/features/chunk_classifier.py", "models/aed_cnn.py"]),  # the checkpoint loader
        ("seg_evaluate", ["tasks/segmentation/inference.py", "models/erfnet.py"]),
        ("seg_predict", ["tasks/segmentation/inference.py", "models/erfnet.py"]),
        ("street_scenes", ["tasks/datasets/cityscapes.py"]),  # the generator draws with Cityscapes' colours
        ("soundscapes", ["tasks/datasets/sound_library.py"]),
    ],
)
def test_code_the_stage_runs_is_a_dependency(root: Path, stage: str, files: list[str]) -> None:
    deps = _dvc_yaml_code_deps(root)[stage]
    assert set(files) <= set(deps), f"{stage}: {sorted(set(files) - set(deps))} missing from its deps in dvc.yaml"


def test_topological_order_and_downstream(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    order = dag.topological_order(raw)
    assert (
        order.index("urban_synth")
        < order.index("aed_features")
        < order.index("aed_train")
        < order.index("aed_evaluate")
    )
    assert dag.topological_order(raw, ["aed_train"]) == ["urban_synth", "aed_features", "aed_train"]
    # the AED classifier also pseudo-labels the localisation pairs (workflow 3)
    loc = ["loc_pseudo_labels", "loc_features", "loc_stage1", "loc_stage2", "loc_evaluate"]
    assert dag.downstream(raw, "aed_train") == ["aed_evaluate", *loc]
    # a real dataset instead of the generated one cuts the generator out of the AED branch
    raw["aed"]["data"]["root"] = "../shared/data/esc10"
    assert dag.topological_order(raw, ["aed_train"]) == ["aed_features", "aed_train"]


def test_every_stage_belongs_to_a_flow() -> None:
    pytest.importorskip("prefect")
    from flows.pipeline import FLOWS

    named = {s.flow for s in STAGES} - {"default", "data"}
    assert named <= set(FLOWS)
