"""Evaluation and prediction import no training code: a checkpoint is all they need.

Their stages' code dependencies are their import closures (soundflow.pipeline.code_deps), so training code in
that closure would rerun evaluation and prediction on every edit of the training loop.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soundflow.pipeline.code_deps import import_closure

ROOT = Path(__file__).resolve().parents[2]
TRAINING = re.compile(r"^(tasks/[^/]+/train\.py|soundflow/training(_state)?\.py)$")
# what the loop may build on: no parameter models, stage table, runner, tracking, CLI, DAG or flows
PIPELINE = re.compile(r"^(soundflow/(config|stages|runner|tracking|cli|dag)\.py|flows/.*)$")


@pytest.mark.parametrize(
    "module", ["tasks.aed.evaluate", "tasks.aed.predict", "tasks.segmentation.evaluate", "tasks.segmentation.predict"]
)
def test_evaluation_and_prediction_import_no_training_code(module: str) -> None:
    closure = import_closure([(module, ())], ROOT)
    assert module.replace(".", "/") + ".py" in closure  # the closure was found at all
    assert [f for f in closure if TRAINING.match(f)] == []


def test_the_training_loop_is_a_bottom_layer() -> None:
    closure = import_closure([("soundflow.training", ())], ROOT)
    assert "soundflow/training_state.py" in closure
    assert [f for f in closure if PIPELINE.match(f) or f.startswith("tasks/")] == []
