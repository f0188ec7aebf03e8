"""The graph rules of soundflow/pipeline/dag.py on small made-up stage sets (the real DAG is checked in test_dag.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from soundflow.pipeline import dag
from soundflow.pipeline.config import ParamsError
from soundflow.pipeline.stages import Stage


class FakeStage(Stage):
    """A stage whose dependencies are exactly those declared (no code files), so each graph is what it reads."""

    @property
    def code_deps(self) -> tuple[str, ...]:
        return ()


def _noop(p: object, root: object) -> None:
    return None


def stage(name: str, deps: tuple[str, ...] = (), outs: tuple[str, ...] = (), **kw: object) -> Stage:
    return FakeStage(name=name, desc=name, run=_noop, deps=deps, params=(), outs=outs, **kw)


@pytest.fixture()
def use_stages(monkeypatch: pytest.MonkeyPatch):
    def install(*stages: Stage) -> None:
        by_name = {s.name: s for s in stages}
        monkeypatch.setattr(dag, "STAGES", stages)
        monkeypatch.setattr(dag, "get_stage", lambda name: by_name[name])

    return install


# declared out of run order on purpose: the order must come from the edges, not from the declaration
DIAMOND = (
    stage("report", deps=("data/left.csv", "data/right"), outs=("reports/r.json",)),
    stage("left", deps=("data/src/a.txt",), outs=("data/left.csv",)),
    stage("right", deps=("data/src",), outs=("data/right/",)),
    stage("source", outs=("data/src",)),
    stage("loner", deps=("elsewhere.txt",), outs=("other/",)),
)


def test_upstream_uses_dvcs_path_rule(use_stages) -> None:
    use_stages(*DIAMOND)
    assert dag.upstream({}) == {
        "report": ["left", "right"],  # sorted; "data/right" read, "data/right/" written: one path
        "left": ["source"],  # a file inside an output folder
        "right": ["source"],
        "source": [],
        "loner": [],
    }


def test_upstream_reads_metrics_and_plots_as_outputs(use_stages) -> None:
    use_stages(
        stage("train", outs=("m.pt",), metrics=("r/train.json",), plots=("r/curve.png",)),
        stage("summary", deps=("r/train.json", "r/curve.png")),
    )
    assert dag.upstream({}) == {"train": [], "summary": ["train"]}


def test_a_dependency_containing_an_output_is_an_edge(use_stages) -> None:
    # reading a whole folder depends on every stage writing inside it
    use_stages(
        stage("writer", outs=("data/x/part",)), stage("reader", deps=("data/x",)), stage("sibling", deps=("data/xy",))
    )
    assert dag.upstream({}) == {"writer": [], "reader": ["writer"], "sibling": []}


def test_only_a_trailing_slash_is_normalised_away(use_stages) -> None:
    # an absolute path outside the repository is not the repository's folder of the same name, and folder
    # names are compared whole (a sibling sharing a prefix or a last letter is not nested)
    use_stages(
        stage("w", outs=("data/src", "data/stores/X", "data/raw ")),
        stage("abs", deps=("/data/src",)),
        stage("sib", deps=("data/stores/Y",)),
        stage("raw", deps=("data/raw",)),
    )
    assert dag.upstream({}) == {"w": [], "abs": [], "sib": [], "raw": []}


def test_topological_order_respects_every_edge(use_stages) -> None:
    use_stages(*DIAMOND)
    order = dag.topological_order({})
    assert sorted(order) == sorted(s.name for s in DIAMOND)
    for name, ups in dag.upstream({}).items():
        assert all(order.index(up) < order.index(name) for up in ups), (name, order)
    # ties broken by declaration order, so two runs agree
    assert order == ["source", "left", "right", "report", "loner"]


def test_topological_order_of_targets_is_their_upstream_closure(use_stages) -> None:
    use_stages(*DIAMOND)
    assert dag.topological_order({}, ["left"]) == ["source", "left"]
    assert dag.topological_order({}, ["report"]) == ["source", "left", "right", "report"]
    assert dag.topological_order({}, ["loner", "left"]) == ["source", "left", "loner"]
    assert dag.topological_order({}, []) == dag.topological_order({})  # no targets: everything


def test_cycle_is_an_error_naming_a_stage_on_it(use_stages) -> None:
    use_stages(
        stage("a", deps=("c.txt",), outs=("a.txt",)),
        stage("b", deps=("a.txt",), outs=("b.txt",)),
        stage("c", deps=("b.txt",), outs=("c.txt",)),
        stage("free", outs=("f.txt",)),
    )
    with pytest.raises(ValueError, match=r"cycle in the stage graph through '[abc]'"):
        dag.topological_order({})
    with pytest.raises(ValueError, match="cycle"):
        dag.topological_order({}, ["b"])
    assert dag.topological_order({}, ["free"]) == ["free"]  # a stage off the cycle still orders


def test_self_reading_stage_is_not_a_cycle(use_stages) -> None:
    # a stage that reads inside its own output (resumable stores) does not depend on itself
    use_stages(stage("resume", deps=("store/index.json",), outs=("store",)))
    assert dag.upstream({}) == {"resume": []}
    assert dag.topological_order({}) == ["resume"]


def test_downstream_is_the_transitive_closure_in_declaration_order(use_stages) -> None:
    use_stages(*DIAMOND)
    assert dag.downstream({}, "source") == ["report", "left", "right"]
    assert dag.downstream({}, "left") == ["report"]
    assert dag.downstream({}, "report") == []
    assert dag.downstream({}, "loner") == []


def test_templated_dependencies_follow_params(use_stages) -> None:
    use_stages(
        stage("gen", outs=("data/generated",)),
        stage("real", outs=("data/real",)),
        stage("train", deps=("${train.root}/meta.csv",), outs=("model.pt",)),
    )
    assert dag.upstream({"train": {"root": "data/generated"}})["train"] == ["gen"]
    assert dag.upstream({"train": {"root": "data/real"}})["train"] == ["real"]
    assert dag.downstream({"train": {"root": "data/real"}}, "gen") == []


def test_resolve_substitutes_every_key() -> None:
    raw = {"a": {"b": "x/y", "n": 3}, "c": "z"}
    assert dag.resolve("${a.b}/f-${a.n}.${c}", raw) == "x/y/f-3.z"
    assert dag.resolve("plain/path", raw) == "plain/path"
    with pytest.raises(KeyError, match="a.missing"):
        dag.resolve("${a.missing}", raw)


def test_dvc_yaml_entries(use_stages, monkeypatch: pytest.MonkeyPatch) -> None:
    train = stage(
        "train",
        deps=("data/in",),
        outs=("model.pt", "state"),
        persist=("state",),
        metrics=("r/m.json",),
        plots=("r/c.png",),
    )
    source = stage("source", outs=("data/in",))
    use_stages(train, source)
    monkeypatch.setattr(dag, "RESULTS", frozenset({"r/m.json"}))  # a workflow's results file (Workflow.results)
    text = dag.render_dvc_yaml()
    assert text.startswith(dag.HEADER)
    assert yaml.safe_load(text) == {
        "stages": {
            "train": {
                "desc": "train",
                "cmd": train.cmd,
                "deps": ["data/in"],
                "params": [],
                "outs": ["model.pt", {"state": {"persist": True}}],
                "metrics": ["r/m.json"],  # cached, as every output: `dvc checkout` restores them
                "plots": ["r/c.png"],
            },
            "source": {"desc": "source", "cmd": source.cmd, "params": [], "outs": ["data/in"]},  # no deps: no key
        }
    }
    assert list(yaml.safe_load(text)["stages"]) == ["train", "source"]  # declaration order, not sorted


def test_a_summary_is_an_output_listed_after_the_results(use_stages, monkeypatch: pytest.MonkeyPatch) -> None:
    """DVC's tables show the stages' metrics first, then the top-level ones: a stage's summary (not a workflow's
    results) is a plain output under the top-level metrics, so the results lead."""
    use_stages(stage("train", outs=("model.pt",), metrics=("r/train.json",)), stage("ev", metrics=("r/m.json",)))
    monkeypatch.setattr(dag, "RESULTS", frozenset({"r/m.json"}))
    body = yaml.safe_load(dag.render_dvc_yaml())
    assert body["stages"]["train"]["outs"] == ["model.pt", "r/train.json"] and "metrics" not in body["stages"]["train"]
    assert body["stages"]["ev"]["metrics"] == ["r/m.json"]
    assert body["metrics"] == ["r/train.json"]


def test_sync_writes_dvc_yaml_only_when_it_differs(use_stages, tmp_path: Path) -> None:
    use_stages(stage("source", outs=("data/in",)))
    (tmp_path / "params.yaml").write_text("a: 1\n")
    dvc_yaml = tmp_path / "dvc.yaml"
    assert dag.sync_dvc_yaml(tmp_path) is True and dvc_yaml.read_text() == dag.render_dvc_yaml()
    assert dag.sync_dvc_yaml(tmp_path) is False
    dvc_yaml.write_text("stages: {}\n")  # edited by hand, or older than the stage table
    assert dag.sync_dvc_yaml(tmp_path) is True and dvc_yaml.read_text() == dag.render_dvc_yaml()
    assert dag.write_dvc_yaml(tmp_path) == dvc_yaml


def test_writing_dvc_yaml_refuses_params_dvc_cannot_see(use_stages, tmp_path: Path) -> None:
    use_stages(stage("source", outs=("data/in",)))
    (tmp_path / "params.yaml").write_text("a:\n  size: 3\n")
    with pytest.raises(ParamsError, match="size"):
        dag.write_dvc_yaml(tmp_path)
    assert not (tmp_path / "dvc.yaml").exists()


def test_a_workflows_results_must_be_one_of_its_stages_metrics() -> None:
    from soundflow.pipeline.stage import Workflow

    ev = stage("ev", metrics=("r/m.json",))
    assert Workflow(name="w", doc="w", stages=(ev,), results="r/m.json").results == "r/m.json"
    with pytest.raises(ValueError, match="r/other.json"):
        Workflow(name="w", doc="w", stages=(ev,), results="r/other.json")
