"""Golden files: committed expected outputs, compared byte for byte.

Regenerate after an intended change (a new stage, an edited ``run``, a new image default) with
``SOUNDFLOW_UPDATE_GOLDEN=1 pytest tests/soundflow/pipeline/export`` and review the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

UPDATE_ENV = "SOUNDFLOW_UPDATE_GOLDEN"


def check_golden(path: Path, text: str) -> None:
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} missing: create it with {UPDATE_ENV}=1"
    expected = path.read_text()
    diff = "".join(list(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now"))[:60])
    assert expected == text, (
        f"{path.name} differs from the export: if the change is intended, regenerate with "
        f"`{UPDATE_ENV}=1 pytest tests/soundflow/pipeline/export` and review the diff:\n{diff}"
    )
