"""Where the tests find the checkout and the team's shared real recordings."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the team's shared real recordings sit beside the checkout; SOUNDFLOW_SHARED points elsewhere (e.g. in CI)
SHARED = Path(os.environ.get("SOUNDFLOW_SHARED", ROOT.parent / "shared"))
ESC10 = SHARED / "data" / "esc10"
URBANSOUND8K = SHARED / "data" / "urbansound8k"  # folds 1 (complete) and 2 (711 of 888), 16 kHz FLAC
CITYSCAPES_REAL = SHARED / "data" / "cityscapes_real"  # a labelled val frame (256 x 128), its full-resolution image
CITYSCAPES_STEM = "frankfurt_000000_000294"  # that frame
