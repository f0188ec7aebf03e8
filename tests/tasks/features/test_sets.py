"""Feature sets: input tables from each kind of source, modality checks, and their parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from soundflow.pipeline.config import ParamsError, parse_params, read_params_yaml, set_dotted
from tasks.features import sets

ROOT = Path(__file__).resolve().parents[3]


def _esc50(root):
    audio = root / "data" / "esc" / "audio"
    audio.mkdir(parents=True)
    rows = []
    for i, (fold, target, cat) in enumerate([(1, 0, "dog"), (2, 1, "rain"), (1, 1, "rain")]):
        name = f"{fold}-{i}-A-{target}.wav"
        sf.write(audio / name, np.zeros(800, np.float32), 8000)
        rows.append({"filename": name, "fold": fold, "target": target, "category": cat})
    pd.DataFrame(rows).to_csv(root / "data" / "esc" / "meta.csv", index=False)
    return root / "data" / "esc"


def test_labelled_audio_table_is_relative_to_the_project(tmp_path):
    folder = _esc50(tmp_path)
    t = sets.labelled_audio_table(folder, "esc50", tmp_path)
    assert list(t.columns) == ["path", "label", "fold"] and len(t) == 3
    assert all(p.startswith("data/esc/audio/") for p in t.path)
    assert sorted(t.fold) == [1, 1, 2]


def test_image_folder_table_pairs_images_with_label_maps(tmp_path):
    for split, city in (("train", "aachen"), ("val", "bonn")):
        img = tmp_path / "scenes" / "leftImg8bit" / split / city / f"{city}_000000_000001_leftImg8bit.png"
        lab = tmp_path / "scenes" / "gtFine" / split / city / f"{city}_000000_000001_gtFine_labelIds.png"
        for p, arr in ((img, np.zeros((4, 6, 3), np.uint8)), (lab, np.zeros((4, 6), np.uint8))):
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(p)
    t = sets.image_folder_table(tmp_path / "scenes", tmp_path)
    assert t.fold.tolist() == ["train", "val"]
    assert t.label[0] == "scenes/gtFine/train/aachen/aachen_000000_000001_gtFine_labelIds.png"
    with pytest.raises(FileNotFoundError, match="no images"):
        sets.image_folder_table(tmp_path / "nothing", tmp_path)


def test_metadata_table_normalises_columns(tmp_path):
    csv = tmp_path / "data" / "datasets" / "x" / "metadata.csv"
    csv.parent.mkdir(parents=True)
    pd.DataFrame(
        {"path": [str(tmp_path / "a.wav"), "b.wav"], "split": ["train", "test"], "label_path": ["a.png", "b.png"]}
    ).to_csv(csv, index=False)
    t = sets.metadata_table(csv, tmp_path)
    assert t.path.tolist() == ["a.wav", "data/datasets/x/b.wav"]
    assert t.fold.tolist() == ["train", "test"] and t.label.tolist() == ["a.png", "b.png"]
    pd.DataFrame({"file": ["a.wav"]}).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="no 'path' column"):
        sets.metadata_table(csv, tmp_path)


def test_modality_mismatch_is_a_clear_error():
    images = pd.DataFrame({"path": ["a.png", "b.jpg"], "label": "", "fold": 1})
    audio = pd.DataFrame({"path": ["a.wav", "b.flac"], "label": 0, "fold": 1})
    with pytest.raises(ValueError, match="street_scenes holds images.*logmel_pann"):
        sets.check_modality(sets.FeatureSet("street_scenes", "logmel_pann"), images)
    with pytest.raises(ValueError, match="urban_synth holds audio.*frames"):
        sets.check_modality(sets.FeatureSet("urban_synth", "frames"), audio)
    sets.check_modality(sets.FeatureSet("street_scenes", "frames"), images)
    sets.check_modality(sets.FeatureSet("urban_synth", "third_octave"), audio)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("features.sets", [{"dataset": "urban_synth", "representation": "mfcc"}], "unknown representation 'mfcc'"),
        ("features.sets", [{"dataset": "esc50", "representation": "logmel_pann"}], "features.sets.0.dataset.*esc50"),
        ("features.sets", [{"dataset": "urban_synth", "representation": "frames"}] * 2, "listed more than once"),
        ("features.runner", "spark", "features.runner"),
        ("features.workers", 0, "features.workers"),
    ],
)
def test_feature_params_are_validated(key, value, message):
    raw = read_params_yaml(ROOT / "params.yaml")
    set_dotted(raw, key, value)
    with pytest.raises(ParamsError, match=message):
        parse_params(raw, ROOT / "params.yaml")


def test_downloaded_dataset_is_a_valid_feature_source():
    raw = read_params_yaml(ROOT / "params.yaml")
    set_dotted(raw, "data.download.datasets", ["esc50"])
    set_dotted(raw, "features.sets", [{"dataset": "esc50", "representation": "logmel_pann"}])
    assert parse_params(raw, ROOT / "params.yaml").features.sets[0].dataset == "esc50"
