"""Sharded feature store: values, shards, resume, bad inputs, refusal of other parameters, every representation."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from soundflow.audio import load_audio
from tasks.features import store as store_mod
from tasks.features.logmel import PRESETS, LogMel
from tasks.features.representations import LogMelFeatures
from tasks.features.store import extract_features, open_store
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import noise_clips

P = PRESETS["pann"]
SR = P.sample_rate


def _reference(path, clip_seconds=None):
    wave = load_audio(path, SR)
    if clip_seconds is not None:
        n = round(clip_seconds * SR)
        wave = np.pad(wave, (0, max(0, n - len(wave))))[:n]
    with torch.inference_mode():
        return LogMel(P)(torch.from_numpy(wave)).numpy()


@pytest.mark.parametrize("clip_seconds", [None, 0.4])
def test_values_match_logmel_and_shards(tmp_path, clip_seconds):
    lengths = [SR // 2, SR // 3, SR, 7000, SR // 2, 20000, 12345]
    table = noise_clips(tmp_path, 7, lengths=lengths)
    out = extract_features(table, tmp_path / "store", LogMelFeatures(P, clip_seconds), shard_size=3, progress=False)
    assert sorted(p.name for p in out.glob("shard-*.h5")) == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["n_rows"] for s in manifest["shards"]] == [3, 3, 1] and manifest["n_clips"] == 7
    with h5py.File(out / "shard-00000.h5") as h5:
        assert h5["features"].dtype == np.float16
        assert json.loads(h5.attrs["params"])["n_mels"] == 64 and h5.attrs["params_hash"]
        assert h5.attrs["soundflow_version"]
        assert manifest["shards"][0]["rows_hash"] == h5.attrs["rows_hash"]  # the manifest names each shard's inputs
    st = open_store(out, LogMelFeatures(P, clip_seconds))
    assert len(st) == 7
    assert list(st.table.columns) == ["path", "label", "fold", "shard", "row"]
    assert list(st.table["shard"]) == [0, 0, 0, 1, 1, 1, 2] and list(st.table["row"]) == list(range(7))
    for i in range(7):
        feats, label, fold = st[i]
        ref = _reference(table.path[i], clip_seconds)
        assert feats.shape == ref.shape == (feats.shape[0], 64)
        np.testing.assert_allclose(feats, ref, rtol=1e-3, atol=0.02)  # float16 storage
        assert (label, fold) == (table.label[i], table.fold[i])
    if clip_seconds:
        assert {st[i][0].shape[0] for i in range(7)} == {1 + round(0.4 * SR) // P.hop_length}
    st.close()


def test_resume_after_crash_and_param_change(tmp_path, monkeypatch):
    table = noise_clips(tmp_path, 7)
    out = tmp_path / "store"
    real = store_mod._write_shard
    calls: list[int] = []

    def crashing(path, plan, shard, payload):
        if shard.index == 1:
            raise KeyboardInterrupt("killed")
        calls.append(shard.index)
        real(path, plan, shard, payload)

    monkeypatch.setattr(store_mod, "_write_shard", crashing)
    with pytest.raises(KeyboardInterrupt):
        extract_features(table, out, LogMelFeatures(P), shard_size=3, progress=False)
    assert calls == [0] and not (out / "manifest.json").exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["shard-00000.h5"]
    with pytest.raises(ValueError, match="incomplete"):
        open_store(out, LogMelFeatures(P))
    mtime = (out / "shard-00000.h5").stat().st_mtime_ns

    def counting(path, plan, shard, payload):
        calls.append(shard.index)
        real(path, plan, shard, payload)

    monkeypatch.setattr(store_mod, "_write_shard", counting)
    calls.clear()
    extract_features(table, out, LogMelFeatures(P), shard_size=3, progress=False)
    assert calls == [1, 2]  # shard 0 kept
    assert (out / "shard-00000.h5").stat().st_mtime_ns == mtime
    assert len(open_store(out, LogMelFeatures(P))) == 7

    calls.clear()
    extract_features(table, out, LogMelFeatures(P), shard_size=3, progress=False)
    assert calls == []  # everything finished: nothing recomputed

    other = dataclasses.replace(P, n_mels=32)
    calls.clear()
    extract_features(table, out, LogMelFeatures(other), shard_size=3, progress=False)
    assert calls == [0, 1, 2]
    st = open_store(out, LogMelFeatures(other))
    assert st[0][0].shape[1] == 32
    with pytest.raises(ValueError, match="n_mels"):
        open_store(out, LogMelFeatures(P))


def _bad_files(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.wav").write_bytes(b"")
    (d / "text.wav").write_text("not audio at all\n")
    nan = np.zeros(SR // 4, np.float32)
    nan[10] = np.nan
    sf.write(d / "nan.wav", nan, SR, subtype="FLOAT")
    return [str(d / "empty.wav"), str(d / "text.wav"), str(d / "nan.wav")]


def test_bad_clips_skipped_and_listed(tmp_path):
    good = noise_clips(tmp_path, 5)
    bad = pd.DataFrame({"path": _bad_files(tmp_path), "label": 0, "fold": 1})
    table = pd.concat([good.iloc[:2], bad, good.iloc[2:]], ignore_index=True)
    out = extract_features(
        table, tmp_path / "store", LogMelFeatures(P), shard_size=3, max_bad_fraction=0.5, progress=False
    )
    skipped = pd.read_csv(out / "skipped.csv")
    assert list(skipped.path) == bad.path.tolist()
    assert "empty" in skipped.reason[0] and "decode" in skipped.reason[1] and "NaN" in skipped.reason[2]
    st = open_store(out, LogMelFeatures(P))
    assert len(st) == 5 and list(st.table["row"]) == [0, 1, 5, 6, 7]
    assert st.table.path.tolist() == good.path.tolist()
    assert json.loads((out / "manifest.json").read_text())["n_skipped"] == 3


def test_too_many_bad_clips_fail_without_manifest(tmp_path):
    good = noise_clips(tmp_path, 3)
    bad = pd.DataFrame({"path": _bad_files(tmp_path), "label": 0, "fold": 1})
    table = pd.concat([good, bad], ignore_index=True)
    out = tmp_path / "store"
    with pytest.raises(RuntimeError, match=r"3 of 6 inputs.*empty\.wav"):
        extract_features(table, out, LogMelFeatures(P), shard_size=2, max_bad_fraction=0.2, progress=False)
    assert not (out / "manifest.json").exists()
    assert len(pd.read_csv(out / "skipped.csv")) >= 2
    with pytest.raises(ValueError, match="incomplete"):
        open_store(out, LogMelFeatures(P))


def test_open_store_refuses_other_params(tmp_path):
    table = noise_clips(tmp_path, 2)
    out = extract_features(table, tmp_path / "store", LogMelFeatures(P, 0.5), progress=False)
    with pytest.raises(ValueError, match=r"hop_length.*sample_rate|fmax"):
        open_store(out, LogMelFeatures(PRESETS["yamnet"], 0.5))
    with pytest.raises(ValueError, match="clip_seconds"):
        open_store(out, LogMelFeatures(P, None))
    assert len(open_store(out, LogMelFeatures(P, 0.5))) == 2
    with pytest.raises(ValueError, match="incomplete"):
        open_store(tmp_path / "nothing", LogMelFeatures(P))


# ------------------------------------------------------------------------------------------------ other representations


def test_third_octave_store_matches_module_on_ragged_clips(tmp_path):
    from tasks.features.representations import ThirdOctaveFeatures
    from tasks.features.third_octave import ThirdOctave

    lengths = [SR, SR // 2 + 123, 3 * SR, 900]  # the last is shorter than one frame: one zero-padded frame
    table = noise_clips(tmp_path, 4, lengths=lengths)
    rep = ThirdOctaveFeatures()
    out = extract_features(table, tmp_path / "store", rep, shard_size=4, progress=False)
    with open_store(out, rep) as st:
        for i, path in enumerate(table.path):
            with torch.inference_mode():
                ref = ThirdOctave()(torch.from_numpy(load_audio(path, SR))).numpy()
            feats = st[i][0]
            assert feats.shape == ref.shape == (max(1, lengths[i] // 4000), 29)
            np.testing.assert_allclose(feats, ref, atol=1e-3)  # batched with longer clips: identical frames
    with h5py.File(out / "shard-00000.h5") as h5:
        assert h5["features"].dtype == np.float32 and h5.attrs["representation"] == "third_octave"


def test_stft_chunk_store_matches_aed_chunks(tmp_path):
    from tasks.features.representations import make_representation
    from tasks.features.stft_chunks import spectrogram_chunks

    aed = tiny_aed_features(
        sample_rate=SR,
        chunk_seconds=0.5,
        chunk_hop_seconds=0.25,
        min_last_chunk_seconds=0.1,
        frame_hop_seconds=0.01,
        n_frames=48,
        workers=1,
    )
    rep = make_representation("stft_chunks", aed_features=aed)
    table = noise_clips(tmp_path, 3, lengths=[SR, SR // 3, 2 * SR])
    out = extract_features(table, tmp_path / "store", rep, progress=False)
    with open_store(out, rep) as st:
        for i, path in enumerate(table.path):
            ref, _ = spectrogram_chunks(load_audio(path, aed.sample_rate), aed.sample_rate, aed)
            feats = st[i][0]
            assert feats.shape == ref.shape and feats.shape[1:] == (aed.n_freq_bins, aed.n_frames)
            np.testing.assert_allclose(feats, ref, atol=1e-3)
    with h5py.File(out / "shard-00000.h5") as h5:
        assert h5["features"].chunks == (1, aed.n_freq_bins, aed.n_frames)  # random single-chunk reads


def test_frame_store_resizes_and_skips_broken_images(tmp_path):
    from PIL import Image

    from tasks.features.frames import resize_frames
    from tasks.features.representations import FrameFeatures

    rng = np.random.default_rng(0)
    rows = []
    for i, (h, w) in enumerate([(64, 128), (300, 200), (256, 256)]):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        path = tmp_path / f"img{i}.png"
        Image.fromarray(img).save(path)
        rows.append({"path": str(path), "label": f"img{i}_labelIds.png", "fold": "train"})
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    rows.insert(1, {"path": str(tmp_path / "broken.png"), "label": "-", "fold": "train"})
    table = pd.DataFrame(rows)
    rep = FrameFeatures(size=32)
    out = extract_features(table, tmp_path / "store", rep, max_bad_fraction=0.3, progress=False)
    skipped = pd.read_csv(out / "skipped.csv")
    assert skipped.path.tolist() == [str(tmp_path / "broken.png")] and "decode image" in skipped.reason[0]
    with open_store(out, rep) as st:
        assert len(st) == 3 and st.table.label.tolist() == [
            "img0_labelIds.png",
            "img1_labelIds.png",
            "img2_labelIds.png",
        ]
        for i, row in enumerate(r for r in rows if "broken" not in r["path"]):
            feats = st[i][0]
            assert feats.dtype == np.uint8 and feats.shape == (1, 32, 32, 3)
            expected = resize_frames(np.asarray(Image.open(row["path"]).convert("RGB"))[None], 32)
            np.testing.assert_array_equal(feats, expected)
    with pytest.raises(ValueError, match="size"):
        open_store(out, FrameFeatures(size=256))


def test_reflect_padding_ragged_clips_computed_alone(tmp_path):
    reflect = dataclasses.replace(P, pad_mode="reflect")
    table = noise_clips(tmp_path, 3, lengths=[SR // 2, 5000, SR // 3])
    rep = LogMelFeatures(reflect)
    out = extract_features(table, tmp_path / "store", rep, progress=False)
    with open_store(out, rep) as st:
        for i, path in enumerate(table.path):
            with torch.inference_mode():
                ref = LogMel(reflect)(torch.from_numpy(load_audio(path, SR))).numpy()
            np.testing.assert_allclose(st[i][0], ref, rtol=1e-3, atol=0.02)


def test_unknown_representation_and_bad_table(tmp_path):
    from tasks.features.representations import NAMES, make_representation

    with pytest.raises(ValueError, match="unknown representation 'mfcc'"):
        make_representation("mfcc")
    assert {
        "logmel_pann",
        "logmel_yamnet",
        "logmel_localisation",
        "logmel_t2a",
        "third_octave",
        "stft_chunks",
        "frames",
    } == set(NAMES)
    with pytest.raises(ValueError, match="lacks columns"):
        extract_features(pd.DataFrame({"path": ["x"]}), tmp_path / "s", LogMelFeatures(P), progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["logmel_pann", "third_octave"])
def test_cuda_store_matches_cpu_store(tmp_path, name):
    from tasks.features.representations import make_representation

    table = noise_clips(tmp_path, 5, lengths=[SR, SR // 2, 3 * SR, 7000, SR])
    rep = make_representation(name)
    cpu = extract_features(table, tmp_path / "cpu", rep, progress=False)
    gpu = extract_features(table, tmp_path / "gpu", rep, device="cuda", progress=False)
    with open_store(cpu, rep) as a, open_store(gpu, rep) as b:
        for i in range(len(table)):
            np.testing.assert_allclose(b[i][0], a[i][0], atol=0.05)  # float16 storage, cuFFT vs pocketfft
