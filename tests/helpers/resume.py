"""Killing a training run between epochs, for the tests that resume it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from soundflow import training_state


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kill_after_first_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after the state of epoch 1 is on disk (as a kill between epochs would)."""
    real = training_state.save

    def save_then_die(*a: object, **k: object) -> None:
        real(*a, **k)
        monkeypatch.setattr(training_state, "save", real)
        raise KeyboardInterrupt("killed after epoch 1")

    monkeypatch.setattr(training_state, "save", save_then_die)
