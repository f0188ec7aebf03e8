"""``soundflow predict --model``: the name a registry URI or a checkpoint takes (``--checkpoint`` kept as its
alias), and the compute time per chunk as the output states it. Through the CLI's own parser and command."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

import models
from soundflow.checkpoints import save_checkpoint
from soundflow.pipeline import cli
from tasks.aed.params import AedModelParams
from tasks.aed.train import _checkpoint as aed_checkpoint_contents
from tests.helpers.aed import tiny_aed_features

CLASSES = ["dog_bark", "siren", "drilling"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny AED checkpoint with the training's own contents and writer (untrained, seeded weights)."""
    p = tiny_aed_features(n_freq_bins=64)
    torch.manual_seed(0)
    model = models.get("aed_cnn")(n_classes=3, input_shape=(64, 64), width=4, dense=32, dropout=0.5)
    index = SimpleNamespace(classes=CLASSES, input_shape=[64, 64], params=p.model_dump())
    result = SimpleNamespace(
        best_state=model.state_dict(), best_epoch=1, best_metrics={"val_accuracy": 0.0}, device=torch.device("cpu")
    )
    contents = aed_checkpoint_contents(index, AedModelParams(name="aed_cnn", width=4, dense=32, dropout=0.5))(result)
    return save_checkpoint(tmp_path_factory.mktemp("aed") / "model.pt", contents)


@pytest.fixture
def project(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _wav(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    t = np.arange(round(rate * seconds)) / rate
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


def _predict(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["predict", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_model_and_checkpoint_name_the_same_option(
    project: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = _wav(project / "clip.wav")
    outputs = []
    for option in ("--model", "--checkpoint"):
        code, out, err = _predict([str(wav), option, str(checkpoint), "--results", "3", "--confidence", "0"], capsys)
        assert code == 0, err
        lines = out.splitlines()
        # "  sample rate: 16000 Hz, 1 chunk(s), 23.5 ms/chunk compute": the time as a reader expects it
        assert re.fullmatch(r"  sample rate: 16000 Hz, \d+ chunk\(s\), \d+\.\d ms/chunk compute", lines[1]), lines
        outputs.append([lines[0], *lines[2:]])  # all but the timing
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == str(wav) and sorted(line.split()[0] for line in outputs[0][1:]) == sorted(CLASSES)


def test_a_model_that_is_neither_a_name_a_uri_nor_a_file_is_refused_in_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = _wav(project / "clip.wav")
    code, out, err = _predict([str(wav), "--model", "wav2vec"], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "soundflow: --model wav2vec: no such checkpoint file; use aed, yamnet, models:/NAME@ALIAS, "
        "models:/NAME/VERSION or a checkpoint's path"
    ]


def test_a_malformed_registry_uri_is_refused_before_any_server_is_asked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _predict([str(_wav(project / "clip.wav")), "--model", "models:/aed"], capsys)
    assert code == 2 and "models:/aed: not a registry URI" in err and "Traceback" not in err
