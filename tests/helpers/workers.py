"""Running the suite on several processes (``pytest -n N``, pytest-xdist; ``make test`` does): what each worker
sets before anything imports torch or Prefect, and how the leftover-process check of every worker reaches the
controller.

Each worker takes its share of the cores for torch and BLAS: two workers with two spin-waiting threads each on
two cores make a training step several times slower (benchmarks/bench_threads.py). Results do not depend on it:
the tests compare runs made under the same setting. Each worker has a Prefect home of its own: two ephemeral
Prefect servers on one SQLite file would wait on each other's locks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from soundflow.env import STATE_DIR

WORKER_ENV = "PYTEST_XDIST_WORKER"  # "gw0", "gw1", ... set by pytest-xdist in each worker
LEFTOVERS = "soundflow_leftovers"  # the key of a worker's findings in what it sends the controller
_REPORTED = pytest.StashKey[list[str]]()
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The longest modules (minutes each): handed out first, so that the other workers fill the time around them
# instead of one worker running them alone at the end.
LONGEST = ("tests/test_pipeline_e2e.py", "tests/test_realdata_esc10.py")


def name() -> str | None:
    return os.environ.get(WORKER_ENV)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure(root: Path) -> None:
    """In a worker: its threads and Prefect home, as defaults the environment can override (else nothing)."""
    worker = name()
    if worker is None:
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    threads = str(max(1, cores() // count))
    for var in THREAD_VARS:  # read when torch / numpy load, and inherited by the stage processes tests start
        os.environ.setdefault(var, threads)
    os.environ.setdefault("PREFECT_HOME", str(Path(root).resolve() / STATE_DIR / "prefect-workers" / worker))


def order_for_workers(items: list[pytest.Item], rootpath: Path) -> None:
    """In a worker: the longest modules first, then the others with a slow test, then the rest; a module's own
    tests keep their order (some build on the one before). The same in every worker, as pytest-xdist requires.
    Module by module, each on one worker (``--dist loadfile``), this is close to longest-first scheduling."""
    if name() is None:
        return
    slow = {item.path for item in items if "slow" in item.keywords}

    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(rootpath).as_posix() if item.path.is_relative_to(rootpath) else ""
        return 0 if path in LONGEST else 1 if item.path in slow else 2

    items.sort(key=rank)  # stable


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workeroutput")


def keep_leftovers(node: Any) -> None:
    """The controller: the leftovers a finished worker reported (``pytest_testnodedown``)."""
    config = node.config
    found = getattr(node, "workeroutput", {}).get(LEFTOVERS, [])
    config.stash.setdefault(_REPORTED, []).extend(f"{node.gateway.id}: {x}" for x in found)


def reported_leftovers(config: pytest.Config) -> list[str]:
    return config.stash.get(_REPORTED, [])
