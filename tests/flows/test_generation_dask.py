"""The generation fan-outs over Prefect's Dask task runner (``runner: dask``) write the in-process run's files.

As for the feature shards (tests/flows/test_features_dask.py): the clips of ``t2a_generate`` (one task per
batch) and the Scaper soundscapes of ``transcoder_soundscapes`` (one task per group) are made on a
``LocalCluster`` of 2 worker processes named by ``DASK_SCHEDULER_ADDRESS`` (the session's), in a subprocess
(Dask's workers re-import ``__main__``; Prefect starts with the project's offline settings), and compared byte
for byte with the local runner's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tasks.text_to_audio.generate import generate_clips
from tasks.transcoder.soundscapes import generate_soundscapes
from tests.helpers.dask_cluster import tasks_seen
from tests.helpers.paths import ROOT
from tests.helpers.t2a import t2a_params, tiny_real
from tests.helpers.transcoder import tiny_params

if TYPE_CHECKING:
    from distributed import LocalCluster

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from soundflow import env
env.configure(Path({work!r}))
from tasks.text_to_audio.generate import generate_clips
from tasks.text_to_audio.params import TextToAudioParams
from tasks.transcoder import soundscapes
from tasks.transcoder.params import TranscoderParams

if __name__ == "__main__":
    t = TextToAudioParams.model_validate_json(Path({t2a!r}).read_text())
    generate_clips(Path(t.real.root), t.real, Path(t.prompts), t.generate, Path({clips!r}), progress=False)
    soundscapes.DASK_GROUP = 3  # 8 soundscapes: 3 tasks, so that both workers get some
    tc = TranscoderParams.model_validate_json(Path({tc!r}).read_text())
    soundscapes.generate_soundscapes(Path({scapes!r}), tc.data)
"""

GENERATE = {"seconds": 1.0, "multipliers": [1.0], "batch_size": 4}


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path; the JAMS files without the temporary folder's name."""
    out = {}
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = f.read_bytes()
        if f.suffix == ".jams":  # they name the library files by the absolute path of the build folder
            data = re.sub(rb'"[^"]*\.tmp-\d+/', b'"<build>/', data)
        peak = data.find(b"PEAK") if f.suffix == ".wav" else -1
        if peak >= 0:  # float WAVs: libsndfile stamps the time of writing into the PEAK chunk
            data = data[: peak + 12] + b"time" + data[peak + 16 :]
        out[str(f.relative_to(folder))] = data
    return out


@pytest.mark.slow
def test_generation_fan_outs_on_a_local_dask_cluster_write_the_local_runs_files(
    tmp_path: Path, dask_cluster: LocalCluster
) -> None:
    real = tiny_real(tmp_path / "real")
    t = t2a_params(real, generate=GENERATE)
    tc = tiny_params()
    (tmp_path / "t2a.json").write_text(t2a_params(real, generate={**GENERATE, "runner": "dask"}).model_dump_json())
    dask_tc = tc.model_copy(update={"data": tc.data.model_copy(update={"runner": "dask"})})
    (tmp_path / "tc.json").write_text(dask_tc.model_dump_json())
    paths = {"clips": "clips_dask", "scapes": "scapes_dask", "t2a": "t2a.json", "tc": "tc.json"}
    script = tmp_path / "run_dask.py"
    script.write_text(
        SCRIPT.format(root=str(ROOT), work=str(tmp_path), **{k: str(tmp_path / v) for k, v in paths.items()})
    )
    before = tasks_seen(dask_cluster)
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": dask_cluster.scheduler_address}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert tasks_seen(dask_cluster) - before >= 3 + 3  # 3 batches of clips, 3 groups of soundscapes

    generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "clips_local", progress=False)
    generate_soundscapes(tmp_path / "scapes_local", tc.data)
    for name in ("clips", "scapes"):
        local, dask = _files(tmp_path / f"{name}_local"), _files(tmp_path / f"{name}_dask")
        assert len(local) > 8 and local.keys() == dask.keys()
        assert [k for k in local if local[k] != dask[k]] == [], name


@pytest.mark.parametrize("key", ["text_to_audio.generate.runner", "transcoder.data.runner"])
def test_the_generation_runners_default_to_local_and_are_validated(key: str) -> None:
    from soundflow.pipeline.config import ParamsError, parse_params, read_params_yaml, select, set_dotted

    raw = read_params_yaml(ROOT / "params.yaml")
    assert select(raw, key) == "local"  # the default outputs are the in-process run's
    set_dotted(raw, key, "spark")
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        parse_params(raw, ROOT / "params.yaml")


@pytest.mark.slow
def test_the_local_generation_runners_import_no_prefect() -> None:
    code = (
        "import sys, tasks.text_to_audio.generate, tasks.transcoder.soundscapes; "
        "assert 'prefect' not in sys.modules, 'prefect imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
