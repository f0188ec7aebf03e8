"""Which failures of a stage task Prefect retries: a server or the network that failed, nothing else.

A stage that failed on a bad parameter or file (:class:`soundflow.errors.UserError`), a bug, or its own time
limit fails again the same way: retrying it only delays the report. A connection refused or reset, a request
that timed out, a name that did not resolve, an HTTP 5xx answer (the MLflow or S3 server restarting, a network
blip) may not.
"""

from __future__ import annotations

import errno
import socket
import sys
import urllib.error
from collections.abc import Iterator
from typing import Any

from soundflow.errors import UserError

RETRIES = 2
RETRY_DELAY_SECONDS = [30, 120]  # the second wait outlasts a server restart

# OSErrors that are a network's, not a file's (a missing file or a full disk is not transient)
_NETWORK_ERRNOS = {errno.ENETDOWN, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.ECONNABORTED}
# client libraries' own transport errors, not OSErrors; only a loaded library can have raised its exception
_LIBRARY_ERRORS = {
    "httpx": ("TransportError",),
    "requests.exceptions": ("ConnectionError", "Timeout"),
    "botocore.exceptions": ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError"),
    "urllib3.exceptions": ("ProtocolError", "NewConnectionError", "TimeoutError"),
}
_HTTP_STATUS_ERRORS = {"httpx": ("HTTPStatusError",), "requests.exceptions": ("HTTPError",)}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from or while handling (a wrapped network error counts)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _loaded(table: dict[str, tuple[str, ...]]) -> tuple[type, ...]:
    found = []
    for module, names in table.items():
        loaded = sys.modules.get(module)
        found += [getattr(loaded, n) for n in names if loaded is not None and hasattr(loaded, n)]
    return tuple(found)


def _server_error(exc: BaseException) -> bool:
    """An HTTP 5xx answer: the server failed, not the request (a 4xx is the request's fault)."""
    if isinstance(exc, urllib.error.HTTPError):
        status = exc.code
    elif isinstance(exc, _loaded(_HTTP_STATUS_ERRORS)):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    else:
        return False
    return isinstance(status, int) and status >= 500


def _network(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):  # refused, reset, broken pipe; socket timeouts
        return True
    if isinstance(exc, socket.gaierror) or (isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS):
        return True
    if _server_error(exc):
        return True
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):  # wraps, not chains
        return _network(exc.reason)
    return isinstance(exc, _loaded(_LIBRARY_ERRORS))


def is_transient(exc: BaseException) -> bool:
    """A network or server failure somewhere in ``exc``'s chain, and no error the user has to fix nor the
    stage's own time limit (a rerun would reach it again)."""
    from prefect.task_engine import TaskRunTimeoutError

    chain = list(_chain(exc))
    final = any(isinstance(e, (UserError, TaskRunTimeoutError)) for e in chain)
    return not final and any(_network(e) for e in chain)


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry the failed run only if its exception is transient."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # the failed state's exception, read back from its result
            exc = raised
    return exc is not None and is_transient(exc)
