"""What a stage task retries and how long it may run: no server needed (tests/ops/test_prefect_failures.py runs
them through Prefect)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from prefect.states import Failed
from prefect.task_engine import TaskRunTimeoutError

from flows import retries
from flows.stage_task import for_stage, stage_task
from soundflow.errors import DiskFull
from soundflow.pipeline import stage as stage_table
from soundflow.pipeline.config import ParamsError
from soundflow.pipeline.ops.servers import free_port
from soundflow.pipeline.stages import STAGES, get_stage
from tests.helpers.paths import ROOT


def raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as err:
        return err
    raise AssertionError("nothing raised")


def refused() -> None:
    # a port nobody listens on: the kernel's own ECONNREFUSED
    urllib.request.urlopen(f"http://127.0.0.1:{free_port()}/api/health", timeout=5)


def wrapped_refusal() -> None:
    try:
        socket.create_connection(("127.0.0.1", free_port()), timeout=5)
    except OSError as err:
        raise RuntimeError("could not log the metrics") from err


def server_error() -> None:
    request = httpx.Request("GET", "http://mlflow:5000/api")
    raise httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))


def client_error() -> None:
    request = httpx.Request("GET", "http://mlflow:5000/api")
    raise httpx.HTTPStatusError("404", request=request, response=httpx.Response(404, request=request))


def user_error_after_network() -> None:
    try:
        refused()
    except urllib.error.URLError as err:
        raise ParamsError("params.yaml: tracking.uri: no server answers") from err


@pytest.mark.parametrize(
    ("make", "transient"),
    [
        (refused, True),  # URLError wrapping ConnectionRefusedError (not chained: its reason)
        (wrapped_refusal, True),  # a RuntimeError raised from a refused connection
        (server_error, True),
        (lambda: (_ for _ in ()).throw(TimeoutError("read timed out")), True),
        (client_error, False),
        (user_error_after_network, False),  # the user has something to fix: a retry would fail the same way
        (lambda: open("/nonexistent/file.wav"), False),  # an OSError, but a file's
        (lambda: (_ for _ in ()).throw(DiskFull("/data: disk full")), False),
        (lambda: (_ for _ in ()).throw(TaskRunTimeoutError("over its limit")), False),
        (lambda: 1 / 0, False),
    ],
)
def test_only_a_server_or_network_failure_is_transient(make, transient: bool) -> None:
    exc = raised(make)
    assert retries.is_transient(exc) is transient, repr(exc)
    # as Prefect's engine asks: a Failed state holding the exception
    assert retries.retry_if_transient(None, None, Failed(data=exc)) is transient


def test_the_stage_task_retries_through_the_condition() -> None:
    assert stage_task.retries == retries.RETRIES >= 1
    assert stage_task.retry_condition_fn is retries.retry_if_transient
    assert stage_task.retry_delay_seconds == retries.RETRY_DELAY_SECONDS


def test_each_stage_has_a_time_limit_scaled_to_its_work() -> None:
    limits = {s.name: s.timeout_seconds for s in STAGES}
    training = {s.name for s in STAGES if stage_table.TRAINING_LOOP in s.code_deps}
    assert {"aed_train", "seg_train", "transcoder_teacher", "t2a_train"} <= training
    assert all(limits[n] == 60 * stage_table.TRAINING_TIMEOUT_MINUTES for n in training)
    assert limits["urban_synth"] == 60 * stage_table.TIMEOUT_MINUTES < limits["aed_train"]
    assert limits["t2a_generate"] == 24 * 3600  # its own, in the stage table
    # the Prefect task of a stage carries it
    assert for_stage("aed_train", ROOT).timeout_seconds == limits["aed_train"]
    assert for_stage("urban_synth", Path(ROOT)).timeout_seconds == limits["urban_synth"]
    assert get_stage("aed_train").timeout_minutes is None
