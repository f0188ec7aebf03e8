"""Talking to the session's real Prefect server from a test: its client, and polling it with a bound."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tests.helpers.servers import Running

T = TypeVar("T")


@contextmanager
def client_of(server: Running) -> Iterator[Any]:
    """Prefect's sync client, and in-process flows, pointed at ``server`` for the duration."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: f"{server.url}/api"}):
        with get_client(sync_client=True) as client:
            yield client


def poll(what: str, check: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """The first truthy result of ``check()``; fails the test naming ``what`` when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not seen within {timeout:.0f} s")
