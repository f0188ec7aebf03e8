"""Where the tests find the checkout and the team's shared real recordings."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the team's shared real recordings sit beside the checkout; SOUNDFLOW_SHARED points elsewhere (e.g. in CI)
SHARED = Path(os.environ.get("SOUNDFLOW_SHARED", ROOT.parent / "shared"))
ESC10 = SHARED / "data" / "esc10"
