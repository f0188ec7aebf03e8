"""Data locations of params.yaml: a missing or unrecognised folder is refused with its key, path and layout.

`soundflow params` checks the folders a user brings; a folder inside a stage's output is checked by
the stage that reads it, at its start (before any work, before MLflow).
"""

import copy
from pathlib import Path

import pytest

from soundflow.pipeline import cli, runner
from soundflow.pipeline.config import Params, ParamsError, parse_params, read_params_yaml, set_dotted
from soundflow.pipeline.params_check import check_data_locations, check_stage_inputs, generated_by
from soundflow.pipeline.stages import get_stage
from tests.helpers.paths import ESC10


@pytest.fixture(scope="module")
def committed(root: Path) -> dict:
    return read_params_yaml(root / "params.yaml")


@pytest.fixture
def project(tmp_path: Path, root: Path) -> Path:
    """A project folder with the committed params.yaml, dvc.yaml and mapping file, and no data."""
    proj = tmp_path / "project"
    for name in ("params.yaml", "dvc.yaml", "configs/soundscape_mapping.yaml"):
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        (proj / name).write_text((root / name).read_text())
    return proj


def _params(committed: dict, **changes: object) -> Params:
    raw = copy.deepcopy(committed)
    for key, value in changes.items():
        set_dotted(raw, key.replace("__", "."), value)
    return parse_params(raw, Path("params.yaml"))


def _refusal(params: Params, project: Path) -> str:
    with pytest.raises(ParamsError) as err:
        check_data_locations(params, project)
    return str(err.value)


def _urbansound8k(folder: Path) -> Path:
    (folder / "metadata").mkdir(parents=True)
    (folder / "audio" / "fold1").mkdir(parents=True)
    (folder / "metadata" / "UrbanSound8K.csv").write_text("slice_file_name,fold,classID,class\na.wav,1,0,dog\n")
    return folder


def _esc50(folder: Path) -> Path:
    (folder / "audio").mkdir(parents=True)
    (folder / "meta.csv").write_text("filename,fold,target,category\na.wav,1,0,dog\n")
    return folder


def _cityscapes(folder: Path, splits: tuple[str, ...] = ("train", "val", "test")) -> Path:
    for split in splits:
        for kind, suffix in (("leftImg8bit", "leftImg8bit"), ("gtFine", "gtFine_labelIds")):
            (folder / kind / split / "city").mkdir(parents=True)
            (folder / kind / split / "city" / f"city_000000_000019_{suffix}.png").write_bytes(b"")
    return folder


def test_committed_params_locations_are_generated_or_present(committed: dict, root: Path) -> None:
    check_data_locations(_params(committed), root)  # the default data is made by stages: nothing to check yet
    assert generated_by("data/generated/urban_synth", root) == "urban_synth"
    assert generated_by("data/generated/street_scenes/leftImg8bit/test", root) == "street_scenes"
    assert generated_by("data/datasets/esc50/ESC-50-master", root) == "datasets"
    assert generated_by("data/raw/cityscapes", root) is None and generated_by("../shared/data/esc10", root) is None


def test_missing_audio_root_is_refused_with_key_path_and_layout(committed: dict, project: Path) -> None:
    msg = _refusal(_params(committed, aed__data__root="data/raw/UrbanSound8K"), project)
    assert "aed.data.root: 'data/raw/UrbanSound8K' does not exist" in msg
    assert "metadata/UrbanSound8K.csv and audio/fold<k>/" in msg and str(project / "params.yaml") in msg


def test_audio_root_in_another_layout_is_refused(committed: dict, project: Path, tmp_path: Path) -> None:
    esc = _esc50(tmp_path / "esc")
    msg = _refusal(_params(committed, aed__data__root=str(esc), aed__data__format="urbansound8k"), project)
    assert f"aed.data.root: '{esc}' is not usable" in msg and "no metadata CSV" in msg
    us8k = _urbansound8k(tmp_path / "us8k")
    msg = _refusal(_params(committed, aed__data__root=str(us8k), aed__data__format="esc50"), project)
    assert "aed.data.root" in msg and "meta/esc50.csv" in msg
    (us8k / "audio" / "fold1").rmdir()  # metadata without its audio folders
    msg = _refusal(_params(committed, aed__data__root=str(us8k), aed__data__format="urbansound8k"), project)
    assert "no audio/fold<k>/ folder" in msg


