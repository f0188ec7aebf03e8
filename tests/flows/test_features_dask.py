"""Feature extraction over Prefect's Dask task runner: a local cluster, and an existing one by address.

Each test runs the flow in a subprocess: Dask starts worker processes that re-import ``__main__``,
and Prefect must start with the project's offline settings (``soundflow.env``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
SR = 32000

SCRIPT = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from soundflow import env
env.configure(Path({work!r}))
import pandas as pd
from tasks.features.dask_shards import dask_task_runner, extract_shards
from tasks.features.representations import make_representation
from tasks.features.store import finish_store, plan_store

if __name__ == "__main__":
    table = pd.read_csv({table!r})
    plan = plan_store(table, Path({out!r}), make_representation("logmel_pann"), shard_size=3)
    summaries = extract_shards.with_options(task_runner=dask_task_runner(workers=1))(plan, 1, "cpu")
    finish_store(plan, [{{k: v for k, v in s.items() if k != "worker"}} for s in summaries], max_bad_fraction=0.5)
    Path({report!r}).write_text(json.dumps([s["worker"] for s in summaries]))
"""


def _table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(7):
        path = tmp_path / "audio" / f"c{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.2 * rng.standard_normal(SR // 2 + 500 * i)).astype(np.float32), SR, subtype="FLOAT")
        rows.append({"path": str(path), "label": i % 2, "fold": 1})
    (tmp_path / "audio" / "broken.wav").write_text("not audio")
    rows.append({"path": str(tmp_path / "audio" / "broken.wav"), "label": 0, "fold": 1})
    csv = tmp_path / "table.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def _run(tmp_path: Path, env_extra: dict[str, str]) -> list[str | None]:
    import os

    csv = _table(tmp_path)
    script = tmp_path / "run_flow.py"
    report = tmp_path / "workers.json"
    script.write_text(
        SCRIPT.format(
            root=str(ROOT), work=str(tmp_path), table=str(csv), out=str(tmp_path / "store"), report=str(report)
        )
    )
    env = {**os.environ, **env_extra}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(report.read_text())


def _check_store(tmp_path: Path) -> None:
    from tasks.features.representations import make_representation
    from tasks.features.store import extract_features, open_store

    rep = make_representation("logmel_pann")
    local = extract_features(
        pd.read_csv(tmp_path / "table.csv"), tmp_path / "local", rep, shard_size=3, max_bad_fraction=0.5, progress=False
    )
    with open_store(tmp_path / "store", rep) as dask_store, open_store(local, rep) as ref:
        assert len(dask_store) == len(ref) == 7
        for i in range(7):
            np.testing.assert_array_equal(dask_store[i][0], ref[i][0])
    assert pd.read_csv(tmp_path / "store" / "skipped.csv").path.str.endswith("broken.wav").tolist() == [True]


@pytest.mark.slow
def test_shards_run_on_a_local_dask_cluster(tmp_path, monkeypatch):
    workers = _run(tmp_path, {"DASK_SCHEDULER_ADDRESS": ""})
    assert len(workers) == 3 and all(w and w.startswith("tcp://127.0.0.1:") for w in workers)
    _check_store(tmp_path)


@pytest.mark.slow
def test_shards_run_on_the_cluster_named_by_dask_scheduler_address(tmp_path, dask_cluster):
    ours = set(dask_cluster.scheduler_info["workers"])
    workers = _run(tmp_path, {"DASK_SCHEDULER_ADDRESS": dask_cluster.scheduler_address})
    assert set(workers) <= ours and len(workers) == 3
    _check_store(tmp_path)
