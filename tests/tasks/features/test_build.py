"""The ``features`` stage's task: the list of sets decides which stores exist; inputs found by dataset name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.features.build import FeatureSources, build_feature_sets, remove_unlisted_stores
from tasks.features.params import FeatureParams
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import noise_clips

INDEX = "data/datasets/datasets.json"


def _sources(root: Path) -> FeatureSources:
    return FeatureSources(root, "data/generated/urban_synth", "data/generated/street_scenes", INDEX)


def _downloaded(root: Path, name: str, n: int) -> None:
    """``n`` noise clips as the ``datasets`` stage leaves a corpus: a metadata.csv, listed in the index."""
    folder = root / "data" / "datasets" / name
    table = noise_clips(folder, n)
    table["path"] = [Path(p).relative_to(folder).as_posix() for p in table["path"]]  # as prepare() writes them
    table.to_csv(folder / "metadata.csv", index=False)
    entry = {"name": name, "metadata": f"data/datasets/{name}/metadata.csv"}
    (root / INDEX).write_text(json.dumps({"datasets": [entry]}))


def test_stores_taken_off_the_list_are_removed_and_nothing_else(tmp_path: Path) -> None:
    for folder in ("urban_synth/logmel_pann", "urban_synth/third_octave", "esc50/frames"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "manifest.json").write_text("{}")
    (tmp_path / "urban_synth" / "notes.txt").write_text("not a store")

    removed = remove_unlisted_stores(tmp_path, {"urban_synth/logmel_pann", "street_scenes/frames"})
    assert removed == [tmp_path / "esc50/frames", tmp_path / "urban_synth/third_octave"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*"))
    assert left == ["urban_synth/logmel_pann", "urban_synth/notes.txt"]
    assert (tmp_path / "esc50").is_dir()  # the dataset's folder stays: only stores go
    assert remove_unlisted_stores(tmp_path / "nothing_yet", set()) == []  # the first run: no folder at all


def test_a_downloaded_dataset_is_found_through_the_index(tmp_path: Path) -> None:
    (tmp_path / "data" / "datasets").mkdir(parents=True)
    _downloaded(tmp_path, "noise", 3)
    table = _sources(tmp_path).table("noise")
    assert table["path"].tolist() == [f"data/datasets/noise/audio/c{i}.wav" for i in range(3)]  # relative to root
    with pytest.raises(ValueError, match=r"dataset 'esc50' is not in data/datasets/datasets\.json; run the datasets"):
        _sources(tmp_path).table("esc50")


def test_every_listed_set_gets_a_store_a_summary_and_an_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "datasets").mkdir(parents=True)
    _downloaded(tmp_path, "noise", 5)
    stores = tmp_path / "data" / "features" / "store"
    (stores / "noise" / "logmel_t2a").mkdir(parents=True)  # a set an earlier run listed
    f = FeatureParams(
        sets=[
            {"dataset": "noise", "representation": "logmel_pann"},
            {"dataset": "noise", "representation": "third_octave"},
        ],
        shard_size=2,
        workers=1,
        device="cpu",
        max_bad_fraction=0.0,
        runner="local",
    )
    summary_json, examples_png = tmp_path / "reports" / "summary.json", tmp_path / "reports" / "examples.png"

    assert (
        build_feature_sets(f, tiny_aed_features(), _sources(tmp_path), stores, summary_json, examples_png)
        == examples_png
    )
    assert sorted(p.relative_to(stores).as_posix() for p in stores.glob("*/*")) == [
        "noise/logmel_pann",
        "noise/third_octave",
    ]
    summary = json.loads(summary_json.read_text())
    assert list(summary) == ["noise/logmel_pann", "noise/third_octave"]  # in the order of the list
    assert {k: (v["n_clips"], v["n_shards"], v["n_skipped"]) for k, v in summary.items()} == {
        "noise/logmel_pann": (5, 3, 0),
        "noise/third_octave": (5, 3, 0),
    }
    assert examples_png.stat().st_size > 1000
    out = capsys.readouterr().out
    assert "features: noise/logmel_pann: 5 input(s)" in out and "features: noise/third_octave: 5 input(s)" in out
