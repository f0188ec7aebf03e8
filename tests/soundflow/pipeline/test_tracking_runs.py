"""Per-configuration records of a stage become nested MLflow runs with their tags, params and metrics."""

from pathlib import Path

import pandas as pd
import pytest

from soundflow.pipeline.tracking import Tracker

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)


def test_each_row_is_a_nested_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = Tracker(tmp_path, "t")
    parent = tracker.stage_run("t2a_evaluate", None, {}, {"git_commit": "abc"})
    csv = tmp_path / "runs.csv"
    pd.DataFrame(
        {
            "name": ["cnn-real-fold1", "cnn-real-fold2"],
            "tag.classifier": ["salamon_cnn"] * 2,
            "tag.test_fold": [1, 2],
            "param.n_train_real": [120, 120],
            "metric.test_accuracy": [0.5, float("nan")],
        }
    ).to_csv(csv, index=False)
    ids = tracker.log_runs(parent, csv)
    runs = [tracker.client.get_run(i) for i in ids]
    assert [r.info.run_name for r in runs] == ["cnn-real-fold1", "cnn-real-fold2"]
    assert runs[1].data.tags["mlflow.parentRunId"] == parent and runs[1].data.tags["test_fold"] == "2"
    assert runs[0].data.tags["soundflow.configuration_of"] == "t2a_evaluate"
    assert runs[0].data.tags["git_commit"] == "abc"
    assert "soundflow.stage" not in runs[0].data.tags  # the stage runs stay one per stage
    assert runs[0].data.params == {"n_train_real": "120"}
    assert runs[0].data.metrics == {"test_accuracy": 0.5} and runs[1].data.metrics == {}  # NaN is no metric
    assert runs[0].info.status == "FINISHED"
