"""Every metrics file is strict JSON: NaN and infinity are refused when written; an undefined value is null.

Python's ``json.loads`` accepts ``NaN`` and ``Infinity``; the parser here refuses them, as DVC's
metrics, browsers and most languages do.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from flows.workflows.aed import AED_METRICS
from flows.workflows.data import DATASETS_INDEX
from flows.workflows.image_to_soundscape import SEG_METRICS
from soundflow.io import write_json
from soundflow.pipeline.config import Params, parse_params, read_params_yaml, set_dotted
from soundflow.pipeline.stages import STAGES, get_stage
from soundflow.pipeline.workspace import TINY
from tests.helpers.paths import ROOT

# every stage that writes a metrics file, and what it needs upstream, in order
PRODUCERS = (
    "datasets",
    "urban_synth",
    "street_scenes",
    "features",
    "aed_features",
    "aed_train",
    "aed_evaluate",
    "seg_class_weights",
    "seg_train",
    "seg_evaluate",
    "t2a_generate",
    "t2a_features",
    "t2a_train",
    "t2a_evaluate",
    "transcoder_soundscapes",
    "transcoder_features",
    "transcoder_teacher",
    "transcoder_pinv",
    "transcoder_cnn_mels",
    "transcoder_cnn_logits",
    "transcoder_evaluate",
    "loc_scenes",
    "loc_pseudo_labels",
    "loc_features",
    "loc_stage1",
    "loc_stage2",
    "loc_evaluate",
)


def strict_loads(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_refuses_nan_and_infinity_naming_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not strict JSON: NaN"):
        strict_loads(json.dumps({"a": math.nan}))  # what the writer produced before
    target = tmp_path / "reports" / "metrics.json"
    write_json(target, {"map": 0.5, "per_class": {"dog": None}})
    with pytest.raises(ValueError) as err:
        write_json(target, {"map": math.inf, "per_class": {"dog": np.float64("nan"), "cat": 1.0}, "ok": [1, -math.inf]})
    msg = str(err.value)
    assert str(target) in msg and "map = inf" in msg and "per_class.dog = nan" in msg and "ok.1 = -inf" in msg
    assert strict_loads(target.read_text()) == {"map": 0.5, "per_class": {"dog": None}}  # the earlier file is kept
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]  # and no temporary is left


def _tiny_params() -> Params:
    raw = copy.deepcopy(read_params_yaml(ROOT / "params.yaml"))
    smaller = {
        "data.urban_synth.clips_per_class": 3,
        "aed.train.epochs": 1,
        "data.street_scenes.n_train": 3,
        "data.street_scenes.n_val": 2,
        "data.street_scenes.n_test": 1,
        "features.sets": [{"dataset": "urban_synth", "representation": "third_octave"}],
        "text_to_audio.prompts": str(ROOT / "configs/text_to_audio/prompts.yaml"),  # the scratch folder has none
        "transcoder.heads.grouping": str(ROOT / "configs/transcoder_grouping.yaml"),
        "localisation.pseudo_label_mapping": str(ROOT / "configs/localisation_categories.yaml"),
    }
    for key, value in {**TINY, **smaller}.items():
        set_dotted(raw, key, value)
    return parse_params(raw, ROOT / "params.yaml")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params]:
    """The stages that write metrics, run for real at a tiny size in a scratch folder (no DVC, no MLflow)."""
    import torch

    root, params = tmp_path_factory.mktemp("metrics"), _tiny_params()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: extra threads only spin on shared cores
    try:
        for name in PRODUCERS:
            get_stage(name).run(params, root)
    finally:
        torch.set_num_threads(threads)
    return root, params


def test_every_metrics_file_of_the_pipeline_is_strict_json(project: tuple[Path, Params]) -> None:
    root, _ = project
    declared = [m for s in STAGES for m in s.metrics]
    assert {s.name for s in STAGES if s.metrics} <= set(PRODUCERS)  # a new metrics stage must be added above
    for rel in [*declared, DATASETS_INDEX]:
        assert isinstance(strict_loads((root / rel).read_text()), dict), rel


def test_undefined_metrics_are_null_exactly_where_documented(project: tuple[Path, Params]) -> None:
    root, _ = project
    seg = strict_loads((root / SEG_METRICS).read_text())
    cm = np.asarray(seg["confusion_matrix"])
    for i, c in enumerate(seg["classes"]):
        # IoU is 0/0, so null, only for a class in neither the ground truth nor the prediction
        assert (seg["iou"][c] is None) == (cm[i].sum() + cm[:, i].sum() == 0), c
    assert isinstance(seg["miou"], float) and isinstance(seg["pixel_accuracy"], float)
    aed = strict_loads((root / AED_METRICS).read_text())
    cm = np.asarray(aed["confusion_matrix"])
    for i, c in enumerate(aed["classes"]):
        assert (aed["per_class_accuracy"][c] is None) == (cm[i].sum() == 0), c  # no test file of that class


def test_a_non_finite_metric_fails_the_stage_instead_of_writing_it(
    project: tuple[Path, Params], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.aed.evaluate

    root, params = project
    before = (root / AED_METRICS).read_text()
    # what an infinite learning rate used to end in: `"map": Infinity` in a file no strict parser reads
    monkeypatch.setattr(tasks.aed.evaluate.metrics, "mean_average_precision", lambda *a, **k: math.inf)
    with pytest.raises(ValueError, match=r"reports/aed/metrics\.json: not written.*map = inf"):
        get_stage("aed_evaluate").run(params, root)
    assert (root / AED_METRICS).read_text() == before
