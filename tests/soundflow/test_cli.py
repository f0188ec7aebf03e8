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


def test_features_builds_a_store_of_any_folder(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from tasks.features.representations import make_representation
    from tasks.features.store import open_store

    project = tmp_path / "project"
    project.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text((root / name).read_text())
    audio = tmp_path / "esc" / "audio"
    audio.mkdir(parents=True)
    rows = []
    for i in range(3):
        sf.write(audio / f"{i + 1}-{i}-A-{i}.wav", np.full(16000, 0.1 * (i + 1), np.float32), 16000)
        rows.append({"filename": f"{i + 1}-{i}-A-{i}.wav", "fold": i + 1, "target": i, "category": f"c{i}"})
    (audio / "9-9-A-0.wav").write_text("broken")
    rows.append({"filename": "9-9-A-0.wav", "fold": 1, "target": 0, "category": "c0"})
    pd.DataFrame(rows).to_csv(tmp_path / "esc" / "meta.csv", index=False)
    monkeypatch.chdir(project)
    out = tmp_path / "store"
    args = ["features", "logmel_t2a", str(tmp_path / "esc"), "--layout", "esc50", "--out", str(out),
            "--max-bad-fraction", "0.5", "--device", "cpu"]
    assert cli.main(args) == 0
    assert "logmel_t2a: 3 input(s), 96 item(s), 1 skipped" in capsys.readouterr().out
    with open_store(out, make_representation("logmel_t2a")) as st:
        assert sorted(st.table.fold) == [1, 2, 3] and st[0][0].shape == (32, 64)
    assert cli.main([*args[:1], "frames", *args[2:]]) == 2  # audio into an image representation: refused
    assert "holds audio" in capsys.readouterr().err
