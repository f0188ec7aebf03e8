"""What a cluster step pulls, whether it asks for a GPU, and the CLI writing the exported file."""

from __future__ import annotations

from pathlib import Path

from soundflow.pipeline import cli
from soundflow.pipeline.export import argo
from soundflow.pipeline.export.steps import pull_targets, tracked_paths, trains
from soundflow.pipeline.stages import STAGES, Stage, get_stage


def _stage(*deps: str) -> Stage:
    return Stage(name="probe", desc="", run=lambda p, root: None, deps=deps, params=(), outs=())


def test_pulls_cached_outputs_and_dvc_tracked_data_not_repository_files(root: Path) -> None:
    assert tracked_paths(root) == ["data/raw"]  # data.dvc
    probe = _stage("data/raw/esc50", "configs/soundscape_mapping.yaml", "${seg.data.root}", "reports/seg/x.json")
    raw = {"seg": {"data": {"root": "data/generated/street_scenes"}}}
    assert pull_targets(probe, ["street_scenes"], raw, ["data/raw"]) == (
        "data/raw/esc50",
        "data/generated/street_scenes",
    )
    assert pull_targets(probe, [], raw, []) == ()  # nothing upstream, nothing tracked: nothing to pull


def test_training_stages_are_the_ones_reaching_the_training_loop() -> None:
    fit_users = {"aed_train", "seg_train", "t2a_train", "transcoder_teacher", "loc_stage1", "loc_stage2"}
    assert fit_users <= {s.name for s in STAGES if trains(s)}
    generators = {"datasets", "urban_synth", "street_scenes", "sound_library", "t2a_generate", "loc_scenes"}
    assert not any(trains(get_stage(n)) for n in generators)


def test_cli_writes_the_exported_workflow(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    assert cli.main(["export", "argo", "--out", str(out), "--image", "soundflow:cuda"]) == 0
    assert out.read_text() == argo.render(root, image="soundflow:cuda")
