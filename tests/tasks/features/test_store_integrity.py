"""Shard content hashes: recorded at write time, verified before reuse and on request; damaged shards rebuilt."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tasks.features import integrity
from tasks.features import store as store_mod
from tasks.features.integrity import content_hash
from tasks.features.store import CorruptStore, extract_features, open_store, verify_store
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import NOISE_SR as SR
from tests.helpers.audio import noise_clips


@pytest.fixture
def rep():
    """The AED representation (normalised spectrogram chunks, <= 1), at a tiny size."""
    from tasks.features.representations import make_representation

    aed = tiny_aed_features(
        sample_rate=SR,
        chunk_seconds=0.5,
        chunk_hop_seconds=0.25,
        min_last_chunk_seconds=0.1,
        frame_hop_seconds=0.01,
        n_frames=48,
        workers=1,
    )
    return make_representation("stft_chunks", aed_features=aed)


@pytest.fixture
def written(monkeypatch):
    """Indices of the shards written (computed) by extraction runs."""
    calls: list[int] = []
    real = store_mod._write_shard

    def counting(path, plan, shard, payload):
        calls.append(shard.index)
        real(path, plan, shard, payload)

    monkeypatch.setattr(store_mod, "_write_shard", counting)
    return calls


def _build(tmp_path, rep):
    table = noise_clips(tmp_path, 7, lengths=[SR, SR // 2, 2 * SR, SR, 3 * SR // 2, SR // 3, SR])
    out = tmp_path / "store"
    extract_features(table, out, rep, shard_size=3, progress=False)
    return table, out


def _values(out, rep):
    with open_store(out, rep) as st:
        return [st[i][0] for i in range(len(st))]


def _corrupt_first_chunk(path, value=7.0):
    """Overwrite the bytes of the first stored HDF5 chunk of ``features`` in place, keeping the file size."""
    with h5py.File(path, "r") as h5:
        ds = h5["features"]
        if ds.chunks:
            info = ds.id.get_chunk_info(0)
            offset, size = info.byte_offset, info.size
        else:
            offset, size = ds.id.get_offset(), ds.id.get_storage_size()
        dtype = ds.dtype
    before = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(np.full(size // dtype.itemsize, value, dtype).tobytes())
    assert path.stat().st_size == before


def _rerun(tmp_path, out, rep, table, capsys, written):
    capsys.readouterr()
    written.clear()
    extract_features(table, out, rep, shard_size=3, progress=False)
    return capsys.readouterr().out


@pytest.mark.parametrize("keep_manifest", [True, False])  # False: a killed run left no manifest to compare with
def test_chunk_corrupted_in_place_is_rebuilt(tmp_path, rep, written, capsys, keep_manifest):
    table, out = _build(tmp_path, rep)
    original, manifest = _values(out, rep), json.loads((out / "manifest.json").read_text())
    mtimes = {f: (out / f).stat().st_mtime_ns for f in ("shard-00001.h5", "shard-00002.h5")}
    _corrupt_first_chunk(out / "shard-00000.h5")
    with h5py.File(out / "shard-00000.h5", "r") as h5:
        assert h5["features"][:].max() == 7.0  # the damage is real: normalised values are <= 1
    if keep_manifest:
        with pytest.raises(CorruptStore, match=r"shard-00000\.h5: recorded \w+, data hash to \w+"):
            open_store(out, rep)  # never served: the store refuses to open
    if not keep_manifest:
        (out / "manifest.json").unlink()

    log = _rerun(tmp_path, out, rep, table, capsys, written)
    assert written == [0]  # exactly the damaged shard
    assert "warning" in log and "rebuilding shard-00000.h5" in log
    assert "2 shard(s) reused, 1 built (1 rebuilt: content hash mismatch in shard-00000.h5)" in log
    assert {f: (out / f).stat().st_mtime_ns for f in mtimes} == mtimes
    for got, want in zip(_values(out, rep), original, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.max() <= 1.0
    # identical data, identical record: consumers fingerprinting the manifest see the same store
    assert json.loads((out / "manifest.json").read_text()) == manifest


@pytest.mark.parametrize("damage", ["removed", "altered", "data and attribute", "signature"])
def test_shard_with_bad_hash_record_is_rebuilt(tmp_path, rep, written, capsys, damage):
    table, out = _build(tmp_path, rep)
    original = _values(out, rep)
    path = out / "shard-00001.h5"
    if damage == "signature":  # HDF5 superblock signature: the file no longer opens
        with open(path, "r+b") as f:
            f.write(b"\0" * 8)
    elif damage == "data and attribute":  # the attribute rewritten to match altered data: the manifest disagrees
        _corrupt_first_chunk(path)
        with h5py.File(path, "r+") as h5:
            h5.attrs["content_hash"] = content_hash(h5)
    else:
        with h5py.File(path, "r+") as h5:  # "removed": as a shard written before content hashes existed
            if damage == "removed":
                h5.attrs.pop("content_hash", None)
            else:
                h5.attrs["content_hash"] = "0" * 64

    log = _rerun(tmp_path, out, rep, table, capsys, written)
    reason = {
        "removed": "no content hash",
        "altered": "content hash mismatch",
        "data and attribute": "content hash differs from manifest.json",
        "signature": "unreadable",
    }[damage]
    assert written == [1]
    assert f"1 rebuilt: {reason} in shard-00001.h5" in log and "rebuilding shard-00001.h5" in log
    for got, want in zip(_values(out, rep), original, strict=True):
        np.testing.assert_array_equal(got, want)


def test_untouched_shards_are_reused_and_counted(tmp_path, rep, written, capsys):
    table, out = _build(tmp_path, rep)
    assert f"store {out}: 0 shard(s) reused, 3 built" in capsys.readouterr().out  # first run: nothing to warn about
    log = _rerun(tmp_path, out, rep, table, capsys, written)
    assert written == [] and f"store {out}: 3 shard(s) reused, 0 built\n" in log and "warning" not in log
    table.loc[4, "label"] = 2  # shard 1 stale: recomputed as expected, not reported as damaged
    log = _rerun(tmp_path, out, rep, table, capsys, written)
    assert written == [1] and "2 shard(s) reused, 1 built\n" in log and "warning" not in log


def test_manifest_records_each_shard_content_hash(tmp_path, rep):
    _, out = _build(tmp_path, rep)
    manifest = json.loads((out / "manifest.json").read_text())
    hashes = []
    for entry in manifest["shards"]:
        with h5py.File(out / entry["file"], "r") as h5:
            assert entry["content_hash"] == h5.attrs["content_hash"] == content_hash(h5)
        hashes.append(entry["content_hash"])
    assert len(hashes) == 3 and len(set(hashes)) == 3
    assert not {"status", "reason", "detail", "skipped"} & {k for e in manifest["shards"] for k in e}  # run-only


def test_open_store_verifies_on_request(tmp_path, rep):
    _, out = _build(tmp_path, rep)
    verify_store(out)
    open_store(out, rep, verify=True).close()
    _corrupt_first_chunk(out / "shard-00002.h5")
    with pytest.raises(CorruptStore, match=r"shard-00002\.h5: recorded \w+, data hash to \w+"):
        open_store(out, rep, verify=True)
    with pytest.raises(CorruptStore, match="shard-00002.h5"):
        verify_store(out)
    with pytest.raises(CorruptStore, match="shard-00002.h5"):  # opening checks every shard too: never served
        open_store(out, rep)


def test_content_hash_covers_values_shapes_and_strings(tmp_path, monkeypatch):
    def digest(**datasets):
        path = tmp_path / "x.h5"
        with h5py.File(path, "w") as h5:
            for name, (data, dtype) in datasets.items():
                h5.create_dataset(name, data=data, dtype=dtype, chunks=True if np.ndim(data) else None)
        with h5py.File(path, "r") as h5:
            return content_hash(h5)

    s = h5py.string_dtype()
    base = digest(a=(np.arange(12.0).reshape(3, 4), "f4"), p=(["ab", "c"], s))
    assert base == digest(a=(np.arange(12.0).reshape(3, 4), "f4"), p=(["ab", "c"], s))
    assert base != digest(a=(np.arange(12.0).reshape(4, 3), "f4"), p=(["ab", "c"], s))  # shape
    assert base != digest(a=(np.arange(12.0).reshape(3, 4), "f8"), p=(["ab", "c"], s))  # dtype
    assert base != digest(a=(np.arange(12.0).reshape(3, 4), "f4"), p=(["a", "bc"], s))  # string boundaries
    assert base != digest(b=(np.arange(12.0).reshape(3, 4), "f4"), p=(["ab", "c"], s))  # names
    monkeypatch.setattr(integrity, "SLICE_BYTES", 16)  # one row per read: streaming does not change the hash
    assert base == digest(a=(np.arange(12.0).reshape(3, 4), "f4"), p=(["ab", "c"], s))
