from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.corpus_server import Server, running_server


@pytest.fixture
def server() -> Iterator[Server]:
    """The corpora's hosts, on 127.0.0.1 (test_download.py has its own, lower-level ``server``)."""
    with running_server() as state:
        yield state
