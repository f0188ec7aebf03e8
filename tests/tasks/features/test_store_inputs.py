"""The store identifies its inputs by content: path, size and mtime alone never keep a shard."""

from __future__ import annotations

import os
from pathlib import Path

from soundflow import digests
from tasks.features.representations import make_representation
from tasks.features.store import plan_store
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import NOISE_SR as SR
from tests.helpers.audio import noise_clips


def _same_size_same_mtime(path, new: bytes) -> None:
    st = path.stat()
    with open(path, "r+b") as f:
        f.write(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_digest_follows_content_not_stamp(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"a" * 100)
    first = digests.file_sha256(f)
    assert digests.file_sha256(f) == first  # remembered
    _same_size_same_mtime(f, b"b" * 100)
    assert digests.file_sha256(f) != first  # the ctime changed: read again
    assert digests.file_sha256(tmp_path / "none") == digests.MISSING


def test_rows_hash_covers_input_content(tmp_path):
    rep = make_representation("stft_chunks", aed_features=tiny_aed_features(sample_rate=SR, workers=1))
    table = noise_clips(tmp_path / "a", 4)
    before = [s.rows_hash for s in plan_store(table, tmp_path / "s", rep, shard_size=2).shards]
    other = noise_clips(tmp_path / "b", 4, seed=3)
    _same_size_same_mtime(tmp_path / "a" / "audio" / "c3.wav", Path(other.path[3]).read_bytes())
    after = [s.rows_hash for s in plan_store(table, tmp_path / "s", rep, shard_size=2).shards]
    assert after[0] == before[0] and after[1] != before[1]
