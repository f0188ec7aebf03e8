"""A real-only text-to-audio experiment on ESC-10 (ESC-50's layout) through the CLI: no generator, no prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from soundflow.pipeline.workspace import copy_project
from tests.helpers.commands import sh
from tests.helpers.paths import ESC10, ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(not (ESC10 / "meta.csv").is_file(), reason=f"{ESC10} not present"),
]

REAL_ONLY = {
    "text_to_audio.real.root": str(ESC10),
    "text_to_audio.real.format": "esc50",
    "text_to_audio.real.clips_per_class_per_fold": 4,
    # audiogen refuses the moment it is made, and ESC-10's classes (dog, rain, ...) have no prompt: a real-only
    # experiment must touch neither
    "text_to_audio.generate.generator": "audiogen",
    "text_to_audio.experiment.data_types": ["real"],
    "text_to_audio.experiment.classifiers": ["salamon_cnn"],
    "text_to_audio.experiment.test_folds": [1],
    "text_to_audio.experiment.epochs": 1,
}


def test_a_real_only_experiment_on_esc10_needs_no_generator(tmp_path: Path, cli_env: dict[str, str]) -> None:
    project = copy_project(ROOT, tmp_path / "project", REAL_ONLY)
    out = sh(["soundflow", "repro", "t2a_evaluate"], project, cli_env)
    assert "t2a_generate: no clip generated" in out and "urban_synth" not in out
    assert pd.read_csv(project / "data/generated/t2a/metadata/UrbanSound8K.csv").empty
    features = json.loads((project / "reports/t2a/features.json").read_text())
    assert features["real"]["n_clips"] == 200 and features["generated"]["n_clips"] == 0  # 10 classes x 5 folds x 4
    runs = pd.read_csv(project / "reports/t2a/runs.csv")
    assert runs["name"].tolist() == ["salamon_cnn-real-x0-fold1"]
    assert runs["param.n_train_real"].tolist() == [120] and runs["metric.test_accuracy"].between(0, 1).all()
