"""A tiny experiment end to end: generate, stores, train every configuration, evaluate, summary table."""

from pathlib import Path

import pandas as pd
import pytest

from tasks.text_to_audio.evaluate import evaluate_runs
from tasks.text_to_audio.features import build_stores, standardise
from tasks.text_to_audio.generate import generate_clips
from tasks.text_to_audio.summary import summarise, summary_table
from tasks.text_to_audio.train import configurations, train_configurations
from tests.helpers.t2a import t2a_params, tiny_real


def test_standardisation_divides_by_the_standard_deviation() -> None:
    import numpy as np

    x = np.array([[1.0, 3.0], [5.0, 7.0]])
    z = standardise(x)
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)  # by the variance it would be 0.45


def test_summary_mean_and_std_over_folds() -> None:
    runs = pd.DataFrame(
        {
            "tag.classifier": ["a", "a", "a"],
            "tag.data_type": ["real", "real", "generated"],
            "tag.multiplier": [0.0, 0.0, 1.0],
            "metric.test_accuracy": [0.5, 0.7, 0.4],
        }
    )
    t = summary_table(runs).set_index("data_type")
    assert t.loc["real", "mean_accuracy"] == pytest.approx(0.6)
    assert t.loc["real", "std_accuracy"] == pytest.approx(pd.Series([0.5, 0.7]).std())
    assert t.loc["generated", "std_accuracy"] == 0 and t.loc["generated", "n_folds"] == 1
    assert t.loc["real", "accuracy"] == "60.0 ± 14.1 %"


@pytest.mark.slow
def test_tiny_experiment_produces_the_summary(tmp_path: Path, one_torch_thread: None) -> None:
    real = tiny_real(tmp_path / "real", clips_per_class=4, n_folds=4)
    t = t2a_params(
        real,
        generate={"seconds": 1.0, "multipliers": [1.0]},
        experiment={"epochs": 1, "test_folds": [1, 4], "crnn_channels": 4},
    )
    generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "gen", progress=False)
    stores = tmp_path / "stores"
    build_stores(real, t.real, tmp_path / "gen", t.features, stores, tmp_path / "f.json", root=tmp_path)
    trained = train_configurations(
        stores, t.features, t.experiment, t.generate.multipliers, tmp_path / "m", tmp_path / "s", tmp_path / "t.csv"
    )
    assert len(trained) == len(configurations(t.experiment, [1.0])) == 2 * 4 * 2
    r = trained.set_index("key")
    assert r.loc["crnn-real-x0-fold4", "val_fold"] == 1  # the rotation wraps around
    assert r.loc["salamon_cnn-generated-x1-fold1", "n_train_real"] == 0
    assert r.loc["salamon_cnn-real_generated-x1-fold1", "synthetic_percent"] == 50.0
    runs = evaluate_runs(stores, tmp_path / "t.csv", tmp_path / "m", t, tmp_path / "runs.csv", tmp_path / "m.json")
    assert runs["metric.test_accuracy"].between(0, 1).all() and set(runs["tag.generator"]) == {"procedural"}
    table = summarise(tmp_path / "runs.csv", tmp_path / "s.csv", tmp_path / "s.png", tmp_path / "a.png", "procedural")
    assert len(table) == 8 and (table["n_folds"] == 2).all()
    assert (tmp_path / "a.png").stat().st_size > 0 and pd.read_csv(tmp_path / "s.csv").shape[0] == 8
