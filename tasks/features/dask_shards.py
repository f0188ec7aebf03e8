"""Feature extraction fanned out over shards with Prefect's Dask task runner (``features.runner: dask``).

One Prefect task per shard (not per clip: Prefect's per-task overhead is tens of milliseconds,
a shard is seconds to minutes of decoding), each calling :func:`tasks.features.store.extract_shard`
on a Dask worker. Planning and the manifest stay in the calling process, so the store is complete
only when every shard has been written, whichever worker wrote it; a killed run resumes from the
finished shards like the in-process extraction does.

It lives with the feature tasks, not in ``flows/`` (the pipeline's layer, which no task may import),
because the ``features`` stage runs it: as task code it is in that stage's code closure, and an edit
reruns the stage. Prefect is imported only here, and :mod:`tasks.features.sets` imports this module
only for the Dask runner, so the local runner needs no Prefect.

Where the shards run: ``DASK_SCHEDULER_ADDRESS`` (or ``address``) names an existing Dask scheduler,
e.g. ``tcp://10.0.0.5:8786`` of a cluster started with ``dask scheduler`` / ``dask worker``; its
workers must see ``out_dir`` and the audio at the same paths (a shared filesystem). Without one, a
local cluster of ``cpu_count // workers`` single-threaded worker processes is started for the run
(each shard task reads with ``workers`` threads of its own).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from tasks.features.representations import Representation
from tasks.features.store import StorePlan, extract_shard, finish_store, plan_store

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def dask_task_runner(address: str | None = None, *, workers: int = 2):
    """Prefect's DaskTaskRunner on ``address`` / ``$DASK_SCHEDULER_ADDRESS``, else on a temporary local cluster."""
    from prefect_dask import DaskTaskRunner

    address = address or os.environ.get(SCHEDULER_ENV) or None
    if address:
        return DaskTaskRunner(address=address)
    n_workers = max(1, (os.cpu_count() or 1) // max(1, workers))
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0"}
    )


@task(name="feature-shard", cache_policy=NO_CACHE, persist_result=False)
def shard_task(plan: StorePlan, s: int, workers: int, device: str) -> dict[str, Any]:
    # the shard file is the cache: extract_shard returns at once when it is already written
    summary = extract_shard(plan, s, workers=workers, device=device)
    try:
        from distributed import get_worker

        summary["worker"] = get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker (a test running the flow in-process)
        summary["worker"] = None
    return summary


@flow(name="feature-extraction", log_prints=True)
def extract_shards(plan: StorePlan, workers: int = 2, device: str = "cpu") -> list[dict[str, Any]]:
    futures = [
        shard_task.with_options(task_run_name=f"{plan.rep.name}-{sh.file}").submit(plan, sh.index, workers, device)
        for sh in plan.shards
    ]
    summaries = [f.result() for f in futures]
    done = sum(s["n_clips"] for s in summaries)
    hosts = sorted({s["worker"] for s in summaries if s["worker"]})
    print(f"{plan.rep.name}: {len(summaries)} shard(s), {done} input(s) on {len(hosts) or 'no'} Dask worker(s)")
    return summaries


def extract_features_dask(
    table: pd.DataFrame,
    out_dir: Path,
    rep: Representation,
    *,
    shard_size: int = 256,
    workers: int = 2,
    device: str = "cpu",
    max_bad_fraction: float = 0.05,
    address: str | None = None,
    base_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """:func:`tasks.features.store.extract_features`, with the shards computed on a Dask cluster."""
    plan = plan_store(table, out_dir, rep, shard_size=shard_size, base_dir=base_dir)
    runner = dask_task_runner(address, workers=workers)
    summaries = extract_shards.with_options(task_runner=runner)(plan, workers, device)
    return finish_store(
        plan,
        [{k: v for k, v in s.items() if k != "worker"} for s in summaries],
        max_bad_fraction=max_bad_fraction,
        extra=extra,
    )


@task(name="fan-out-item", cache_policy=NO_CACHE, persist_result=False)
def _item_task(fn: Callable[..., Any], args: tuple) -> Any:
    return fn(*args)


@flow(name="fan-out", log_prints=True)
def _fan_out(fn: Callable[..., Any], items: list[tuple], label: str) -> list[Any]:
    futures = [_item_task.with_options(task_run_name=f"{label}-{i}").submit(fn, args) for i, args in enumerate(items)]
    return [f.result() for f in futures]


def map_on_dask(
    fn: Callable[..., Any], items: list[tuple], *, label: str, address: str | None = None, workers: int = 1
) -> list[Any]:
    """``[fn(*args) for args in items]``, each call a Prefect task on :func:`dask_task_runner`'s cluster; in order.

    For the generation stages' fan-outs (``runner: dask``): ``fn`` is a module-level function (Dask pickles it
    by name) whose result depends on its arguments only, so the results equal the in-process loop's.
    """
    if not items:
        return []
    runner = dask_task_runner(address, workers=workers)
    return _fan_out.with_options(name=label, task_runner=runner)(fn, items, label)
