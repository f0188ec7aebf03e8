"""Pairs -> audiovisual feature stores: the spec's layout, resume, bad inputs, the Flickr annotation format."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tasks.datasets.soundnet_flickr import AnnotationError, Box, read_flickr_xml, write_flickr_xml
from tasks.features.audiovisual import AudioVisualSplit
from tasks.localisation.build import build_split_stores, representation
from tasks.localisation.pairs import flickr_test_store
from tasks.localisation.params import LocDataParams
from tasks.procedural.av_scenes.writer import SceneSetup, generate_av_scenes
from tests.helpers.audio import write_wav

DATA = LocDataParams(frame_side=32, clip_seconds=0.5, max_boxes=8, shard_size=3, max_bad_fraction=0.5)
CATS = ("car_horn", "dog_bark", "siren")
SPEC = SceneSetup(CATS, 64, 0.5, 22050, 0.5, (0, 1), (0.25, 0.4), 3, 0.03, (6.0, 12.0))

# SoundNet-Flickr's XML as distributed: per annotator an object whose bbox starts with a field the
# LVS / EZ-VSL readers skip, then xmin, ymin, xmax, ymax in the 256 x 256 frame
FLICKR_XML = """<?xml version="1.0"?>
<annotation><filename>1001.jpg</filename>
<object><bbox><name>1</name><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax><ymax>120</ymax></bbox></object>
<object><bbox><name>2</name><xmin>12</xmin><ymin>18</ymin><xmax>100</xmax><ymax>128</ymax></bbox></object>
<object><bbox><name>3</name><xmin>128</xmin><ymin>128</ymin><xmax>256</xmax><ymax>256</ymax></bbox></object>
</annotation>"""


def test_flickr_parser_reads_each_annotators_boxes(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(FLICKR_XML)
    boxes = read_flickr_xml(tmp_path / "a.xml")
    assert [(b.annotator, b.x0, b.y1) for b in boxes] == [(1, 10, 120), (2, 12, 128), (3, 128, 256)]
    write_flickr_xml(tmp_path / "b.xml", [Box(0, 1, 2, 30, 40, category=2)])
    assert read_flickr_xml(tmp_path / "b.xml") == [Box(0, 1, 2, 30, 40, 2)]
    (tmp_path / "bad.xml").write_text("<annotation><object><bbox><n>1</n><xmin>x</xmin></bbox></object>")
    with pytest.raises(AnnotationError, match="bad.xml: not valid XML"):
        read_flickr_xml(tmp_path / "bad.xml")


def test_scenes_to_split_stores_in_the_spec_layout(tmp_path: Path) -> None:
    generate_av_scenes(tmp_path / "scenes", SPEC, {"train": 4, "val": 2, "test": 3}, seed=1)
    summary = build_split_stores(tmp_path / "scenes", tmp_path / "h5", tmp_path / "s.json", DATA, list(CATS), workers=1)
    assert summary["splits"] == {s: {"pairs": n, "skipped": 0} for s, n in (("train", 4), ("val", 2), ("test", 3))}
    with h5py.File(tmp_path / "h5/train/shard-00000.h5") as h5:
        assert h5["video"].shape == (3, 32, 32, 3) and h5["video"].dtype == np.uint8
        assert h5["audio"].shape == (3, 26, 64) and h5["audio"].dtype == np.float32
        assert h5["audio_label"].shape == h5["visual_label"].shape == (3, 3)
        assert '"n_mels": 64' in h5.attrs["params"] and '"frame_side": 32' in h5.attrs["params"]
    split = AudioVisualSplit(tmp_path / "h5/train", representation(DATA, 3))
    assert len(split) == 4 and split.column("video").shape == (4, 32, 32, 3)  # two shards, one dataset
    sample = split[3]
    labels = sample["audio_label"]
    assert 1 <= labels.sum() <= 2 and (sample["visual_label"] >= labels).all()  # sounding objects are visible
    real = sample["box_class"] >= 0
    assert real.sum() == 3 * labels.sum() and set(sample["box_class"][real]) == set(np.flatnonzero(labels))
    assert (sample["boxes"][real] <= 32).all()  # scaled from the 64-pixel scene to the 32-pixel frame
    split.close()
    again = build_split_stores(tmp_path / "scenes", tmp_path / "h5", tmp_path / "s.json", DATA, list(CATS))
    assert again == summary


def test_flickr_pairs_prepare_into_a_store_with_boxes_and_bad_pairs_skipped(tmp_path: Path) -> None:
    root = tmp_path / "soundnet_flickr"
    (root / "Data").mkdir(parents=True)
    (root / "Annotations").mkdir()
    (root / "flickr_test.csv").write_text("1001,202\n1002,0\n1003,5\n")
    for i in ("1001", "1002", "1003"):
        Image.fromarray(np.full((300, 400, 3), 90, np.uint8)).save(root / "Data" / f"{i}.jpg")
        write_wav(root / "Data" / f"{i}.wav", 0.3, sr=22050)
        (root / "Annotations" / f"{i}.xml").write_text(FLICKR_XML)
    (root / "Annotations" / "1003.xml").write_text("")  # a corrupt annotation: skipped and counted
    store = flickr_test_store(root, tmp_path / "pairs", tmp_path / "h5", DATA, n_classes=3)
    split = AudioVisualSplit(store, representation(DATA, 3))
    assert len(split) == 2 and split.store.manifest["n_skipped"] == 1
    boxes = split[0]["boxes"]
    assert np.allclose(boxes[0], [10 / 8, 20 / 8, 110 / 8, 120 / 8])  # 256-pixel frame -> 32
    assert (split[0]["box_annotator"][:3] == [1, 2, 3]).all()
