"""Stale inputs: a file replaced by other bytes of the same size, its mtime restored, is a changed file.

``tar x``, ``cp -p`` and ``rsync -a`` leave a replaced file with the old size and modification time. Every
reuse decision (feature shards, generated clips, extracted archives, downloads, the code-dependency parse
cache) must see the new content: here each is fooled on path, size and mtime, and must not serve the old result.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from tasks.features.store import extract_features
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import NOISE_SR as SR
from tests.helpers.audio import noise_clips

HOW = ["in place", "renamed over"]  # cp -p / rsync --inplace keep the inode; tar x / rsync -a rename a new file


def swap_same_size(path: Path, new: bytes, how: str) -> None:
    """Give ``path`` the bytes ``new`` (same length), its size and mtime as before."""
    st = path.stat()
    assert len(new) == st.st_size and new != path.read_bytes()
    if how == "in place":
        with open(path, "r+b") as f:
            f.write(new)
    else:
        tmp = path.with_name(path.name + ".new")
        tmp.write_bytes(new)
        os.replace(tmp, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def _features(out: Path) -> np.ndarray:
    with h5py.File(out / "shard-00000.h5", "r") as h5:
        return h5["features"][:]


@pytest.fixture
def rep():
    from tasks.features.representations import make_representation

    aed = tiny_aed_features(
        sample_rate=SR, chunk_seconds=0.5, chunk_hop_seconds=0.25, min_last_chunk_seconds=0.1, n_frames=48, workers=1
    )
    return make_representation("stft_chunks", aed_features=aed)


@pytest.mark.parametrize("how", HOW)
def test_feature_shard_follows_input_content(tmp_path, rep, how, board, capsys):
    table = noise_clips(tmp_path / "a", 3)
    out = tmp_path / "store"
    extract_features(table, out, rep, shard_size=8, progress=False)
    other = noise_clips(tmp_path / "b", 3, seed=1)  # other audio, same length and format: same size
    swap_same_size(Path(table.path[1]), Path(other.path[1]).read_bytes(), how)
    capsys.readouterr()

    extract_features(table, out, rep, shard_size=8, progress=False)
    log = capsys.readouterr().out
    fresh = tmp_path / "fresh"
    extract_features(table, fresh, rep, shard_size=8, progress=False)  # what the current inputs give
    board.tried("tamper")
    board.harm("stale_served", int(not np.array_equal(_features(out), _features(fresh))))
    assert "0 shard(s) reused, 1 built" in log
    np.testing.assert_array_equal(_features(out), _features(fresh))


def _clip_with_other_samples(path: Path) -> bytes:
    """The clip's bytes with its samples reversed: same header, same size, other audio."""
    wave, sr = sf.read(path, dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, wave[::-1].copy(), sr, subtype="PCM_16", format="WAV")
    return buf.getvalue()


@pytest.mark.parametrize("how", HOW)
def test_generated_clip_follows_its_record(tmp_path, how, board):
    from tasks.text_to_audio.clip_record import TamperedClip, verify_clips
    from tasks.text_to_audio.generate import generate_clips
    from tests.helpers.t2a import t2a_params, tiny_real

    real = tiny_real(tmp_path / "real", clips_per_class=2, n_folds=2)
    t = t2a_params(real, generate={"seconds": 0.25, "multipliers": [1.0]})
    out = tmp_path / "gen"
    generate_clips(real, t.real, Path(t.prompts), t.generate, out, progress=False)
    clip = sorted((out / "audio").rglob("*.wav"))[0]
    original = clip.read_bytes()
    swap_same_size(clip, _clip_with_other_samples(clip), how)

    with pytest.raises(TamperedClip, match=clip.name):  # a reader refuses it ...
        verify_clips(out, [clip.relative_to(out).as_posix()])
    counts = generate_clips(real, t.real, Path(t.prompts), t.generate, out, progress=False)  # ... a rerun redoes it
    board.tried("tamper")
    board.harm("stale_served", int(clip.read_bytes() != original))
    assert counts["generated"] == 1 and clip.read_bytes() == original


def _tar(member: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("data/clip.txt")
        info.size, info.mtime = len(member), 0
        tf.addfile(info, io.BytesIO(member))
    return buf.getvalue()


@pytest.mark.parametrize("how", HOW)
def test_extracted_archive_follows_archive_content(tmp_path, how, board):
    from tasks.datasets.extract import extract

    archive, dest = tmp_path / "set.tar", tmp_path / "set"
    archive.write_bytes(_tar(b"first version"))
    extract(archive, dest)
    swap_same_size(archive, _tar(b"other version"), how)
    extract(archive, dest)
    got = (dest / "data/clip.txt").read_bytes()
    board.tried("tamper")
    board.harm("stale_served", int(got != b"other version"))
    assert got == b"other version"


@pytest.mark.parametrize("how", HOW)
def test_download_marker_follows_file_content(tmp_path, how, board):
    from tasks.datasets.download import _adopt, is_downloaded

    dest = tmp_path / "downloads" / "set.tar"
    dest.parent.mkdir()
    dest.write_bytes(_tar(b"first version"))
    assert _adopt(dest, None, None, None, "tar") and is_downloaded(dest, kind="tar")
    swap_same_size(dest, _tar(b"other version"), how)
    stale = is_downloaded(dest, kind="tar")
    board.tried("tamper")
    board.harm("stale_served", int(stale))
    assert not stale  # checked again (and verified against the published checksum) instead of trusted


def test_code_dependency_parse_follows_file_content(tmp_path, board):
    from soundflow.pipeline import code_deps

    module = tmp_path / "mod.py"
    module.write_text("import json\n")
    assert code_deps._parsed(module, "mod")[1] == (("json", ()),)
    swap_same_size(module, b"import yaml\n", "in place")
    targets = code_deps._parsed(module, "mod")[1]
    board.tried("tamper")
    board.harm("stale_served", int(targets != (("yaml", ()),)))
    assert targets == (("yaml", ()),)
