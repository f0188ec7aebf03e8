"""Sharded log-mel feature store: values, shards, resume, bad clips, refusal of other parameters."""

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
from tasks.features.store import extract_logmel, open_store

P = PRESETS["pann"]
SR = P.sample_rate


def _clips(tmp_path, n, *, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = lengths[i] if lengths else SR // 2
        path = tmp_path / "audio" / f"c{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.3 * rng.standard_normal(length)).astype(np.float32), SR, subtype="FLOAT")
        rows.append({"path": str(path), "label": i % 3, "fold": i % 2 + 1})
    return pd.DataFrame(rows)


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
    table = _clips(tmp_path, 7, lengths=lengths)
    out = extract_logmel(table, tmp_path / "store", P, clip_seconds=clip_seconds, shard_size=3, progress=False)
    assert sorted(p.name for p in out.glob("shard-*.h5")) == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["n_rows"] for s in manifest["shards"]] == [3, 3, 1] and manifest["n_clips"] == 7
    with h5py.File(out / "shard-00000.h5") as h5:
        assert h5["features"].dtype == np.float16
        assert json.loads(h5.attrs["params"])["n_mels"] == 64 and h5.attrs["params_hash"]
        assert h5.attrs["soundflow_version"]
    st = open_store(out, P, clip_seconds=clip_seconds)
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
    table = _clips(tmp_path, 7)
    out = tmp_path / "store"
    real = store_mod._write_shard
    calls: list[int] = []

    def crashing(path, i, payload, attrs):
        if i == 1:
            raise KeyboardInterrupt("killed")
        calls.append(i)
        real(path, i, payload, attrs)

    monkeypatch.setattr(store_mod, "_write_shard", crashing)
    with pytest.raises(KeyboardInterrupt):
        extract_logmel(table, out, P, shard_size=3, progress=False)
    assert calls == [0] and not (out / "manifest.json").exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["shard-00000.h5"]
    with pytest.raises(ValueError, match="incomplete"):
        open_store(out, P)
    mtime = (out / "shard-00000.h5").stat().st_mtime_ns

    def counting(path, i, payload, attrs):
        calls.append(i)
        real(path, i, payload, attrs)

    monkeypatch.setattr(store_mod, "_write_shard", counting)
    calls.clear()
    extract_logmel(table, out, P, shard_size=3, progress=False)
    assert calls == [1, 2]  # shard 0 kept
    assert (out / "shard-00000.h5").stat().st_mtime_ns == mtime
    assert len(open_store(out, P)) == 7

    calls.clear()
    extract_logmel(table, out, P, shard_size=3, progress=False)
    assert calls == []  # everything finished: nothing recomputed

    other = dataclasses.replace(P, n_mels=32)
    calls.clear()
    extract_logmel(table, out, other, shard_size=3, progress=False)
    assert calls == [0, 1, 2]
    st = open_store(out, other)
    assert st[0][0].shape[1] == 32
    with pytest.raises(ValueError, match="n_mels"):
        open_store(out, P)


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
    good = _clips(tmp_path, 5)
    bad = pd.DataFrame({"path": _bad_files(tmp_path), "label": 0, "fold": 1})
    table = pd.concat([good.iloc[:2], bad, good.iloc[2:]], ignore_index=True)
    out = extract_logmel(table, tmp_path / "store", P, shard_size=3, max_bad_fraction=0.5, progress=False)
    skipped = pd.read_csv(out / "skipped.csv")
    assert list(skipped.path) == bad.path.tolist()
    assert "empty" in skipped.reason[0] and "decode" in skipped.reason[1] and "NaN" in skipped.reason[2]
    st = open_store(out, P)
    assert len(st) == 5 and list(st.table["row"]) == [0, 1, 5, 6, 7]
    assert st.table.path.tolist() == good.path.tolist()
    assert json.loads((out / "manifest.json").read_text())["n_skipped"] == 3


def test_too_many_bad_clips_fail_without_manifest(tmp_path):
    good = _clips(tmp_path, 3)
    bad = pd.DataFrame({"path": _bad_files(tmp_path), "label": 0, "fold": 1})
    table = pd.concat([good, bad], ignore_index=True)
    out = tmp_path / "store"
    with pytest.raises(RuntimeError, match=r"3 of 6 clips.*empty\.wav"):
        extract_logmel(table, out, P, shard_size=2, max_bad_fraction=0.2, progress=False)
    assert not (out / "manifest.json").exists()
    assert len(pd.read_csv(out / "skipped.csv")) >= 2
    with pytest.raises(ValueError, match="incomplete"):
        open_store(out, P)


def test_open_store_refuses_other_params(tmp_path):
    table = _clips(tmp_path, 2)
    out = extract_logmel(table, tmp_path / "store", P, clip_seconds=0.5, progress=False)
    with pytest.raises(ValueError, match=r"hop_length.*sample_rate|fmax"):
        open_store(out, PRESETS["yamnet"])
    with pytest.raises(ValueError, match="clip_seconds"):
        open_store(out, P, clip_seconds=None)
    assert len(open_store(out, P, clip_seconds=0.5)) == 2
    with pytest.raises(ValueError, match="incomplete"):
        open_store(tmp_path / "nothing", P)
