"""A stage's metrics file as DVC shows it: numbers only, the workflow's headline metrics first at every level."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from soundflow.metric_files import headline_first, leaves, matches, non_numbers, write_metrics


def _keys(path: Path) -> list[str]:
    return [k for k, _ in leaves(json.loads(path.read_text()))]


def test_flat_headlines_come_first_in_their_order_then_the_rest_by_name(tmp_path: Path) -> None:
    target = write_metrics(
        tmp_path / "m.json",
        {"n_files": 8, "map": 0.5, "chance": 0.1, "accuracy": 0.75},
        first=(
            "accuracy",
            "map",
        ),
    )
    assert _keys(target) == ["accuracy", "map", "chance", "n_files"]
    assert json.loads(target.read_text()) == {"accuracy": 0.75, "map": 0.5, "chance": 0.1, "n_files": 8}


def test_nested_headlines_lead_at_every_level_and_key_paths_are_kept(tmp_path: Path) -> None:
    metrics = {
        "urban_synth": {"deep": {"pinv": {"accuracy": 0.4}}},
        "top1": {"soundscapes": {"pinv": {"teacher_top1_agreement_micro": 0.2, "teacher_top1_agreement": 0.3}}},
        "soundscapes": {
            "grouping": {"pinv": {"macro_auprc": 0.6}},
            "deep": {"pinv": {"micro_auprc": 0.1, "macro_auprc": 0.5}, "cnn_mels": {"macro_auprc": 0.7}},
        },
    }
    first = ("*/deep/*/macro_auprc", "top1/*/*/teacher_top1_agreement")
    target = write_metrics(tmp_path / "m.json", metrics, first=first)
    assert _keys(target) == [
        "soundscapes/deep/cnn_mels/macro_auprc",
        "soundscapes/deep/pinv/macro_auprc",
        "soundscapes/deep/pinv/micro_auprc",
        "soundscapes/grouping/pinv/macro_auprc",
        "top1/soundscapes/pinv/teacher_top1_agreement",
        "top1/soundscapes/pinv/teacher_top1_agreement_micro",
        "urban_synth/deep/pinv/accuracy",
    ]
    assert dict(leaves(json.loads(target.read_text()))) == dict(leaves(metrics))  # the same paths and values


def test_keys_holding_slashes_match_as_their_segments() -> None:
    # the text-to-audio file: {"test_accuracy": {"crnn/real/x0": ...}}, flattened as MLflow names it
    tree = {"n_runs": 6, "test_accuracy": {"crnn/real/x0": 0.5}}
    assert list(headline_first(tree, ("test_accuracy/*/*/*",))) == ["test_accuracy", "n_runs"]
    assert matches("baseline/centre_box/auc", "*/*/auc") and not matches("baseline/centre_box/auc", "auc")


def test_text_flags_and_lists_are_refused_naming_file_and_keys(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "metrics.json"
    bad = {"miou": 0.5, "split": "test", "stopped_early": False, "sizes": {"input": [64, 128]}}
    assert non_numbers(bad) == ["split", "stopped_early", "sizes/input"]
    with pytest.raises(
        ValueError,
        match=r"reports/metrics\.json: not written.*numbers only, not split, stopped_early, "
        r"sizes/input",
    ):
        write_metrics(target, bad)
    assert not target.exists()


def test_undefined_metrics_are_left_out_and_non_finite_ones_refused(tmp_path: Path) -> None:
    target = write_metrics(tmp_path / "m.json", {"ciou": 0.4, "multi_source": {"ciou": None}, "n": 3})
    assert json.loads(target.read_text()) == {"ciou": 0.4, "n": 3}
    with pytest.raises(ValueError, match=r"JSON has no NaN or infinity: ciou = nan"):
        write_metrics(tmp_path / "m.json", {"ciou": math.nan})
