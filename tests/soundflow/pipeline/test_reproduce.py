"""``soundflow reproduce`` and configs/paper/: valid sets, on the registry's layouts, run as DVC experiments."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.workflows.data import DATASETS
from soundflow.pipeline import reproduce
from soundflow.pipeline.cli import main
from soundflow.pipeline.config import flatten, overridden, parse_params, read_overrides, read_params_yaml
from soundflow.pipeline.params_check import LOCATIONS, value_of
from soundflow.pipeline.stages import STAGES, get_stage
from tasks.datasets import registry
from tests.helpers.commands import own_project, sh
from tests.helpers.corpus_server import (
    PASSWORD,
    USER,
    Server,
    esc50_zip,
    md5_hex,
    running_server,
    serve_cityscapes,
    serve_corpus,
    us8k_tgz,
    wav_bytes,
    zip_bytes,
)
from tests.helpers.paths import ROOT

WORKFLOWS = reproduce.workflows()
ESC50 = "aed"


@pytest.fixture
def server():
    with running_server() as state:
        yield state


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of the test's own: params.yaml, dvc.yaml and configs/ (the paper sets) of the repository."""
    root = own_project(tmp_path, ROOT, monkeypatch)
    shutil.copytree(ROOT / "configs", root / "configs")
    return root


def paper_set(flow: str) -> dict[str, Any]:
    return read_overrides(ROOT / reproduce.paper_file(flow))


def merged(flow: str, **extra: Any) -> dict[str, Any]:
    """params.yaml with the paper set (and ``extra`` dotted keys) set, computed here with plain dict updates."""
    raw = read_params_yaml(ROOT / "params.yaml")
    for key, value in {**paper_set(flow), **extra}.items():
        *parents, last = key.split(".")
        node = raw
        for p in parents:
            node = node[p]
        assert last in node, f"{key}: not in params.yaml"
        node[last] = value
    return raw


def test_every_workflow_has_one_paper_set() -> None:
    files = sorted(p.stem for p in (ROOT / reproduce.PAPER_DIR).glob("*.yaml"))
    assert (
        files
        == WORKFLOWS
        == sorted(
            [
                "aed",
                "image_to_soundscape",
                "localisation",
                "transcoder",
                "text_to_audio",
            ]
        )
    )
    assert reproduce.resolve("spectral_transcoder") == "transcoder"  # a former name still works


@pytest.mark.parametrize("flow", WORKFLOWS)
def test_paper_set_keys_exist_and_validate(flow: str) -> None:
    leaves = paper_set(flow)
    current = read_params_yaml(ROOT / "params.yaml")
    # every key is one of params.yaml (a typo would be a new key DVC refuses, or silently nothing)
    assert set(leaves) <= set(flatten(current)), sorted(set(leaves) - set(flatten(current)))
    params = parse_params(merged(flow), Path(reproduce.paper_file(flow)))  # the schema `soundflow params` checks
    assert params == parse_params(overridden(current, leaves, Path(flow)), Path(flow))
    # each set runs on the GPU and changes something of its own workflow's sections
    assert any(k.endswith("device") and v == "cuda" for k, v in leaves.items())


@pytest.mark.parametrize("flow", WORKFLOWS)
def test_every_value_has_its_source_beside_it(flow: str) -> None:
    lines = (ROOT / reproduce.paper_file(flow)).read_text().splitlines()
    values = [ln for ln in lines if not ln.lstrip().startswith("#") and not ln.split("#")[0].rstrip().endswith(":")]
    assert [ln for ln in values if ln.strip() and "#" not in ln] == []  # the paper's value, or why not


def _dataset_paths(flow: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in paper_set(flow).items() if isinstance(v, str) and v.startswith(DATASETS + "/")]


@pytest.mark.parametrize("flow", WORKFLOWS)
def test_data_locations_are_registry_folders_of_listed_datasets(flow: str) -> None:
    listed = merged(flow)["data"]["download"]["datasets"]
    assert all(name in registry.available() for name in listed)
    for key, value in _dataset_paths(flow):
        folder, *rest = Path(value).relative_to(DATASETS).parts
        (info,) = [registry.get(n) for n in listed if registry.get(n).folder == folder] or [None]
        assert info is not None, f"{key}: {value} is in no listed dataset's folder"
        if rest:  # the folder an archive is extracted into, or a plain file as the registry copies it
            targets = {registry.archive_stem(f.filename) or f.filename for f in info.files}
            assert rest[0] in targets, f"{key}: {rest[0]!r} is none of {sorted(targets)}"


