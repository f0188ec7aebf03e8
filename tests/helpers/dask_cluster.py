"""One Dask cluster per test session for the tests that run work on the cluster named by DASK_SCHEDULER_ADDRESS.

Two worker processes of one thread each, as each such test started before, on first use; closed at the
session's end (its workers are the session's processes, which the leftover check would find). Starting one
and importing the tasks' modules (Prefect, torch, librosa) in its workers cost each test about as much as its
own work. A test on it must not count on fresh workers: the scheduler's counters are read as differences.
Registered as a fixture in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from distributed import LocalCluster


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[LocalCluster]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster


def tasks_seen(cluster: LocalCluster) -> int:
    """How many tasks the scheduler has been given so far (in any state, forgotten ones included)."""
    return sum(sum(tp.state_counts.values()) for tp in cluster.scheduler.task_prefixes.values())
