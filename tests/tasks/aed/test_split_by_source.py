"""The AED validation split keeps every source recording (UrbanSound8K's fsID) on one side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.aed.features import extract_chunks, read_index
from tasks.aed.params import AedDataParams
from tasks.aed.train import split_files
from tasks.datasets.labelled_audio import read_labelled_audio
from tests.helpers.aed import tiny_aed_features
from tests.helpers.audio import write_wav

CLASSES = ("dog_bark", "siren", "drilling")
CORRUPT = "1000-0-0-0.wav"  # first in path order: every later file's stored row differs from its position


def _dataset(root: Path) -> Path:
    """UrbanSound8K layout: per class and fold, four recordings of 1-3 slices each; one unreadable file."""
    rows = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for fold in (1, 2):
        for cid, name in enumerate(CLASSES):
            for r in range(4):
                fs_id = 1000 + 100 * fold + 10 * cid + r
                for s in range(1 + r % 3):
                    file = f"{fs_id}-{cid}-0-{s}.wav"
                    write_wav(root / "audio" / f"fold{fold}" / file, 1.2, freq=300.0 + 200 * cid + 17 * s)
                    rows.append(f"{file},{fs_id},0,1.2,1,{fold},{cid},{name}")
    (root / "audio" / "fold1" / CORRUPT).write_bytes(b"not audio")
    rows.append(f"{CORRUPT},1000,0,1.2,1,1,0,{CLASSES[0]}")
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "UrbanSound8K.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("aed_source")
    table = read_labelled_audio(_dataset(d / "ds"), "urbansound8k")
    return extract_chunks(
        table, d / "chunks", d / "f.json", d / "s.csv", tiny_aed_features(), 0.5, progress=False
    ).store


def test_the_store_records_each_file_s_recording_past_skipped_files(chunks: Path) -> None:
    index = read_index(chunks)
    assert not any(p.endswith(CORRUPT) for p in index.file_path)  # skipped, so the rows shifted
    expected = [Path(p).name.split("-")[0] for p in index.file_path]  # fsID is the name's first field
    assert index.file_source.tolist() == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_recording_is_on_both_sides_of_the_validation_split(chunks: Path, seed: int) -> None:
    index = read_index(chunks)
    data = AedDataParams(root="unused", format="urbansound8k", test_folds=[2], val_fraction=0.3, max_bad_fraction=0)
    split = split_files(index, data, seed)
    assert (index.file_fold[split["test"]] == 2).all() and (index.file_fold[split["train"]] == 1).all()
    train, val = set(index.file_source[split["train"]]), set(index.file_source[split["val"]])
    assert train.isdisjoint(val)
    for label in range(len(CLASSES)):  # each class both validates and trains
        assert (index.file_label[split["val"]] == label).any() and (index.file_label[split["train"]] == label).any()
    ids = np.concatenate(list(split.values()))
    assert sorted(ids.tolist()) == list(range(len(index.file_label)))
