"""Real UrbanSound8K folds 1 and 2 (../shared/data/urbansound8k), in seconds: the registry's loader gives each
slice its Freesound recording, the validation splits keep every recording on one side, and configs/real's set
pointed at the folder passes ``soundflow params``' checks. The trainings are benchmarks/real/us8k_*.py."""

from __future__ import annotations

import numpy as np
import pytest

from soundflow.pipeline.config import overridden, parse_params, read_overrides, read_params_yaml
from soundflow.pipeline.params_check import check_data_locations
from tasks.datasets import registry
from tasks.datasets.splits import grouped_validation_mask
from tasks.text_to_audio.folds import rotation, validation_rows
from tests.helpers.paths import ROOT, URBANSOUND8K

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not (URBANSOUND8K / "metadata" / "UrbanSound8K.csv").is_file(), reason=f"{URBANSOUND8K} not present"
    ),
]


@pytest.fixture(scope="module")
def table():
    return registry.get("urbansound8k").prepare(URBANSOUND8K)  # what the datasets stage indexes


def test_the_registry_loader_reads_both_folds_with_their_recordings(table) -> None:
    assert len(table) == 1584 and table.groupby("fold").size().to_dict() == {1: 873, 2: 711}
    names = table.drop_duplicates("label").sort_values("label")["class"].tolist()
    assert len(names) == 10 and names[0] == "air_conditioner" and names[9] == "street_music"  # by classID
    fs_id = table["path"].map(lambda p: p.rsplit("/", 1)[-1].split("-")[0])  # <fsID>-<classID>-<occ>-<slice>
    assert (table["source"] == fs_id).all()
    assert table.groupby("source")["fold"].nunique().max() == 1  # UrbanSound8K keeps a recording in one fold
    assert table.groupby("fold")["source"].nunique().to_dict() == {1: 134, 2: 109}


def test_the_aed_split_of_fold_1_keeps_each_fsid_on_one_side(table) -> None:
    train = table[table["fold"] == 1]
    val = grouped_validation_mask(train["label"].to_numpy(), train["source"].to_numpy(), 0.2, np.random.default_rng(0))
    src = train["source"].to_numpy()
    assert set(src[val]).isdisjoint(src[~val])
    share = train[val].groupby("label").size() / train.groupby("label").size()
    assert len(share) == 10 and share.between(0.01, 0.5).all()  # whole recordings: near 0.2, never all
    assert 0.1 < val.mean() < 0.3


def test_the_t2a_two_fold_protocol_validates_on_recordings_of_the_training_fold(table) -> None:
    fold, label, source = (table[c].to_numpy() for c in ("fold", "label", "source"))
    for test in (1, 2):
        rot = rotation(test, sorted(set(fold.tolist())), "by_source")
        val = validation_rows(rot, fold, label, source, 0.2, seed=0)
        train = np.setdiff1d(np.flatnonzero(fold == 3 - test), val)
        assert set(fold[val]) == {3 - test} and set(source[val]).isdisjoint(source[train])


def test_the_real_set_pointed_at_this_folder_passes_the_params_checks() -> None:
    folder = str(URBANSOUND8K)
    raw = overridden(
        read_params_yaml(ROOT / "params.yaml"), read_overrides(ROOT / "configs/real/urbansound8k.yaml"), ROOT
    )
    extra = {
        "data.download.datasets": [],
        "aed.data.root": folder,
        "aed.data.test_folds": [2],
        "text_to_audio.real.root": folder,
        "text_to_audio.experiment.test_folds": [1, 2],
        "text_to_audio.experiment.validation": "by_source",
    }
    params = parse_params(overridden(raw, extra, ROOT), ROOT / "params.yaml")
    check_data_locations(params, ROOT)  # both roots, in UrbanSound8K's layout, as `soundflow params` checks them
