"""What a cluster step pulls, what it requests, the remote and MLflow server it needs, and the CLI writing the
exported file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from soundflow.pipeline import cli
from soundflow.pipeline.export import argo
from soundflow.pipeline.export.remote import NoRemote, resolve
from soundflow.pipeline.export.steps import gpus, pull_targets, script, steps, tracked_paths
from soundflow.pipeline.stages import STAGES, Stage, get_stage
from tests.helpers.export_project import REMOTES, make_project


def _stage(*deps: str, **resources: object) -> Stage:
    return Stage(name="probe", desc="", run=lambda p, root: None, deps=deps, params=(), outs=(), **resources)


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
    assert fit_users <= {s.name for s in STAGES if s.trains}
    generators = {"datasets", "urban_synth", "street_scenes", "sound_library", "t2a_generate", "loc_scenes"}
    assert not any(get_stage(n).trains for n in generators)


def test_resources_come_from_the_stage_row() -> None:
    assert (_stage().cpu, _stage().memory, _stage().gpu) == ("2", "4Gi", None)  # the defaults; None: Stage.trains
    assert gpus(_stage(gpu=2)) == 2 and gpus(get_stage("aed_train")) == 1 and gpus(get_stage("urban_synth")) == 0
    for bad in ({"cpu": "two"}, {"memory": "16GB"}, {"memory": "4 Gi"}):
        with pytest.raises(ValueError, match="not Kubernetes quantities"):
            _stage(**bad)
    assert _stage(cpu="500m", memory="512Mi").cpu == "500m"
    fit_users = {s.name for s in STAGES if s.trains and s.name.endswith(("_train", "_stage1", "_teacher"))}
    assert all(get_stage(n).memory == "16Gi" for n in fit_users), fit_users  # the rows that train ask for more


def test_the_remote_must_be_one_of_dvc_config(project: Path, tmp_path: Path, root: Path) -> None:
    assert resolve(project, None) == "storage" and resolve(project, "archive") == "archive"
    with pytest.raises(NoRemote, match=r"no remote 'nope' \(it defines archive, storage\)"):
        resolve(project, "nope")
    bare = make_project(tmp_path / "bare", root, {}, default=None)
    with pytest.raises(NoRemote, match=r"defines no DVC remote.*`dvc remote add -d <name> s3://") as err:
        resolve(bare, "storage")
    assert "\n" not in str(err.value)  # one sentence
    undecided = make_project(tmp_path / "undecided", root, REMOTES, default=None)
    with pytest.raises(NoRemote, match="no default remote: pass --remote with one of archive, storage"):
        resolve(undecided, None)
    assert resolve(undecided, "archive") == "archive"


def test_a_step_without_an_mlflow_server_refuses_before_any_work(project: Path, tmp_path: Path) -> None:
    step = next(s for s in steps(project) if s.stage == "urban_synth")
    argv = ["sh", "-c", script(step, "storage"), step.task, str(tmp_path / "handoff")]
    proc = subprocess.run(argv, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert proc.returncode != 0 and "no MLflow server for the runs: set the mlflow_tracking_uri" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing received, run or handed off


def test_cli_writes_the_exported_workflow(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    out = tmp_path / "wf.yaml"
    assert cli.main(["export", "argo", "--out", str(out), "--image", "soundflow:cuda"]) == 0
    assert out.read_text() == argo.render(project, image="soundflow:cuda")


def test_cli_refuses_an_export_without_a_remote(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(make_project(tmp_path / "bare", root, {}, default=None))
    assert cli.main(["export", "kfp", "--out", str(tmp_path / "p.yaml")]) != 0
    err = capsys.readouterr().err
    assert "defines no DVC remote" in err and "dvc remote add -d" in err and "Traceback" not in err
    assert not (tmp_path / "p.yaml").exists()
