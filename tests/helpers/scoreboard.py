"""The reliability suite's scoreboard records (the ``board`` fixture in tests/reliability/conftest.py).

See that conftest for the protocol: ``tried(kind, n)`` before asserting, ``harm(what, n)`` for harm measured.
"""

from __future__ import annotations

KINDS = ("fault", "bad_input", "tamper", "secret")
HARMS = ("files_lost", "stale_served", "secrets_found", "unclear")


class Board:
    def __init__(self, record) -> None:
        self._record = record

    def tried(self, kind: str, n: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown case kind {kind!r}; one of {KINDS}")
        self._record(f"tried:{kind}", int(n))

    def harm(self, what: str, n: int) -> None:
        if what not in HARMS:
            raise ValueError(f"unknown harm {what!r}; one of {HARMS}")
        self._record(f"harm:{what}", int(n))
