"""The reliability suite's scoreboard: every test here says what it tried and what harm it found.

A test takes the ``board`` fixture and records, before it asserts:

- ``board.tried(kind, n=1)``: ``n`` cases of ``kind`` tried (``fault``: a kill, a full disk, a server down,
  a concurrent run; ``bad_input``: a bad file, parameter or argument; ``tamper``: a cached output modified,
  truncated or deleted by hand; ``secret``: a sentinel secret passed through the engines);
- ``board.harm(what, n)``: harm found, 0 when none (``files_lost``: an output lost or left half-written;
  ``stale_served``: a stale or corrupt result served as good; ``secrets_found``: a sentinel found anywhere;
  ``unclear``: an error that was not one sentence naming the file or key).

A case counts as handled when its test passes. ``benchmarks/reliability.py`` (``make reliability``) runs the
suite and prints the table; the per-test records travel in pytest's ``user_properties``.
"""

from __future__ import annotations

import pytest

from tests.helpers.scoreboard import Board


@pytest.fixture
def board(record_property) -> Board:
    return Board(record_property)
