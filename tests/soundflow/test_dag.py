"""One source of truth: dvc.yaml, DVC's own graph and the Prefect flows all follow soundflow/stages.py."""

from pathlib import Path

import pytest

from soundflow import dag, dvc_state
from soundflow.config import read_params_yaml, select
from soundflow.stages import STAGES


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
        dvcs = {(s.name, o.def_path) for s in repo.index.stages if getattr(s, "name", None) for o in s.outs if o.persist}
    ours = {(s.name, o) for s in STAGES for o in s.persist}
    assert dvcs == ours and ("datasets", "data/datasets") in ours


def test_declared_params_and_code_exist(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    for s in STAGES:
        for key in s.params:
            select(raw, key)  # KeyError if the key is not in params.yaml
        for path in s.code:
            assert (root / path).exists(), f"{s.name}: code dependency {path} does not exist"  # file or folder
        assert s.cmd == f"python -m soundflow stage {s.name}"


def test_topological_order_and_downstream(root: Path) -> None:
    raw = read_params_yaml(root / "params.yaml")
    order = dag.topological_order(raw)
    assert order.index("urban_synth") < order.index("aed_features") < order.index("aed_train") < order.index("aed_evaluate")
    assert dag.topological_order(raw, ["aed_train"]) == ["urban_synth", "aed_features", "aed_train"]
    assert dag.downstream(raw, "aed_train") == ["aed_evaluate"]
    # a real dataset instead of the generated one cuts the generator out of the AED branch
    raw["aed"]["data"]["root"] = "../shared/data/esc10"
    assert dag.topological_order(raw, ["aed_train"]) == ["aed_features", "aed_train"]


def test_every_stage_belongs_to_a_flow() -> None:
    pytest.importorskip("prefect")
    from flows.pipeline import FLOWS

    named = {s.flow for s in STAGES} - {"default", "data"}
    assert named <= set(FLOWS)
