"""Fixtures and hooks for the whole suite; utilities shared by test modules live in tests/helpers/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from soundflow import env
from tests.helpers import leftovers, workers
from tests.helpers.commands import cli_environment
from tests.helpers.paths import ROOT

workers.configure(ROOT)  # under `pytest -n N` (make test): each worker's share of the cores, its own Prefect home
env.configure(ROOT)

LEFTOVER_MARKER = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="also run the long reliability runs (marker soak)")
    parser.addoption(
        "--leftover-grace", type=float, default=5.0, help="seconds the session's processes have to end after it"
    )


def pytest_configure(config: pytest.Config) -> None:
    # before any test starts a process: every child inherits the marker the session-end check looks for
    config.stash[LEFTOVER_MARKER] = leftovers.mark_session()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the session if any process it started is still running at its end (each is then stopped).

    Under ``pytest -n N`` each worker checks its own processes and hands what it found to the controller, which
    fails the run: a worker's own exit status does not reach the controller's."""
    config = session.config
    grace = config.getoption("--leftover-grace")
    left = [str(x) for x in leftovers.check(config.stash[LEFTOVER_MARKER], root=os.getpid(), grace=grace)]
    if workers.is_worker(config):
        config.workeroutput[workers.LEFTOVERS] = left
        return
    left += workers.reported_leftovers(config)
    if not left:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) started by the tests still ran after the session; stopped now:"]
    lines += [f"  {x}" for x in left]
    if reporter is not None:
        reporter.write("\n")  # the progress line may still be open
        reporter.write_sep("=", "leftover processes", red=True)
        reporter.write_line("\n".join(lines))
    else:
        print("\n".join(lines), file=sys.stderr)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):  # keep a worse status
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_testnodedown(node: object, error: object) -> None:
    """The controller of ``pytest -n N``: keep what a finished worker found left behind."""
    workers.keep_leftovers(node)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu = [item for item in items if "gpu" in item.keywords]
    if gpu:
        import torch  # only when a GPU test is collected: the import alone costs seconds

        if not torch.cuda.is_available():
            for item in gpu:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
    skip_soak = pytest.mark.skip(reason="a long reliability run: make reliability (pytest --soak)")
    for item in items:
        if "soak" in item.keywords and not config.getoption("--soak"):
            item.add_marker(skip_soak)
    workers.order_for_workers(items, config.rootpath)


@pytest.fixture()
def one_torch_thread():
    """Tiny convolutions: one intra-op thread avoids spin-waiting on shared CPU cores (seconds per step otherwise)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for subprocesses: the venv's tools first on PATH, offline, state kept per test.

    Except numba's cache: librosa's compiled kernels are the same in every project, and a project's own cache
    would compile them again (about 13 CPU s) in each test's subprocess; the checkout's serves every session.
    """
    return cli_environment()


# one real Prefect, MLflow and S3 server per session, for the operations tests (tests/helpers/servers.py), and
# one Dask cluster, for the tests that name one by DASK_SCHEDULER_ADDRESS (tests/helpers/dask_cluster.py)
from tests.helpers.dask_cluster import dask_cluster  # noqa: E402, F401
from tests.helpers.servers import mlflow_server, prefect_server, s3_server  # noqa: E402, F401
