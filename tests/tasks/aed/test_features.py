import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from soundflow.audio import load_audio
from soundflow.pipeline.config import load_params
from tasks.aed.features import extract_chunks, open_chunks, read_index
from tasks.features.params import AedFeatureParams
from tasks.features.stft_chunks import chunk_starts, spectrogram_chunks
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import write_wav


@pytest.fixture
def spec_params(root: Path) -> AedFeatureParams:
    return load_params(root).aed.features  # docs/methods.md#spectrogram-chunks: 44.1 kHz, 3 s / 1 s, 256 x 512


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.5, [0.0]), (3.0, [0.0]), (3.4, [0.0]), (10.0, [0, 1, 2, 3, 4, 5, 6, 7]), (4.5, [0.0, 1.0])],
)
def test_chunk_counts_for_edge_lengths(spec_params: AedFeatureParams, seconds: float, expected: list[float]) -> None:
    sr = spec_params.sample_rate
    starts = chunk_starts(round(seconds * sr), sr, spec_params)
    assert [s / sr for s in starts] == pytest.approx(expected)


def test_trailing_chunk_kept_only_when_long_enough(spec_params: AedFeatureParams) -> None:
    p = spec_params.model_copy(update={"chunk_hop_seconds": 3.0})  # no overlap: leftovers are visible
    sr = p.sample_rate
    assert len(chunk_starts(round(10.0 * sr), sr, p)) == 4  # 0, 3, 6 full + 1 s left -> kept
    assert len(chunk_starts(round(9.5 * sr), sr, p)) == 3  # 0.5 s left -> dropped


@pytest.mark.parametrize("seconds", [0.5, 3.0, 3.4, 10.0])
def test_spectrogram_shape_and_normalisation(spec_params: AedFeatureParams, seconds: float) -> None:
    sr = spec_params.sample_rate
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(round(seconds * sr)).astype(np.float32)
    specs, starts = spectrogram_chunks(audio, sr, spec_params)
    assert specs.shape == (len(starts), 256, 512)
    assert specs.dtype == np.float32
    assert specs.min() == 0.0 and specs.max() == pytest.approx(1.0)


def test_spectrum_matches_independent_numpy_computation(spec_params: AedFeatureParams) -> None:
    sr = spec_params.sample_rate
    t = np.arange(3 * sr) / sr
    audio = (np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)
    (spec,), _ = spectrogram_chunks(audio, sr, spec_params)
    win, hop = 882, 258
    frame = audio[:win] * np.hanning(win + 1)[:-1]  # periodic Hann, as torch's
    mag = np.abs(np.fft.rfft(frame, n=1024))  # 513 bins
    # the 256 output bins average the 513 FFT bins in equal-width groups (adaptive average pooling)
    ref = np.array([mag[(i * 513) // 256 : -(-((i + 1) * 513) // 256)].mean() for i in range(256)])
    col = spec[:, 0]
    ref_norm = ref / ref.max()
    assert np.argmax(col) == np.argmax(ref_norm) == int(1000 / (sr / 2) * 256)
    # min-max normalisation is over the whole chunk, so compare shapes of the first frame up to scale
    assert np.corrcoef(col, ref_norm)[0, 1] > 0.999
    frames = 1 + (3 * sr - win) // hop
    assert frames < 512 and spec[:, frames:].max() == 0.0  # zero-padded past the last real frame


def test_extract_chunks_writes_index_attrs_and_skips_bad_files(tmp_path: Path) -> None:
    good = [write_wav(tmp_path / f"a{i}.wav", s, freq=300 + 100 * i) for i, s in enumerate([0.5, 3.0, 4.5])]
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    corrupt = tmp_path / "corrupt.wav"
    raw = bytearray(good[1].read_bytes())
    raw[20:36] = b"\xff" * 16  # garbled format chunk: codec, channels, rate
    corrupt.write_bytes(bytes(raw))
    table = pd.DataFrame(
        {
            "path": [str(p) for p in [*good, empty, text, corrupt]],
            "label": [0, 1, 1, 0, 1, 0],
            "class": ["x", "y", "y", "x", "y", "x"],
            "fold": [1, 1, 2, 2, 1, 2],
        }
    )
    p = tiny_aed_features()
    rep = extract_chunks(
        table,
        tmp_path / "out" / "chunks",
        tmp_path / "out" / "summary.json",
        tmp_path / "out" / "skipped.csv",
        p,
        max_bad_fraction=0.6,
        progress=False,
        shard_size=2,
    )
    assert (rep.n_files, rep.n_chunks, rep.n_skipped) == (3, 1 + 1 + 2, 3)
    skipped = pd.read_csv(rep.skipped)
    assert sorted(Path(s).name for s in skipped["path"]) == ["corrupt.wav", "empty.wav", "notes.wav"]
    assert skipped["reason"].str.len().min() > 5
    with h5py.File(rep.store / "shard-00000.h5") as h5:
        assert h5["features"].shape == (2, 32, 64)  # a0 and a1, one chunk each; a2's two chunks are in shard 1
        assert h5["features"].chunks == (1, 32, 64)
    idx = read_index(rep.store)
    assert idx.params["n_freq_bins"] == 32 and idx.classes == ["x", "y"] and idx.input_shape == (32, 64)
    assert idx.chunk_file.tolist() == [0, 1, 2, 2] and idx.chunk_label.tolist() == [0, 1, 1, 1]
    assert idx.file_fold.tolist() == [1, 1, 2]
    with open_chunks(rep.store) as st:  # chunks by their row among all chunks, across shards
        ref, _ = spectrogram_chunks(load_audio(good[2], 16000), 16000, p)
        np.testing.assert_allclose(st.item(2), ref[0], atol=1e-3)
        np.testing.assert_allclose(st.item(3), ref[1], atol=1e-3)
    assert json.loads(rep.summary.read_text())["n_chunks"] == 4
    assert not list((tmp_path / "out").rglob(".*tmp*"))


def test_too_many_bad_files_fail_the_stage_and_leave_no_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    good = write_wav(tmp_path / "good.wav", 1.0)
    table = pd.DataFrame({"path": [str(bad), str(good)], "label": [0, 0], "class": ["x", "x"], "fold": [1, 1]})
    p = tiny_aed_features(window="rect", scale="log", workers=1)
    out = tmp_path / "chunks"
    with pytest.raises(RuntimeError, match=r"1 of 2 inputs unusable .*bad\.wav"):
        extract_chunks(table, out, tmp_path / "s.json", tmp_path / "s.csv", p, max_bad_fraction=0.1, progress=False)
    assert not (out / "manifest.json").exists() and pd.read_csv(tmp_path / "s.csv").path.tolist() == [str(bad)]
    with pytest.raises(ValueError, match="incomplete"):
        read_index(out)