def _fetch_for(flow: str, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve the listed datasets' archives (the official layouts, tests/helpers/corpus_server.py)."""
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    city = "aachen/aachen_000000_000019"
    gt = zip_bytes({f"gtFine/{s}/{city}_gtFine_labelIds.png": png for s in ("train", "val", "test")})
    img = zip_bytes({f"leftImg8bit/{s}/{city}_leftImg8bit.png": png for s in ("train", "val", "test")})
    bodies = {"esc50": [esc50_zip()], "urbansound8k": [us8k_tgz()]}
    for name in merged(flow)["data"]["download"]["datasets"]:
        if name == "cityscapes":
            serve_cityscapes(server, [gt, img], [md5_hex(gt), md5_hex(img)])
            monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
            monkeypatch.setenv("CITYSCAPES_PASSWORD", PASSWORD)
        else:
            serve_corpus(server, name, bodies[name], monkeypatch)


@pytest.mark.parametrize("flow", [ESC50, "image_to_soundscape", "text_to_audio"])
def test_data_roots_are_where_the_datasets_stage_extracts_the_archives(
    flow: str, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fetch_for(flow, server, monkeypatch)
    params = parse_params(merged(flow, **{"data.download.base_url": server.base}), Path(flow))
    get_stage("datasets").run(params, tmp_path)  # the stage's own fetch, verify, extract and index
    from tasks.datasets.labelled_audio import read_labelled_audio

    # each location in a fetched dataset, checked in its layout as the stage reading it checks it at its start
    checked = [loc for loc in LOCATIONS if value_of(params, loc.key).startswith(DATASETS + "/")]
    assert checked or flow == "text_to_audio"
    for loc in checked:
        loc.check(tmp_path / value_of(params, loc.key), params, tmp_path)

    for key, value in _dataset_paths(flow):
        assert (tmp_path / value).exists(), f"{key}: {value}"
        if key.endswith("real.root"):  # no location check names it: read it as t2a_generate does
            assert len(read_labelled_audio(tmp_path / value, params.text_to_audio.real.format)) == 2


def test_cityscapes_pairs_are_found_in_the_registry_folders(tmp_path: Path) -> None:
    from tasks.datasets.cityscapes import find_pairs

    img = tmp_path / "leftImg8bit_trainvaltest/leftImg8bit/val/bonn/bonn_000001_000019_leftImg8bit.png"
    lab = tmp_path / "gtFine_trainvaltest/gtFine/val/bonn/bonn_000001_000019_gtFine_labelIds.png"
    for p in (img, lab):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
    assert find_pairs(tmp_path, "val") == [(img, lab)]
    lab.unlink()
    with pytest.raises(FileNotFoundError, match="gtFine_trainvaltest/gtFine/val/bonn/bonn_000001_000019_gtFine"):
        find_pairs(tmp_path, "val")


def _apply_with_dvc(root: Path, command: list[str]) -> dict[str, Any]:
    """params.yaml after DVC's own parser applies the command's -S values (what `dvc exp run` does first)."""
    from dvc.utils.hydra import apply_overrides

    sets = [command[i + 1] for i, a in enumerate(command) if a == "-S"]
    scratch = root / "applied.yaml"
    scratch.write_text((root / "params.yaml").read_text())
    apply_overrides(scratch, sets)
    return yaml.safe_load(scratch.read_text())


def test_dry_run_prints_the_dvc_experiment_of_the_workflow_stages(project: Path, capsys) -> None:
    assert main(["reproduce", "aed", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "the datasets stage fetches esc50 into data/datasets/esc50/ first" in err
    command = shlex.split(out.strip())
    assert command[:5] == ["dvc", "exp", "run", "--name", "paper-aed"]
    assert command[-3:] == ["aed_features", "aed_train", "aed_evaluate"]
    assert "-S" in command and "aed.model.width=64" in command and "aed.train.epochs=55" in command
    assert _apply_with_dvc(project, command) == merged(ESC50)  # exactly the set, nothing else
    assert (project / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()  # a dry run changes nothing


def _everything_at_hand(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What no stage fetches: the published checkpoints in data/raw/, Cityscapes' login, the hub online."""
    (root / reproduce.RAW).mkdir(parents=True, exist_ok=True)
    for name in reproduce.BROUGHT:
        (root / reproduce.RAW / name).write_bytes(b"")
    monkeypatch.setenv("CITYSCAPES_USERNAME", "u")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "p")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


@pytest.mark.parametrize("flow", WORKFLOWS)
def test_commands_set_exactly_the_paper_set_through_dvcs_parser(flow: str, project: Path, monkeypatch) -> None:
    _everything_at_hand(project, monkeypatch)
    plan = reproduce.plan(project, flow)
    assert plan.stages == [s.name for s in STAGES if s.flow == flow] and plan.stages
    assert plan.changes and all(paper_set(flow)[k] == v for k, v in plan.changes.items())
    assert _apply_with_dvc(project, plan.command()) == merged(flow)


@pytest.mark.parametrize(
    "value",
    ["data/raw/ResNet38_mAP=0.434.pth", "null", "1.5", "x y", 'say "hi"', "a\\b", 'a\\"b', "x\\", "it's", ""]
    + [None, True, 3, 0.25, [1, 2], {"k": "v w"}],
)
def test_hydra_values_come_back_from_dvc_as_written(value: Any, tmp_path: Path) -> None:
    from dvc.utils.hydra import apply_overrides

    (tmp_path / "p.yaml").write_text("a:\n  b: 0\n  c: [{dataset: x, representation: y}]\n")
    sets = [reproduce.hydra_override("a.b", value), reproduce.hydra_override("a.c", [{"dataset": "z", "n": value}])]
    apply_overrides(tmp_path / "p.yaml", sets)
    assert yaml.safe_load((tmp_path / "p.yaml").read_text()) == {"a": {"b": value, "c": [{"dataset": "z", "n": value}]}}


def _edit_set(root: Path, flow: str, **changes: Any) -> None:
    """Change dotted keys of the project's paper set of ``flow``."""
    path = root / reproduce.paper_file(flow)
    raw = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = raw
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def _one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_a_missing_downloaded_dataset_names_its_download_command(project: Path, capsys) -> None:
    _edit_set(project, ESC50, **{"data.download.datasets": [], "aed.data.root": "data/raw/esc50/ESC-50-master"})
    err = _one_line_error(["reproduce", "aed", "--dry-run"], capsys)
    assert err == (
        "soundflow: configs/paper/aed.yaml: aed.data.root: 'data/raw/esc50/ESC-50-master' "
        "does not exist: it is part of the esc50 dataset, which `soundflow download esc50` fetches into data/raw/esc50/"
    )


def test_a_missing_checkpoint_names_where_to_get_it(project: Path, capsys) -> None:
    err = _one_line_error(["reproduce", "transcoder", "--dry-run"], capsys)
    assert "transcoder.teacher.checkpoint: 'data/raw/ResNet38_mAP=0.434.pth' does not exist" in err
    assert "https://zenodo.org/record/3987831/files/ResNet38_mAP%3D0.434.pth" in err
    (project / "data/raw").mkdir(parents=True)
    (project / "data/raw/ResNet38_mAP=0.434.pth").write_bytes(b"")
    assert main(["reproduce", "transcoder", "--dry-run"]) == 0  # its datasets come from the datasets stage


def test_a_root_in_an_unlisted_dataset_is_refused(project: Path, capsys) -> None:
    _edit_set(project, ESC50, **{"data.download.datasets": ["urbansound8k"]})
    err = _one_line_error(["reproduce", "aed", "--dry-run"], capsys)
    assert "is part of the esc50 dataset, which the datasets stage fetches only when data.download.datasets" in err


def test_cityscapes_needs_its_login_before_dvc_starts(project: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CITYSCAPES_USERNAME", raising=False)
    monkeypatch.delenv("CITYSCAPES_PASSWORD", raising=False)
    err = _one_line_error(["reproduce", "image_to_soundscape", "--dry-run"], capsys)
    assert "cityscapes needs a login to download: export CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD" in err
    monkeypatch.setenv("CITYSCAPES_USERNAME", "u")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "p")
    assert main(["reproduce", "image_to_soundscape", "--dry-run"]) == 0


def test_audioldm2_must_be_cached_while_the_hub_is_offline(project: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(project / "hf-cache"))  # empty
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(project / "hf-cache"))
    err = _one_line_error(["reproduce", "text_to_audio", "--dry-run"], capsys)
    assert "'cvssp/audioldm2' is not in the Hugging Face cache" in err and "HF_HUB_OFFLINE=0" in err
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert main(["reproduce", "text_to_audio", "--dry-run"]) == 0


def test_invalid_values_and_unknown_keys_are_refused_naming_the_set(project: Path, capsys) -> None:
    _edit_set(project, ESC50, **{"aed.train.epochs": 0})
    assert main(["reproduce", "aed", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "configs/paper/aed.yaml: aed.train.epochs:" in err
    assert "aed.train.epochs" in err
    _edit_set(project, ESC50, **{"aed.train.epochs": 55, "aed.train.epoch": 5})
    err = _one_line_error(["reproduce", "aed", "--dry-run"], capsys)
    assert "configs/paper/aed.yaml: aed.train.epoch" in err


def test_a_value_dvc_would_write_otherwise_is_refused(project: Path, capsys) -> None:
    _edit_set(project, ESC50, **{"aed.train.lr_end": 2.0e-6})  # DVC writes 2e-06: a string to YAML 1.1
    err = _one_line_error(["reproduce", "aed", "--dry-run"], capsys)
    assert "`dvc exp run -S` would set aed.train.lr_end to '2e-06', not 2e-06: set it in params.yaml instead" in err


def test_a_value_dvcs_parser_refuses_is_refused_before_dvc(project: Path, capsys) -> None:
    _edit_set(project, ESC50, **{"tracking.experiment": "run ${x}"})  # an interpolation to Hydra
    err = _one_line_error(["reproduce", "aed", "--dry-run"], capsys)
    assert "`dvc exp run -S` refuses the set's values (Interpolation key 'x' not found): set them in params.yaml" in err


def test_unknown_workflow(project: Path, capsys) -> None:
    err = _one_line_error(["reproduce", "segmentation", "--dry-run"], capsys)
    assert "unknown workflow 'segmentation'" in err and "workflows: aed, data, image_to_soundscape" in err


def _esc50_archive() -> bytes:
    """ESC-50's zip with 2 classes x 2 clips in each of its 5 folds (1 s each): enough to train and test."""
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    files = {}
    for fold in range(1, 6):
        for target, category in ((0, "dog"), (1, "rooster")):
            for take in "AB":
                name = f"{fold}-{fold}{target}0-{take}-{target}.wav"
                rows.append(f"{name},{fold},{target},{category},True,{fold}{target}0,{take}")
                files[f"ESC-50-master/audio/{name}"] = wav_bytes(1.0, 16000)
    files["ESC-50-master/meta/esc50.csv"] = ("\n".join(rows) + "\n").encode()
    return zip_bytes(files)


@pytest.mark.slow
def test_reproduce_runs_the_set_as_a_dvc_experiment(tmp_path: Path, server: Server, cli_env: dict[str, str]) -> None:
    """The AED set, its data and experiment as committed, shrunk to CPU seconds: DVC fetches ESC-50 and runs it."""
    from soundflow.pipeline.workspace import TINY, copy_project

    project = copy_project(ROOT, tmp_path / "project")
    tiny = {k: v for k, v in TINY.items() if k.startswith("aed.features.") or k.startswith("aed.model.")}
    small = {**tiny, "aed.train.epochs": 1, "aed.train.device": "cpu", "aed.train.num_workers": 0}
    _edit_set(project, ESC50, **small, **{"aed.features.workers": 1, "data.download.base_url": server.base})
    server.files["/karoldvl/ESC-50/archive/master.zip"] = _esc50_archive()  # GitHub's path: fetch rebases hosts
    sh(["git", "commit", "-qam", "the set at CPU size"], project, cli_env)

    out = sh(["soundflow", "reproduce", "aed"], project, cli_env)
    assert "Running stage 'datasets'" in out and "Running stage 'aed_evaluate'" in out
    assert (project / "data/datasets/esc50/ESC-50-master/ESC-50-master/meta/esc50.csv").is_file()
    metrics = json.loads((project / "reports/aed/metrics.json").read_text())
    assert metrics["n_files"] == 4  # fold 5: 2 classes x 2 clips
    shown = json.loads(sh(["dvc", "exp", "show", "--json"], project, cli_env))
    assert "paper-aed" in json.dumps(shown)
    assert read_params_yaml(project / "params.yaml")["aed"]["data"]["root"].startswith("data/datasets/esc50/")
