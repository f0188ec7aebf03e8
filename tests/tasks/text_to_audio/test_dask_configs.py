"""Training configurations over Prefect's Dask task runner give the in-process results; the runner is validated.

The Dask run is a subprocess (as in tests/flows/test_features_dask.py): Dask's worker processes
re-import ``__main__``, and Prefect must start with the project's offline settings (``soundflow.env``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from soundflow.pipeline.config import ParamsError, parse_params, read_params_yaml, set_dotted
from tasks.text_to_audio.evaluate import evaluate_runs, load_classifier
from tasks.text_to_audio.features import build_stores, load_clips
from tasks.text_to_audio.generate import generate_clips
from tasks.text_to_audio.train import _tensor, predict, train_configurations
from tests.helpers.paths import ROOT
from tests.helpers.t2a import t2a_params, tiny_real

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from soundflow import env
env.configure(Path({work!r}))
from tasks.text_to_audio.params import TextToAudioParams
from tasks.text_to_audio.train import train_configurations

if __name__ == "__main__":
    t = TextToAudioParams.model_validate_json(Path({params!r}).read_text())
    train_configurations(
        Path({stores!r}), t.features, t.experiment, t.generate.multipliers,
        Path({out!r}), Path({state!r}), Path({csv!r}),
    )
"""


def test_runner_is_validated() -> None:
    raw = read_params_yaml(ROOT / "params.yaml")
    assert raw["text_to_audio"]["experiment"]["runner"] == "local"
    set_dotted(raw, "text_to_audio.experiment.runner", "spark")
    with pytest.raises(ParamsError, match="text_to_audio.experiment.runner"):
        parse_params(raw, ROOT / "params.yaml")


@pytest.mark.slow
def test_local_runner_imports_no_prefect() -> None:
    code = "import sys, tasks.text_to_audio.train; assert 'prefect' not in sys.modules, 'prefect imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _predictions(models_dir: Path, table: pd.DataFrame, stores: Path, t) -> dict[str, np.ndarray]:
    real = load_clips(stores / "real", t.features)
    x = _tensor(real.x)
    return {
        row.key: predict(load_classifier(models_dir / row.checkpoint, torch.device("cpu")), x, torch.device("cpu"), 64)
        .argmax(1)
        .numpy()
        for row in table.itertuples()
    }


@pytest.mark.slow
def test_configurations_on_a_local_dask_cluster_match_the_local_run(
    tmp_path: Path, one_torch_thread: None, dask_cluster
) -> None:
    real = tiny_real(tmp_path / "real", clips_per_class=3, n_folds=3)
    t = t2a_params(
        real,
        generate={"seconds": 1.0, "multipliers": [1.0]},
        experiment={"epochs": 2, "test_folds": [1], "data_types": ["real", "real_generated"], "crnn_channels": 4},
    )
    generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "gen", progress=False)
    stores = tmp_path / "stores"
    build_stores(real, t.real, tmp_path / "gen", t.features, stores, tmp_path / "f.json", root=tmp_path)
    local = train_configurations(
        stores, t.features, t.experiment, [1.0], tmp_path / "m_local", tmp_path / "s_local", tmp_path / "local.csv"
    )

    dask_t = t.model_copy(update={"experiment": t.experiment.model_copy(update={"runner": "dask"})})
    (tmp_path / "params.json").write_text(dask_t.model_dump_json())
    script = tmp_path / "run_dask.py"
    paths = {"out": "m_dask", "state": "s_dask", "csv": "dask.csv", "params": "params.json"}
    script.write_text(
        SCRIPT.format(
            root=str(ROOT), work=str(tmp_path), stores=str(stores), **{k: str(tmp_path / v) for k, v in paths.items()}
        )
    )
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": dask_cluster.scheduler_address}  # the session's cluster
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"4 configuration\(s\) on [12] Dask worker\(s\)", done.stdout + done.stderr)

    dask = pd.read_csv(tmp_path / "dask.csv")
    same = [c for c in local.columns if c != "train_seconds"]
    pd.testing.assert_frame_equal(dask[same], pd.read_csv(tmp_path / "local.csv")[same])
    ours, theirs = (
        _predictions(tmp_path / "m_dask", dask, stores, t),
        _predictions(tmp_path / "m_local", local, stores, t),
    )
    assert ours.keys() == theirs.keys() and len(ours) == 4
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    accuracy = [
        evaluate_runs(
            stores, tmp_path / f"{run}.csv", tmp_path / f"m_{run}", t, tmp_path / f"r_{run}.csv", tmp_path / "m.json"
        ).set_index("name")["metric.test_accuracy"]
        for run in ("dask", "local")
    ]
    pd.testing.assert_series_equal(*accuracy)
    for key in dask.key:
        summary = json.loads((tmp_path / "m_dask" / f"{key}.summary.json").read_text())
        assert summary == json.loads((tmp_path / "m_local" / f"{key}.summary.json").read_text())

    # the training states are the cache: the local runner finds every configuration the workers finished
    train_configurations(
        stores, t.features, t.experiment, [1.0], tmp_path / "m_again", tmp_path / "s_dask", tmp_path / "again.csv"
    )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again.csv")[same], dask[same])
    for key in dask.key:  # the history (with each epoch's seconds) comes from the finished state, not a new fit
        history = (tmp_path / "m_again" / f"{key}.history.csv").read_bytes()
        assert history == (tmp_path / "m_dask" / f"{key}.history.csv").read_bytes()
