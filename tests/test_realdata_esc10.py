"""The same pipeline on real recordings: ESC-10 (400 clips, 10 classes, 5 folds) from ../shared, when present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from soundflow.pipeline.workspace import copy_project
from tests.helpers.paths import ESC10, ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(not (ESC10 / "meta.csv").is_file(), reason=f"{ESC10} not present"),
]

# The documented override (README, "Real data"), with features and model sized for a CPU test run.
ESC10_PROFILE = {
    "aed.data.root": str(ESC10),
    "aed.data.format": "esc50",
    "aed.data.test_folds": [5],
    "aed.features.sample_rate": 22050,
    "aed.features.n_freq_bins": 128,
    "aed.features.n_frames": 256,
    "aed.features.frame_hop_seconds": 0.0117,
    "aed.model.width": 16,
    "aed.train.epochs": 20,
}


def test_esc10_held_out_fold_beats_chance_clearly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    project = copy_project(ROOT, tmp_path / "project", ESC10_PROFILE)
    proc = subprocess.run(
        [sys.executable, "-m", "soundflow", "run", "aed_evaluate"],
        cwd=project,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "urban_synth" not in proc.stdout.split("soundflow run:")[-1]  # real data: the generator is not upstream
    features = json.loads((project / "reports/aed/features.json").read_text())
    assert features["n_files"] == 400 and features["n_skipped"] == 0 and features["n_classes"] == 10
    assert features["n_chunks"] == 1200  # 5 s clips: chunks at 0, 1 and 2 s
    m = json.loads((project / "reports/aed/metrics.json").read_text())
    assert m["n_files"] == 80  # fold 5
    print(f"ESC-10 fold 5: accuracy {m['accuracy']:.3f}, MAP {m['map']:.3f} (chance 0.1)")
    assert m["accuracy"] >= 0.4 and m["map"] >= 0.55
