"""Training configurations fanned out with Prefect's Dask task runner (``text_to_audio.experiment.runner: dask``).

One Prefect task per (classifier, data type, multiplier, test fold) configuration, each calling
:func:`tasks.text_to_audio.train.train_configuration` on a Dask worker: the same function the local
runner calls, so the results are the same. Planning (the list of configurations) and the table of
runs stay in the calling process. Each configuration is its own :func:`soundflow.training.fit` with
its resumable state under ``state_root/<key>``: that state is the cache, so a finished configuration
only rewrites its outputs (each atomically) and a killed run resumes inside the one it was training,
whichever worker picks it up.

It lives with the workflow's tasks, not in ``flows/``, because the ``t2a_train`` stage runs it (so an
edit reruns the stage). Prefect is imported only here, and :mod:`tasks.text_to_audio.train` imports
this module only for the Dask runner, so the local runner needs no Prefect.

Where the configurations run: ``DASK_SCHEDULER_ADDRESS`` names an existing Dask scheduler (e.g.
``tcp://10.0.0.5:8786`` of ``dask scheduler`` / ``dask worker``), whose workers must see the feature
stores, ``out_dir`` and ``state_root`` at the same paths (a shared filesystem); without one, a local
cluster of single-threaded worker processes (one per CPU core) is started for the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from tasks.features.dask_shards import dask_task_runner
from tasks.text_to_audio.features import store_shards
from tasks.text_to_audio.params import ExperimentParams, T2aFeatureParams
from tasks.text_to_audio.train import Config, Inputs, load_inputs, train_configuration

# per worker process: the clips of the stores, loaded once for all the configurations it trains
_LOADED: dict[str, Inputs] = {}


def _inputs(stores: Path, fp: T2aFeatureParams) -> Inputs:
    # keyed by the stores' manifests too: a long-lived worker must not train on the clips of an older store
    key = json.dumps([str(stores), fp.model_dump(), store_shards(stores)], sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_inputs(stores, fp)
    return _LOADED[key]


@task(name="t2a-configuration", cache_policy=NO_CACHE, persist_result=False)
def configuration_task(
    cfg: Config, stores: Path, fp: T2aFeatureParams, e: ExperimentParams, out_dir: Path, state_root: Path
) -> dict[str, Any]:
    row = train_configuration(cfg, _inputs(stores, fp), stores, e, out_dir, state_root)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker (the flow run in-process)
        worker = None
    return {"row": row, "worker": worker}


@flow(name="t2a-train", log_prints=True)
def train_on_dask(
    configs: list[Config], stores: Path, fp: T2aFeatureParams, e: ExperimentParams, out_dir: Path, state_root: Path
) -> list[dict[str, Any]]:
    futures = [
        configuration_task.with_options(task_run_name=cfg.key).submit(cfg, stores, fp, e, out_dir, state_root)
        for cfg in configs
    ]
    results = [f.result() for f in futures]
    hosts = sorted({r["worker"] for r in results if r["worker"]})
    print(f"t2a_train: {len(results)} configuration(s) on {len(hosts) or 'no'} Dask worker(s)")
    return results


def train_configurations_dask(
    configs: list[Config],
    stores: Path,
    fp: T2aFeatureParams,
    e: ExperimentParams,
    out_dir: Path,
    state_root: Path,
    address: str | None = None,
) -> list[dict]:
    """The rows of :func:`tasks.text_to_audio.train.train_configurations`, trained on a Dask cluster, in order."""
    runner = dask_task_runner(address, workers=1)
    results = train_on_dask.with_options(task_runner=runner)(configs, stores, fp, e, out_dir, state_root)
    return [r["row"] for r in results]
