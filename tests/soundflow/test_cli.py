from pathlib import Path

import pytest

from soundflow import cli


def test_datasets_lists_the_registry(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(root)
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("esc50", "urbansound8k", "sonyc_ust", "tau2020_mobile", "cityscapes", "ave", "soundnet_flickr",
                 "audioset_instruments"):
        assert name in out
    assert "(login)" in out.split("cityscapes", 1)[1].splitlines()[0]


def test_dvc_yaml_check_passes_on_the_committed_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    assert cli.main(["dvc-yaml", "--check"]) == 0


def test_bad_params_exit_2_naming_the_key(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = (root / "params.yaml").read_text().replace("    epochs: 12", "    epochs: -1", 1)
    (tmp_path / "params.yaml").write_text(text)
    (tmp_path / "dvc.yaml").write_text((root / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["params"]) == 2
    assert "aed.train.epochs" in capsys.readouterr().err
