"""Real data in any supported layout (ESC-50 too), a real-only experiment that needs no generator, and the
validation split by source recording (``experiment.validation: by_source``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.text_to_audio.evaluate import evaluate_runs
from tasks.text_to_audio.features import build_stores, has_store, load_clips
from tasks.text_to_audio.folds import rotation, validation_rows
from tasks.text_to_audio.generate import generate_clips
from tasks.text_to_audio.prompts import PromptFileError
from tasks.text_to_audio.train import train_configurations
from tests.helpers.audio import write_wav
from tests.helpers.t2a import t2a_params, tiny_real

ESC_CLASSES = ("dog", "rooster", "rain")


def tiny_esc50(root: Path) -> Path:
    """ESC-50 layout (``meta.csv`` + ``audio/``): 3 classes, folds 1-2, 3 source files of 2 takes per class and fold."""
    rows = ["filename,fold,target,category,src_file,take"]
    for fold in (1, 2):
        for target, category in enumerate(ESC_CLASSES):
            for r in range(3):
                src = 1000 * fold + 10 * target + r
                for take in "AB":
                    name = f"{fold}-{src}-{take}-{target}.wav"
                    write_wav(root / "audio" / name, 1.0, freq=250.0 * (target + 1) + 40 * r + (take == "B") * 7)
                    rows.append(f"{name},{fold},{target},{category},{src},{take}")
    (root / "meta.csv").write_text("\n".join(rows) + "\n")
    return root


def _train(stores: Path, t, tmp: Path) -> pd.DataFrame:
    return train_configurations(
        stores, t.features, t.experiment, t.generate.multipliers, tmp / "m", tmp / "s", tmp / "t.csv"
    )


def test_a_real_only_experiment_needs_no_generator_nor_prompt(tmp_path: Path, one_torch_thread: None) -> None:
    real = tiny_real(tmp_path / "real", clips_per_class=3, n_folds=3)
    # audiogen refuses the moment it is made, and the prompt file does not exist: neither may be touched
    t = t2a_params(
        real,
        generate={"generator": "audiogen"},
        features={"clip_seconds": 1.0},
        experiment={"data_types": ["real"], "test_folds": [1], "epochs": 1, "classifiers": ["salamon_cnn"]},
    ).model_copy(update={"prompts": str(tmp_path / "missing.yaml")})
    gen = tmp_path / "gen"
    earlier = write_wav(gen / "audio" / "fold1" / "90000000-0-0-0.wav", 0.5)  # a clip of an earlier run
    counts = generate_clips(real, t.real, Path(t.prompts), t.generate, gen, False, t.experiment.data_types)
    assert counts["clips"] == counts["generated"] == 0
    assert pd.read_csv(gen / "metadata" / "UrbanSound8K.csv").empty and earlier.is_file()  # kept, unlisted
    stores = tmp_path / "stores"
    (stores / "generated").mkdir(parents=True)  # a store of earlier clips: removed, not trained on
    summary = build_stores(real, t.real, gen, t.features, stores, tmp_path / "f.json", root=tmp_path)
    assert summary["generated"]["n_clips"] == 0 and summary["real"]["n_clips"] == 9
    assert not has_store(stores / "generated") and not (stores / "generated").exists()
    trained = _train(stores, t, tmp_path)
    assert trained["key"].tolist() == ["salamon_cnn-real-x0-fold1"]
    assert trained.loc[0, "n_train_generated"] == 0 and trained.loc[0, "n_train_real"] == 3  # fold 3 trains
    runs = evaluate_runs(stores, tmp_path / "t.csv", tmp_path / "m", t, tmp_path / "r.csv", tmp_path / "m.json")
    assert runs["metric.test_accuracy"].between(0, 1).all()


def test_a_generated_training_set_without_generated_clips_is_refused(tmp_path: Path) -> None:
    real = tiny_real(tmp_path / "real", clips_per_class=2, n_folds=3)
    t = t2a_params(real, features={"clip_seconds": 1.0}, experiment={"data_types": ["real"]})
    gen = tmp_path / "gen"
    generate_clips(real, t.real, Path(t.prompts), t.generate, gen, False, ["real"])
    build_stores(real, t.real, gen, t.features, tmp_path / "stores", tmp_path / "f.json", root=tmp_path)
    mixed = t.experiment.model_copy(update={"data_types": ["real", "real_generated"]})
    with pytest.raises(ValueError, match=r"no generated clips, but .*data_types names real_generated"):
        train_configurations(
            tmp_path / "stores", t.features, mixed, [1.0], tmp_path / "m", tmp_path / "s", tmp_path / "t.csv"
        )


def test_generation_checks_every_real_class_has_a_prompt(tmp_path: Path) -> None:
    real = tiny_esc50(tmp_path / "esc")  # dog, rooster, rain: the default prompt file has only UrbanSound8K's classes
    t = t2a_params(real)
    t = t.model_copy(update={"real": t.real.model_copy(update={"format": "esc50"})})
    with pytest.raises(PromptFileError, match=r"prompts\.yaml: no prompt for the class\(es\) dog, rain, rooster of "):
        generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "gen", False, ["real_generated"])


def test_by_source_validation_over_two_folds() -> None:
    rot = rotation(2, [1, 2], "by_source")
    assert (rot.test, rot.val, rot.train) == (2, None, (1,))
    assert rotation(1, [1, 2, 3], "by_source").train == (2, 3)
    with pytest.raises(ValueError, match="at least 2 folds"):
        rotation(1, [1], "by_source")
    fold = np.array([1] * 8 + [2] * 4)
    label = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
    source = np.array(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f"])
    val = validation_rows(rot, fold, label, source, 0.5, seed=0)
    assert set(fold[val]) == {1}  # never the test fold
    assert set(source[val]).isdisjoint(source[np.setdiff1d(np.flatnonzero(fold == 1), val)])
    assert sorted(label[val].tolist()) == [0, 0, 1, 1]  # one whole recording per class
    assert validation_rows(rotation(1, [1, 2, 3]), np.array([1, 2, 3, 2]), label[:4], source[:4], 0.5, 0).tolist() == [
        1,
        3,
    ]  # next_fold: the validation fold's clips, whatever the sources


def test_esc50_real_data_by_source_through_the_stages(tmp_path: Path, one_torch_thread: None) -> None:
    real = tiny_esc50(tmp_path / "esc")
    t = t2a_params(
        real,
        features={"clip_seconds": 1.0},
        experiment={
            "data_types": ["real"],
            "test_folds": [1, 2],
            "validation": "by_source",
            "val_fraction": 0.34,
            "epochs": 1,
            "classifiers": ["crnn"],
            "crnn_channels": 4,
        },
    )
    t = t.model_copy(update={"real": t.real.model_copy(update={"format": "esc50"})})
    gen = tmp_path / "gen"
    generate_clips(real, t.real, Path(t.prompts), t.generate, gen, False, t.experiment.data_types)
    stores = tmp_path / "stores"
    build_stores(real, t.real, gen, t.features, stores, tmp_path / "f.json", root=tmp_path)
    clips = load_clips(stores / "real", t.features)
    assert sorted(set(clips.source.tolist())) == sorted(
        str(1000 * f + 10 * c + r) for f in (1, 2) for c in range(3) for r in range(3)
    )
    trained = _train(stores, t, tmp_path).set_index("key")
    for fold in (1, 2):
        row = trained.loc[f"crnn-real-x0-fold{fold}"]
        # the other fold's 18 clips: one 2-take recording per class validates (round(0.34 x 6) = 2), the rest train
        assert row["val_fold"] == "by_source" and row["train_folds"] == str(3 - fold)
        assert (row["n_val"], row["n_train_real"]) == (6, 12)
