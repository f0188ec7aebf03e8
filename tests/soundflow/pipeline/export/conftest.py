"""The project every export test reads: stage inputs with DVC remotes (tests/helpers/export_project.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.export_project import REMOTES, make_project


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    return make_project(tmp_path_factory.mktemp("project"), root, REMOTES, default="storage")