def test_recognised_layouts_are_accepted(committed: dict, project: Path, tmp_path: Path) -> None:
    check_data_locations(_params(committed, aed__data__root=str(_urbansound8k(tmp_path / "us8k"))), project)
    check_data_locations(
        _params(committed, aed__data__root=str(_esc50(tmp_path / "esc")), aed__data__format="esc50"), project
    )
    city = _cityscapes(project / "data" / "raw" / "cityscapes")
    check_data_locations(
        _params(
            committed, seg__data__root="data/raw/cityscapes", seg__predict__images="data/raw/cityscapes/leftImg8bit/val"
        ),
        project,
    )
    assert city.is_dir()


@pytest.mark.realdata
@pytest.mark.skipif(not (ESC10 / "meta.csv").is_file(), reason=f"{ESC10} not present")
def test_the_real_esc10_folder_is_an_esc50_layout(committed: dict, project: Path) -> None:
    check_data_locations(_params(committed, aed__data__root=str(ESC10), aed__data__format="esc50"), project)


def test_cityscapes_root_without_its_layout_is_refused(committed: dict, project: Path) -> None:
    msg = _refusal(_params(committed, seg__data__root="data/raw/cityscapes"), project)
    assert "seg.data.root: 'data/raw/cityscapes' does not exist" in msg and "leftImg8bit/<split>/<city>/" in msg
    _cityscapes(project / "data" / "raw" / "cityscapes", splits=("train",))  # no val split
    msg = _refusal(_params(committed, seg__data__root="data/raw/cityscapes"), project)
    assert "seg.data.root: 'data/raw/cityscapes' is not usable" in msg and "leftImg8bit/val" in msg
    _cityscapes(project / "data" / "raw" / "cityscapes", splits=("val",))  # no test split, which seg_evaluate scores
    msg = _refusal(_params(committed, seg__data__root="data/raw/cityscapes"), project)
    assert "leftImg8bit/test" in msg


def test_empty_image_folder_and_missing_library_and_mapping_are_refused(committed: dict, project: Path) -> None:
    (project / "photos").mkdir()
    (project / "photos" / "a.jpg").write_bytes(b"")
    msg = _refusal(
        _params(
            committed,
            seg__predict__images="photos",
            soundscapes__library="sounds",
            soundscapes__mapping="configs/missing.yaml",
        ),
        project,
    )
    assert "3 unusable data location(s)" in msg
    assert "seg.predict.images: 'photos' is not usable: no *.png image in it" in msg
    assert "soundscapes.library: 'sounds' does not exist" in msg and "foreground/<label>/*.wav" in msg
    assert "soundscapes.mapping: 'configs/missing.yaml' does not exist" in msg


def test_a_stage_refuses_its_missing_generated_input_before_any_work(
    committed: dict, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(committed)
    check_data_locations(params, project)  # generated: `soundflow params` cannot check it before the first run
    with pytest.raises(
        ParamsError,
        match="aed.data.root: 'data/generated/urban_synth' does not exist; it is made by the urban_synth stage",
    ):
        check_stage_inputs(params, project, get_stage("aed_features"))
    check_stage_inputs(params, project, get_stage("aed_train"))  # reads the chunk store, not the dataset folder
    _urbansound8k(project / "data" / "generated" / "urban_synth")
    check_stage_inputs(params, project, get_stage("aed_features"))

    # through the runner, as `python -m soundflow stage` (DVC) and the Prefect tasks run a stage
    import soundflow.pipeline.tracking

    def no_tracking(*a: object, **k: object) -> None:
        raise AssertionError("the stage started (MLflow run opened) before its inputs were checked")

    monkeypatch.setattr(soundflow.pipeline.tracking, "Tracker", no_tracking)
    with pytest.raises(ParamsError, match="seg.data.root: 'data/generated/street_scenes' does not exist"):
        runner.execute("seg_class_weights", project, engine="dvc")


def test_cli_params_refuses_a_missing_real_root(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (project / "params.yaml").read_text()
    old = "root: data/generated/urban_synth"
    assert old in text
    (project / "params.yaml").write_text(text.replace(old, "root: ../shared/data/nonexistent", 1))
    monkeypatch.chdir(project)
    assert cli.main(["params"]) == 2
    assert "aed.data.root: '../shared/data/nonexistent' does not exist" in capsys.readouterr().err
