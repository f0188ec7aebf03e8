"""Every metrics file is strict JSON: NaN and infinity are refused when written; an undefined value is null
(in the per-class files; a metrics file leaves it out).

Python's ``json.loads`` accepts ``NaN`` and ``Infinity``; the parser here refuses them, as DVC's
metrics, browsers and most languages do. And what DVC shows of them: every metrics file is numbers only with
its workflow's headline metrics first (``dvc metrics show``, ``dvc exp show``), and every plot of ``dvc.yaml``
finds its x and y columns in the CSV its stage writes (``dvc plots show``).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flows.workflows.aed import AED_METRICS, AED_PER_CLASS
from flows.workflows.data import DATASETS_INDEX
from flows.workflows.image_to_soundscape import SEG_METRICS, SEG_PER_CLASS
from soundflow.io import write_json
from soundflow.metric_files import headline_first, leaves, matches, non_numbers
from soundflow.pipeline.config import Params, parse_params, read_params_yaml, set_dotted
from soundflow.pipeline.dag import DVC_YAML
from soundflow.pipeline.stages import STAGES, WORKFLOWS, get_stage
from soundflow.pipeline.workspace import TINY
from tasks.transcoder.teacher import HISTORY_COLUMNS
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

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
    "t2a_summary",  # a plot's table, not a metrics file
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
    seg = strict_loads((root / SEG_PER_CLASS).read_text())
    cm = np.asarray(seg["confusion_matrix"])
    for i, c in enumerate(seg["classes"]):
        # IoU is 0/0, so null, only for a class in neither the ground truth nor the prediction
        assert (seg["iou"][c] is None) == (cm[i].sum() + cm[:, i].sum() == 0), c
    numbers = strict_loads((root / SEG_METRICS).read_text())
    assert isinstance(numbers["miou"], float) and isinstance(numbers["pixel_accuracy"], float)
    aed = strict_loads((root / AED_PER_CLASS).read_text())
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


def _headlines(flow: str) -> tuple[str, ...]:
    """The flattened keys a workflow's runs are judged by (``Workflow.headlines``), in their order."""
    return tuple(next(u for u in WORKFLOWS if u.name == flow).headlines.values())


def test_every_metrics_file_is_numbers_only_with_its_headlines_first(project: tuple[Path, Params]) -> None:
    """What ``dvc metrics show`` and ``dvc exp show`` draw: a column per number, the headlines leading."""
    root, _ = project
    judged = set()
    for stage in STAGES:
        first = _headlines(stage.flow)
        for rel in stage.metrics:
            doc = strict_loads((root / rel).read_text())
            assert non_numbers(doc) == [], rel  # per-class tables, text and flags live in other files
            keys = [k for k, _ in leaves(doc)]
            assert keys == [k for k, _ in leaves(headline_first(doc, first))], rel
            if any(matches(k, p) for k in keys for p in first):
                judged.add(stage.name)
                assert matches(keys[0], first[0]), rel  # the workflow's first headline opens the file
    # each workflow with a model is judged by its evaluation's file
    assert judged >= {"aed_evaluate", "seg_evaluate", "loc_evaluate", "t2a_evaluate", "transcoder_evaluate"}


def _dvc(root: Path, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def dvc_project(project: tuple[Path, Params]) -> Path:
    """The scratch outputs under the generated ``dvc.yaml``: what DVC itself reads of them."""
    root, _ = project
    for name in (DVC_YAML, "params.yaml"):  # params.yaml: dvc.yaml's ${...} templates
        shutil.copyfile(ROOT / name, root / name)
    if not (root / ".dvc").is_dir():
        subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True, timeout=120)
    return root


def test_dvc_metrics_show_reads_numbers_only(dvc_project: Path) -> None:
    shown = _dvc(dvc_project, "metrics", "show", "--json")[""]["data"]
    declared = [m for s in STAGES for m in s.metrics]
    assert sorted(shown) == sorted(declared)
    # the workflows' results (the stages' metrics in dvc.yaml) before their summaries (the top-level metrics)
    results = [u.results for u in WORKFLOWS if u.results]
    assert len(results) == 5 and sorted(list(shown)[: len(results)]) == sorted(results), list(shown)
    for rel, entry in shown.items():
        assert "error" not in entry and non_numbers(entry["data"]) == [], rel


def test_every_plot_finds_its_columns_in_the_file_its_stage_writes(project: tuple[Path, Params]) -> None:
    import pandas as pd

    root, _ = project
    curves = [c for s in STAGES for c in s.curves]
    assert curves
    for c in curves:
        table = pd.read_csv(root / c.path)
        assert {c.x, *c.ys} <= set(table.columns), c.path
        assert len(table) and table[[c.x, *c.ys]].notna().all().all(), c.path  # a point per row
    # a loaded official teacher trains no epoch: its history has the columns and no row
    (teacher,) = get_stage("transcoder_teacher").curves
    assert {teacher.x, *teacher.ys} <= set(HISTORY_COLUMNS)


def test_dvc_plots_show_json_draws_every_curve_offline(dvc_project: Path) -> None:
    """``dvc plots show --json``: each top-level plot's Vega-Lite spec with its data inlined (no CDN)."""
    shown = _dvc(dvc_project, "plots", "show", "--json")
    assert not shown.get("errors"), shown.get("errors")
    for c in (c for s in STAGES for c in s.curves):
        (plot,) = shown["data"][c.path]
        spec = plot["content"]
        assert spec["encoding"]["x"]["field"] == c.x, c.path
        rows = spec["data"]["values"]
        assert rows and all(c.x in r for r in rows), c.path
        # several ys: one row per point and y, named in "field"; one y: its own column
        assert {r.get("field", c.ys[0]) for r in rows} == set(c.ys) and all(r.get("field", c.ys[0]) in r for r in rows)
    t2a = shown["data"]["reports/t2a/summary.csv"][0]["content"]  # one point per configuration, not a line
    assert "point" in json.dumps(t2a) and "loess" not in json.dumps(t2a)
