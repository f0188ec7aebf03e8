from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundflow.audio import AudioError, load_audio
from soundflow.io import atomic_path, write_json
from tests.helpers.audio import write_wav


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("killed")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_atomic_path_replaces_folders(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old.txt").write_text("old")
    with atomic_path(tmp_path / "d") as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["new.txt"]


def test_load_audio_resamples_and_downmixes(tmp_path: Path) -> None:
    sr = 22050
    stereo = np.stack([np.ones(sr), -np.ones(sr) * 0.5], axis=1).astype(np.float32) * 0.5
    sf.write(tmp_path / "s.wav", stereo, sr, subtype="FLOAT")
    y = load_audio(tmp_path / "s.wav", 44100)
    assert y.dtype == np.float32 and len(y) == 44100
    assert np.median(y) == pytest.approx(0.125, abs=1e-3)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty file"), (b"RIFF....WAVEgarbage" * 4, "cannot decode"), (None, "file not found")],
)
def test_bad_audio_names_file_and_problem(tmp_path: Path, content: bytes | None, problem: str) -> None:
    path = tmp_path / "clip.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=problem) as err:
        load_audio(path, 16000)
    assert str(path) in str(err.value)


def test_nan_audio_is_refused(tmp_path: Path) -> None:
    x = np.zeros(1000, dtype=np.float32)
    x[10] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav", 16000)
    assert len(load_audio(write_wav(tmp_path / "ok.wav", 0.5), 16000)) == 8000
