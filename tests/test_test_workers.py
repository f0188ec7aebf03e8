"""The suite on several processes (tests/helpers/workers.py): each worker's threads and Prefect home, and the
order modules are handed out in. The leftover check across workers: tests/test_leftover_processes.py."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import workers

VARS = (*workers.THREAD_VARS, "PREFECT_HOME", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)  # restored as they were after the test
    return monkeypatch


def test_a_worker_takes_its_share_of_the_cores_and_a_prefect_home_of_its_own(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("PYTEST_XDIST_WORKER", "gw1")
    clean_env.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    clean_env.setattr(workers, "cores", lambda: 5)
    workers.configure(tmp_path)
    assert [os.environ[v] for v in workers.THREAD_VARS] == ["2"] * len(workers.THREAD_VARS)
    assert os.environ["PREFECT_HOME"] == str(tmp_path.resolve() / ".soundflow" / "prefect-workers" / "gw1")


def test_more_workers_than_cores_still_get_one_thread_and_the_users_settings_win(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("PYTEST_XDIST_WORKER", "gw3")
    clean_env.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    clean_env.setenv("MKL_NUM_THREADS", "3")
    clean_env.setattr(workers, "cores", lambda: 2)
    workers.configure(tmp_path)
    assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("1", "3")


def test_one_process_sets_nothing(clean_env, tmp_path: Path) -> None:
    workers.configure(tmp_path)
    assert not any(v in os.environ for v in VARS)


@dataclass
class FakeItem:
    path: Path
    name: str
    keywords: set[str] = field(default_factory=set)


def test_the_longest_modules_go_first_then_those_with_a_slow_test_each_in_its_own_order(
    clean_env, tmp_path: Path
) -> None:
    clean_env.setenv("PYTEST_XDIST_WORKER", "gw0")
    t = tmp_path / "tests"
    items = [
        FakeItem(t / "a.py", "a1"),
        FakeItem(t / "b.py", "b1"),
        FakeItem(t / "b.py", "b2", {"slow"}),
        FakeItem(t / "test_pipeline_e2e.py", "e1", {"slow"}),
        FakeItem(t / "test_pipeline_e2e.py", "e2", {"slow"}),
        FakeItem(t / "c.py", "c1"),
    ]
    workers.order_for_workers(items, tmp_path)
    assert [i.name for i in items] == ["e1", "e2", "b1", "b2", "a1", "c1"]
    clean_env.delenv("PYTEST_XDIST_WORKER")
    items.reverse()
    workers.order_for_workers(items, tmp_path)  # one process: the collection order stays
    assert [i.name for i in items] == ["c1", "a1", "b2", "b1", "e2", "e1"]
