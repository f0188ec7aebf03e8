"""Cache integrity: an output modified, truncated or deleted by hand is detected, never served.

Each loader refuses a damaged output in one sentence naming the file (feature shards: the store's content
hashes; generated clips: their digest record; metrics and other file outputs: the md5 in ``dvc.lock``), and
DVC, which both engines ask (``dvc status``; :func:`soundflow.pipeline.dvc_state.status` for ``soundflow run``),
reports the stage stale, for persistent and uncached outputs too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import NOISE_SR as SR
from tests.helpers.audio import noise_clips

DAMAGES = ["modify", "truncate", "delete"]
DVC = str(Path(sys.executable).with_name("dvc"))


def damage(path: Path, how: str) -> None:
    """Flip 256 bytes in the middle, cut the file in half, or delete it."""
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    mid = len(data) // 2
    data[mid : mid + 256] = bytes(b ^ 0xFF for b in data[mid : mid + 256])
    path.write_bytes(bytes(data))


def _one_sentence_naming(err: Exception, name: str) -> int:
    """1 when the message is unclear (several lines, or the file not named)."""
    msg = str(err)
    return int("\n" in msg or name not in msg)


@pytest.mark.parametrize("how", DAMAGES)
def test_feature_shard_damage_refused_by_loader(tmp_path, how, board):
    from soundflow.errors import UserError
    from tasks.features.representations import make_representation
    from tasks.features.store import CorruptStore, extract_features, open_store

    rep = make_representation("stft_chunks", aed_features=tiny_aed_features(sample_rate=SR, workers=1))
    out = tmp_path / "store"
    extract_features(noise_clips(tmp_path, 4), out, rep, shard_size=2, progress=False)
    damage(out / "shard-00001.h5", how)
    with pytest.raises(CorruptStore) as caught:
        with open_store(out, rep) as st:
            st[len(st) - 1]  # not reached: opening checks every shard
    board.tried("tamper")
    board.harm("unclear", _one_sentence_naming(caught.value, "shard-00001.h5"))
    board.harm("stale_served", 0)  # refused before any read
    assert isinstance(caught.value, UserError) and "shard-00001.h5" in str(caught.value)


@pytest.mark.parametrize("how", ["modify", "truncate", "delete", "edit manifest"])
def test_feature_store_manifest_damage_refused(tmp_path, how, board):
    from tasks.features.representations import make_representation
    from tasks.features.store import CorruptStore, extract_features, open_store

    rep = make_representation("stft_chunks", aed_features=tiny_aed_features(sample_rate=SR, workers=1))
    out = tmp_path / "store"
    extract_features(noise_clips(tmp_path, 2), out, rep, shard_size=2, progress=False)
    manifest = out / "manifest.json"
    if how == "edit manifest":  # valid JSON, plausible values: only the manifest's own hash tells
        doc = json.loads(manifest.read_text())
        doc["extra"] = {"classes": ["dog", "siren"]}
        manifest.write_text(json.dumps(doc))
    else:
        damage(manifest, how)
    with pytest.raises(CorruptStore) as caught:
        open_store(out, rep)
    board.tried("tamper")
    board.harm("unclear", _one_sentence_naming(caught.value, str(out)))
    assert str(out) in str(caught.value)


@pytest.mark.parametrize("how", DAMAGES)
def test_generated_clip_damage_refused_by_reader(tmp_path, how, board):
    from tasks.text_to_audio.clip_record import TamperedClip
    from tasks.text_to_audio.features import build_stores
    from tasks.text_to_audio.generate import generate_clips
    from tests.helpers.t2a import t2a_params, tiny_real

    real = tiny_real(tmp_path / "real", clips_per_class=2, n_folds=2)
    t = t2a_params(real, generate={"seconds": 0.25, "multipliers": [1.0]})
    gen = tmp_path / "gen"
    generate_clips(real, t.real, Path(t.prompts), t.generate, gen, progress=False)
    clip = sorted((gen / "audio").rglob("*.wav"))[2]
    damage(clip, how)
    with pytest.raises(TamperedClip) as caught:  # the features stage's reader of the generated clips
        build_stores(real, t.real, gen, t.features, tmp_path / "stores", tmp_path / "f.json", root=tmp_path)
    board.tried("tamper")
    board.harm("unclear", _one_sentence_naming(caught.value, clip.name))
    board.harm("stale_served", int((tmp_path / "stores" / "generated").exists()))
    assert clip.name in str(caught.value) and not (tmp_path / "stores" / "generated").exists()


UP = """\
import pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "store").mkdir(exist_ok=True)
(out / "store" / "shard-00000.h5").write_bytes(bytes(range(256)) * 64)
(out / "clip.wav").write_bytes(bytes(range(255, -1, -1)) * 64)
(out / "metrics.json").write_text('{"accuracy": 0.5, "loss": 1.25, "n": 1000}\\n')
"""

DVC_YAML = """\
stages:
  up:
    cmd: {python} up.py .
    deps: [up.py]
    outs:
    - store: {{persist: true}}
    - clip.wav: {{persist: true}}
    metrics:
    - metrics.json: {{cache: false, persist: true}}
  down:
    cmd: {python} -c "print(open('metrics.json').read())"
    deps: [metrics.json, clip.wav]
"""


@pytest.fixture
def dvc_project(tmp_path):
    """A DVC project whose stage ``up`` writes a store folder, a clip and a metrics file (persistent; the
    metrics uncached, as the pipeline declares them), read by ``down``; reproduced once."""
    (tmp_path / "up.py").write_text(UP)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for cmd in (["init", "--no-scm", "-q"], ["repro", "-q"]):
        subprocess.run([DVC, *cmd], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    return tmp_path, env


# DVC starts in seconds per command: one damage in the fast suite, the others under `make reliability`
@pytest.mark.slow
@pytest.mark.parametrize("how", ["modify", *(pytest.param(h, marks=pytest.mark.soak) for h in ("truncate", "delete"))])
def test_both_engines_and_the_runner_see_damaged_outputs(dvc_project, how, board):
    from soundflow.lock_check import AlteredOutput, refuse_altered_inputs
    from soundflow.pipeline import dvc_state

    root, env = dvc_project
    outs = ["store/shard-00000.h5", "clip.wav", "metrics.json"]
    for out in outs:
        damage(root / out, how)
    status = subprocess.run([DVC, "status", "up"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    with dvc_state.open_repo(root) as repo:  # what `soundflow run` asks before each stage
        reasons = " | ".join(dvc_state.status(repo, "up"))
    missed_dvc = sum(Path(o).parts[0] not in status.stdout for o in outs)
    missed_prefect = sum(Path(o).parts[0] not in reasons for o in outs)
    with pytest.raises(AlteredOutput) as caught:  # a stage started alone does not read them
        refuse_altered_inputs(root, "down", ["metrics.json", "clip.wav"])
    board.tried("tamper", len(outs))
    board.harm("stale_served", missed_dvc + missed_prefect)
    board.harm("unclear", _one_sentence_naming(caught.value, "metrics.json"))
    assert missed_dvc == 0 and missed_prefect == 0, (status.stdout, reasons)
    assert "(and 1 more)" in str(caught.value)

    subprocess.run([DVC, "repro", "-q"], cwd=root, env=env, check=True, capture_output=True, timeout=120)
    after = subprocess.run([DVC, "status"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert "up to date" in after.stdout.lower() or after.stdout.strip() in ("", "{}")
    assert (root / "metrics.json").read_text().startswith('{"accuracy": 0.5')  # rerun restored it
    refuse_altered_inputs(root, "down", ["metrics.json", "clip.wav"])
