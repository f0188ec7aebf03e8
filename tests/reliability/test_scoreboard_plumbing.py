"""The scoreboard's own plumbing: cases and harm reach the table, unknown names are refused."""

from __future__ import annotations

import pytest

from tests.helpers.scoreboard import Board


def test_board_refuses_unknown_names():
    seen = []
    b = Board(lambda k, v: seen.append((k, v)))
    b.tried("fault", 3)
    b.harm("files_lost", 0)
    assert seen == [("tried:fault", 3), ("harm:files_lost", 0)]
    with pytest.raises(ValueError, match="unknown case kind"):
        b.tried("faults")
    with pytest.raises(ValueError, match="unknown harm"):
        b.harm("lost", 1)


def test_table_counts_only_passed_cases_as_handled():
    import benchmarks.reliability as rel

    c = rel._Collect()

    class R:
        def __init__(self, passed, props):
            self.when, self.passed, self.failed = "call", passed, not passed
            self.user_properties, self.nodeid = props, "t"

    c.pytest_runtest_logreport(R(True, [("tried:bad_input", 2), ("harm:unclear", 0)]))
    c.pytest_runtest_logreport(R(False, [("tried:bad_input", 1), ("harm:stale_served", 1)]))
    assert (c.tried["bad_input"], c.handled["bad_input"], c.harm["stale_served"]) == (3, 2, 1)
    assert "| 3 | 2 |" in rel.table(c) and c.failed == ["t"]
