"""``soundflow predict`` streams long files: bounded memory, and the very result of the whole file at once.

The fast tests check the mechanism on files a few chunk lengths long, decoded in small blocks and scored in
small batches so that every seam (block, chunk batch, the zero-padded end) is crossed: the streamed
AED probabilities and YAMNet scores equal those of the whole file at once, and the window buffer never
holds more than a window and a block. The soak test predicts a 30-minute recording in a subprocess and
compares its peak resident memory with a 3-minute one's (README "Predict" states the measured peak).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import models
from models.yamnet import YAMNet, yamnet_outputs
from models.yamnet_frontend import SAMPLE_RATE as YAMNET_RATE
from soundflow.audio import Windows, load_audio, stream_audio
from tasks.aed.predict import file_probabilities
from tasks.aed.yamnet_predict import file_scores
from tasks.features.chunk_classifier import chunk_probabilities
from tasks.features.stft_chunks import spectrogram_chunks
from tests.helpers.aed import tiny_aed_features
from tests.helpers.paths import ROOT

P = tiny_aed_features(n_freq_bins=64)  # 16 kHz, 3 s chunks every 1 s, 64 x 64 spectrograms


def _wav(path: Path, seconds: float, rate: int, channels: int = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t * (1 + t / seconds))  # a chirp: chunks differ from each other
    data = tone[:, None] + 0.05 * rng.standard_normal((len(t), channels))
    sf.write(path, data.astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def aed() -> torch.nn.Module:
    torch.manual_seed(0)
    model = models.get("aed_cnn")(n_classes=3, input_shape=(P.n_freq_bins, P.n_frames), width=4, dense=32, dropout=0.5)
    return model.eval()


@pytest.mark.parametrize("rate,channels", [(16000, 1), (22050, 2), (44100, 1)])
def test_streamed_audio_is_the_whole_file(tmp_path: Path, rate: int, channels: int) -> None:
    path = _wav(tmp_path / "a.wav", 4.3, rate, channels)
    streamed = np.concatenate(list(stream_audio(path, 16000, block_frames=3001)))
    assert np.array_equal(streamed, load_audio(path, 16000))  # soxr's streaming resampler: the same samples


@pytest.mark.parametrize("seconds", [1.2, 3.0, 10.6, 12.4])  # < one chunk, exactly one, a tail dropped or kept
def test_streamed_aed_prediction_equals_the_whole_file(board, aed, tmp_path: Path, seconds: float) -> None:
    path = _wav(tmp_path / "a.wav", seconds, 22050)
    whole = load_audio(path, P.sample_rate)
    specs, _ = spectrogram_chunks(whole, P.sample_rate, P)
    expected = chunk_probabilities(aed, specs).mean(0)
    streamed, n = file_probabilities(aed, path, P, batch_chunks=3, block_frames=7001)
    board.tried("bad_input")  # a file longer than memory should need, cut at every seam
    board.harm("stale_served", int(n != len(specs) or not np.allclose(streamed, expected, atol=1e-5)))
    assert n == len(specs)
    np.testing.assert_allclose(streamed, expected, atol=1e-5)


def test_streamed_yamnet_scores_equal_the_whole_file(board, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = YAMNet(width=0.125).eval()  # Google's architecture, narrow: the patching is what is tested
    for seconds in (0.5, 3.3):  # one padded patch; 6 patches in runs of 2, the last ones padded
        path = _wav(tmp_path / f"{seconds}.wav", seconds, 22050)
        scores, _, _ = yamnet_outputs(model, load_audio(path, YAMNET_RATE), batch_size=2)
        streamed, n = file_scores(model, path, patches_per_pass=2, block_frames=5003)
        board.tried("bad_input")
        board.harm("stale_served", int(n != len(scores) or not np.allclose(streamed, scores.mean(0), atol=1e-5)))
        assert n == len(scores)
        np.testing.assert_allclose(streamed, scores.mean(0), atol=1e-5)


def test_windows_hold_at_most_a_window_and_a_block(board) -> None:
    block, size, hop = 1000, 4800, 1600
    blocks = (np.full(block, i, np.float32) for i in range(3000))  # 3 M samples, never all in memory
    windows = Windows(blocks, size, hop)
    held, starts = 0, []
    for start, w in windows:
        held = max(held, len(windows.rest))
        starts.append(start)
        assert len(w) == size and w[0] == start // block  # the right samples
    board.tried("bad_input")
    board.harm("stale_served", int(starts != list(range(0, 3_000_000 - size + 1, hop))))
    assert starts == list(range(0, 3_000_000 - size + 1, hop))
    assert held <= size + block
    assert windows.n_samples == 3_000_000 and len(windows.rest) == 3_000_000 - windows.next_start


PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
from tasks.aed.predict import predict_files
(pred,) = predict_files(Path(sys.argv[1]), [Path(sys.argv[2])], 3, 0.0, 2.0, "cpu")
print(pred.n_chunks, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(checkpoint: Path, wav: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(checkpoint), str(wav)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[-2]), int(out[-1])


@pytest.mark.soak
def test_a_30_minute_file_peaks_as_a_3_minute_one(board, aed, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from soundflow.checkpoints import save_checkpoint
    from tasks.aed.params import AedModelParams
    from tasks.aed.train import _checkpoint

    index = SimpleNamespace(classes=["a", "b", "c"], input_shape=[P.n_freq_bins, P.n_frames], params=P.model_dump())
    result = SimpleNamespace(
        best_state=aed.state_dict(), best_epoch=1, best_metrics={"val_accuracy": 0.0}, device=torch.device("cpu")
    )
    contents = _checkpoint(index, AedModelParams(name="aed_cnn", width=4, dense=32, dropout=0.5))(result)
    ckpt = save_checkpoint(tmp_path / "model.pt", contents)
    rng = np.random.default_rng(0)
    peaks = {}
    for minutes in (3, 30):
        wav = tmp_path / f"{minutes}.wav"
        with sf.SoundFile(wav, "w", P.sample_rate, 1, "PCM_16") as f:
            for _ in range(minutes * 6):
                f.write((0.1 * rng.standard_normal(P.sample_rate * 10)).astype(np.float32))
        n_chunks, peaks[minutes] = _peak_kib(ckpt, wav)
        assert n_chunks == minutes * 60 - 2
    grown = peaks[30] - peaks[3]
    board.tried("bad_input")  # no harm kind: growth is what the assertion measures
    # more than 100 MiB for 27 more minutes would not be bounded (the whole file at once: +900 MiB)
    assert grown < 100 * 1024, f"peak {peaks[3] / 1024:.0f} MiB (3 min) -> {peaks[30] / 1024:.0f} MiB (30 min)"
