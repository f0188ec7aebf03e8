"""Google's YAMNet weights in our PyTorch YAMNet and front end, against TensorFlow YAMNet's own outputs on 8 real
clips (shared/data/yamnet/reference.npz: TF 2.21 on x86-64). Skipped when the shared data is absent.

Measured maxima over the 8 clips (float32, CPU) in brackets: log-mel [4.1e-5], scores [2.0e-5], embeddings
[6.0e-5, of values up to 7.1]; the mel matrix [8.2e-6 from the graph's]; the Hann window bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from models.yamnet import pretrained_yamnet, yamnet_outputs
from models.yamnet_frontend import pad_waveform, tf_hann_window, tf_mel_matrix
from tests.helpers.paths import SHARED

YAMNET = SHARED / "data" / "yamnet"
WEIGHTS, CLASS_MAP, REFERENCE = YAMNET / "yamnet_weights.npz", YAMNET / "yamnet_class_map.csv", YAMNET / "reference.npz"
CLIPS = 8

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (WEIGHTS.is_file() and REFERENCE.is_file()), reason=f"{YAMNET} not present"),
]


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def outputs(reference: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared CPU cores; 8 short clips take < 1 s
    try:
        model = pretrained_yamnet(WEIGHTS)
        return [yamnet_outputs(model, reference[f"waveform_{i}"]) for i in range(CLIPS)]
    finally:
        torch.set_num_threads(threads)


def _max_diff(outputs, reference, which: int, key: str) -> float:
    diffs = []
    for i in range(CLIPS):
        ours, theirs = outputs[i][which], reference[f"{key}_{i}"]
        assert ours.shape == theirs.shape, (i, key)
        diffs.append(float(np.abs(ours - theirs).max()))
    return max(diffs)


def test_front_end_constants_match_the_graph(reference) -> None:
    assert np.abs(tf_mel_matrix() - reference["frontend_mel_matrix"]).max() <= 1e-5
    assert np.array_equal(tf_hann_window(), reference["frontend_window"])


def test_log_mel_matches_tensorflow(outputs, reference) -> None:
    assert _max_diff(outputs, reference, 2, "log_mel_spectrogram") <= 1e-4


def test_scores_match_tensorflow(outputs, reference) -> None:
    assert _max_diff(outputs, reference, 0, "scores") <= 1e-4
    for i in range(CLIPS):  # and so the ranking of the README's table
        assert outputs[i][0].mean(0).argmax() == reference[f"scores_{i}"].mean(0).argmax()


def test_embeddings_match_tensorflow(outputs, reference) -> None:
    assert _max_diff(outputs, reference, 1, "embeddings") <= 1e-4


def test_the_feature_store_preset_is_the_same_front_end(reference) -> None:
    from tasks.features.logmel import PRESETS, LogMel

    wave = torch.from_numpy(reference["waveform_1"])  # the clip most sensitive to the window and FFT rounding
    ours = LogMel(PRESETS["yamnet"])(pad_waveform(wave)).numpy()
    assert np.abs(ours - reference["log_mel_spectrogram_1"]).max() <= 1e-4


def test_load_audio_resamples_as_the_reference_clips_were(reference) -> None:
    from soundflow.audio import load_audio

    clip = SHARED / "data" / str(reference["clip_names"][0])
    if not clip.is_file():
        pytest.skip(f"{clip} not present")
    wave = load_audio(clip, 16000)  # 44.1 kHz FLAC -> soxr HQ, as librosa's soxr_hq made the reference
    assert wave.shape == reference["waveform_0"].shape
    assert np.abs(wave - reference["waveform_0"]).max() <= 1e-6


def test_the_transcoder_teacher_accepts_the_npz(tmp_path: Path) -> None:
    from tasks.transcoder.params import TeacherParams
    from tasks.transcoder.teacher import load_official

    p = TeacherParams(
        name="yamnet", checkpoint=str(WEIGHTS), class_names=str(CLASS_MAP), width=1, epochs=1, batch_size=1, lr=1e-3
    )
    contents = load_official(p, tmp_path)  # absolute paths: root / path is the path
    assert len(contents["classes"]) == 521 and contents["classes"][0] == "Speech"
    assert torch.equal(contents["state_dict"]["layer1.fused.bn.weight"], torch.ones(32))


def test_cli_prints_tensorflows_top_class(reference, capsys: pytest.CaptureFixture[str]) -> None:
    """``soundflow predict --model yamnet`` through the CLI's own parser and command, in this process: a
    subprocess spends 4-17 s importing torch and torchvision again (the ``models`` package) for the same code."""
    from soundflow.pipeline import cli

    i = 5  # UrbanSound8K car horn, 16 kHz: "Vehicle" first
    clip = SHARED / "data" / str(reference["clip_names"][i])
    if not clip.is_file():
        pytest.skip(f"{clip} not present")
    assert cli.main(["predict", "--model", "yamnet", "--weights", str(WEIGHTS), str(clip)]) == 0
    names = list(pd.read_csv(CLASS_MAP)["display_name"])
    mean = reference[f"scores_{i}"].mean(0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(clip) and "8 chunk(s)" in lines[1]
    assert lines[2].split()[0] == names[int(mean.argmax())] == "Vehicle"
    assert abs(float(lines[2].split()[-1].rstrip("%")) - 100 * mean.max()) < 0.01  # 63.0 %, TF's mean score
    assert len(lines) == 2 + 5


def test_cli_names_a_missing_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from soundflow.pipeline import cli

    missing = tmp_path / "yamnet_weights.npz"
    assert cli.main(["predict", "--model", "yamnet", "--weights", str(missing), "x.wav"]) == 2
    assert f"{missing}: YAMNet weights file not found" in capsys.readouterr().err
