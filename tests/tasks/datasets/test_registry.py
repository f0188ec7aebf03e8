"""Tests for tasks.datasets.registry: metadata of every corpus, and fetch/prepare against a local server."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from tasks.datasets import registry
from tasks.datasets.download import ChecksumError
from tests.helpers.corpus_server import (
    PASSWORD,
    TOKEN,
    USER,
    Server,
    esc50_zip,
    md5_hex,
    serve_cityscapes,
    serve_corpus,
    us8k_tgz,
    wav_bytes,
    zip_bytes,
)

# --------------------------------------------------------------------------- #


def test_every_dataset_is_described() -> None:
    names = registry.available()
    assert {
        "esc50",
        "urbansound8k",
        "sonyc_ust",
        "tau2020_mobile",
        "cityscapes",
        "ave",
        "soundnet_flickr",
        "audioset_instruments",
    } <= set(names)
    folders = set()
    for name in names:
        info = registry.get(name)
        assert info.name == name and info.description and info.licence and info.citation
        assert info.homepage.startswith("https://")
        assert info.files and callable(info.prepare)
        assert info.login in (None, "cityscapes")
        assert info.folder and "/" not in info.folder and info.folder not in folders
        folders.add(info.folder)
        filenames = [f.filename for f in info.files]
        assert len(set(filenames)) == len(filenames)
        for f in info.files:
            assert f.url.startswith("https://"), f.url
            assert f.md5 is None or (len(f.md5) == 32 and int(f.md5, 16) >= 0)
            assert f.size is None or f.size > 0
    assert all(f.md5 for f in registry.get("tau2020_mobile").files)
    assert [f.md5_url for f in registry.get("cityscapes").files] == [
        "https://www.cityscapes-dataset.com/md5-sum/?packageID=1",
        "https://www.cityscapes-dataset.com/md5-sum/?packageID=3",
    ]
    assert [f.expected_kind for f in registry.get("urbansound8k").files] == ["tar"]
    assert len(registry.get("tau2020_mobile").files) == 18
    with pytest.raises(KeyError, match="unknown dataset"):
        registry.get("nope")


def test_remote_file_kind_is_checked() -> None:
    assert registry.RemoteFile("https://x.org/a.csv", "a.csv", None, None).expected_kind == "text"
    assert registry.RemoteFile("https://x.org/a", "a.dat", None, None, kind="zip").expected_kind == "zip"
    with pytest.raises(ValueError, match="a.dat: unknown kind 'rar'"):
        registry.RemoteFile("https://x.org/a", "a.dat", None, None, kind="rar")


def test_rebase_keeps_path_and_query() -> None:
    url = "https://www.cityscapes-dataset.com/file-handling/?packageID=3"
    assert registry.rebase(url, "http://127.0.0.1:9") == "http://127.0.0.1:9/file-handling/?packageID=3"
    assert registry.rebase(url, None) == url


def test_fetch_and_prepare_esc50(server: Server, tmp_path: Path, monkeypatch) -> None:
    serve_corpus(server, "esc50", [esc50_zip()], monkeypatch)
    assert not registry.is_present("esc50", tmp_path)
    folder = registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    assert folder == tmp_path / "esc50"
    assert (folder / "downloads" / "ESC-50-master.zip").is_file()
    assert registry.is_present("esc50", tmp_path)

    out = registry.prepare("esc50", tmp_path)
    assert out == folder / "metadata.csv"
    table = pd.read_csv(out)
    assert list(table.columns) == ["path", "label", "class", "fold", "source", "duration"]
    assert len(table) == 3
    assert table["class"].tolist() == ["dog", "rooster", "dog"]
    assert table["label"].tolist() == [0, 1, 0]
    assert table["fold"].tolist() == [1, 2, 3]
    assert (table["duration"] == 5.0).all()
    assert all(not Path(p).is_absolute() and (folder / p).is_file() for p in table["path"])  # movable

    # a rerun is a no-op without network
    n = len(server.requests)
    registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    assert len(server.requests) == n


def test_fetch_and_prepare_urbansound8k(server: Server, tmp_path: Path, monkeypatch) -> None:
    serve_corpus(server, "urbansound8k", [us8k_tgz()], monkeypatch)
    folder = registry.fetch("urbansound8k", tmp_path, base_url=server.base, progress=False)
    table = pd.read_csv(registry.prepare("urbansound8k", tmp_path))
    assert table["class"].tolist() == ["dog_bark", "car_horn"]
    assert table["fold"].tolist() == [1, 2]
    assert table["label"].tolist() == [1, 0]  # indexed in classID order: car_horn(1) before dog_bark(3)
    assert table["duration"].tolist() == pytest.approx([4.0, 0.75])
    assert all(not Path(p).is_absolute() and (folder / p).is_file() for p in table["path"])  # movable


def test_wrong_md5_fails_and_extracts_nothing(server: Server, tmp_path: Path, monkeypatch) -> None:
    serve_corpus(server, "esc50", [esc50_zip()], monkeypatch, md5s=["0" * 32])
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    folder = tmp_path / "esc50"
    leftovers = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert leftovers == []
    assert not registry.is_present("esc50", tmp_path)
    assert not (folder / "ESC-50-master").exists()


def test_cityscapes_logs_in_and_never_leaks_the_password(
    server: Server, tmp_path: Path, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    png = b"\x89PNG fake"
    gt = zip_bytes(
        {
            "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png": png,
            "gtFine/val/bonn/bonn_000001_000019_gtFine_labelIds.png": png,
        }
    )
    img = zip_bytes(
        {
            "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png": png,
            "leftImg8bit/val/bonn/bonn_000001_000019_leftImg8bit.png": png,
        }
    )
    serve_cityscapes(server, [gt, img], [md5_hex(gt), md5_hex(img)])
    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", PASSWORD)

    caplog.set_level(logging.DEBUG)
    registry.fetch("cityscapes", tmp_path, base_url=server.base, progress=False)
    assert ("POST", "/login/", None) in server.requests
    gets = [r for r in server.requests if r[0] == "GET"]
    assert [p for _, p, _ in gets] == [
        "/md5-sum/?packageID=1",
        "/file-handling/?packageID=1",
        "/md5-sum/?packageID=3",
        "/file-handling/?packageID=3",
    ]
    assert all(f"PHPSESSID={TOKEN}" in (c or "") for _, _, c in gets)

    table = pd.read_csv(registry.prepare("cityscapes", tmp_path))
    assert table["split"].tolist() == ["train", "val"]
    assert table["city"].tolist() == ["aachen", "bonn"]
    folder = tmp_path / "cityscapes"
    assert all(p.endswith("_gtFine_labelIds.png") and (folder / p).is_file() for p in table["label_path"])
    assert table["duration"].isna().all()

    for rec in caplog.records:
        assert PASSWORD not in rec.getMessage() and PASSWORD not in str(rec.args)
    assert PASSWORD not in caplog.text
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert PASSWORD.encode() not in p.read_bytes(), p


def test_cityscapes_wrong_password_is_refused(server: Server, tmp_path: Path, monkeypatch) -> None:
    from tasks.datasets.download import LoginError

    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "wrong-" + PASSWORD)
    with pytest.raises(LoginError) as e:
        registry.fetch("cityscapes", tmp_path, base_url=server.base, progress=False)
    assert PASSWORD not in str(e.value)
    assert not (tmp_path / "cityscapes" / "downloads").exists()


def test_prepare_of_the_other_corpora_on_tiny_layouts(tmp_path: Path) -> None:
    # SONYC-UST: ground truth where present, else union of volunteers
    root = tmp_path / "sonyc"
    (root / "audio-0" / "audio").mkdir(parents=True)
    (root / "audio-0" / "audio" / "a.wav").write_bytes(wav_bytes())
    (root / "annotations.csv").write_text(
        "split,sensor_id,audio_filename,annotator_id,1_engine_presence,8_dog_presence,1-1_small-sounding-engine_presence\n"
        "train,s1,a.wav,5,1,0,1\ntrain,s1,a.wav,0,0,1,0\nvalidate,s2,b.wav,7,1,0,1\nvalidate,s2,b.wav,8,0,0,0\n"
    )
    t = registry.get("sonyc_ust").prepare(root)
    assert t["labels"].tolist() == ["dog", "engine"] and t["verified"].tolist() == [True, False]
    assert t["split"].tolist() == ["train", "validate"] and Path(t["path"][0]).is_file()

    # TAU 2020 mobile
    root = tmp_path / "tau"
    name = "TAU-urban-acoustic-scenes-2020-mobile-development"
    meta = root / f"{name}.meta" / name
    (meta / "evaluation_setup").mkdir(parents=True)
    (meta / "meta.csv").write_text(
        "filename\tscene_label\tidentifier\tsource_label\n"
        "audio/airport-lisbon-1000-40000-a.wav\tairport\tlisbon-1000\ta\n"
        "audio/park-paris-3-100-s2.wav\tpark\tparis-3\ts2\n"
    )
    (meta / "evaluation_setup" / "fold1_train.csv").write_text(
        "filename\tscene_label\naudio/airport-lisbon-1000-40000-a.wav\tairport\n"
    )
    (root / f"{name}.audio.1" / name / "audio").mkdir(parents=True)
    (root / f"{name}.audio.1" / name / "audio" / "airport-lisbon-1000-40000-a.wav").write_bytes(wav_bytes())
    t = registry.get("tau2020_mobile").prepare(root)
    assert t["label"].tolist() == ["airport", "park"] and t["split"].tolist() == ["train", "unused"]
    assert t["city"].tolist() == ["lisbon", "paris"] and t["device"].tolist() == ["a", "s2"]
    assert Path(t["path"][0]).is_file()

    # AVE
    root = tmp_path / "ave" / "AVE_Dataset" / "AVE_Dataset"
    root.mkdir(parents=True)
    header = "Category&VideoID&Quality&StartTime&EndTime\n"
    (root / "Annotations.txt").write_text(header + "Church bell&vid1&good&0&10\nDog&vid2&good&2&5\n")
    (root / "trainSet.txt").write_text(header + "Church bell&vid1&good&0&10\n")
    (root / "valSet.txt").write_text(header)
    (root / "testSet.txt").write_text(header + "Dog&vid2&good&2&5\n")
    t = registry.get("ave").prepare(tmp_path / "ave")
    assert t["label"].tolist() == ["Church bell", "Dog"] and t["split"].tolist() == ["train", "test"]
    assert t["start"].tolist() == [0.0, 2.0] and t["path"][1].endswith("AVE/vid2.mp4")

    # AudioSet instruments
    root = tmp_path / "as"
    root.mkdir()
    (root / "ontology.json").write_text(
        '[{"id": "/m/04szw", "name": "Musical instrument", "child_ids": ["/m/guitar"]},'
        ' {"id": "/m/guitar", "name": "Guitar", "child_ids": []}, {"id": "/m/dog", "name": "Dog", "child_ids": []}]'
    )
    (root / "class_labels_indices.csv").write_text("index,mid,display_name\n0,/m/guitar,Guitar\n1,/m/dog,Dog\n")
    rows = (
        "# a\n# b\n# YTID, start_seconds, end_seconds, positive_labels\n"
        'abc, 30.000, 40.000, "/m/dog,/m/guitar"\nxyz, 0.000, 10.000, "/m/dog"\n'
    )
    for f in ("eval_segments.csv", "balanced_train_segments.csv", "unbalanced_train_segments.csv"):
        (root / f).write_text(rows)
    t = registry.get("audioset_instruments").prepare(root)
    assert len(t) == 3 and set(t["youtube_id"]) == {"abc"} and (t["labels"] == "Guitar").all()
    assert (t["duration"] == 10.0).all() and set(t["split"]) == {"eval", "balanced_train", "unbalanced_train"}

    # Flickr-SoundNet test set
    root = tmp_path / "flickr"
    (root / "Data").mkdir(parents=True)
    (root / "Annotations").mkdir()
    (root / "test_list.txt").write_text("1001\n1002\n")
    (root / "Data" / "1001.jpg").write_bytes(b"jpg")
    (root / "Data" / "1001.wav").write_bytes(wav_bytes())
    (root / "Annotations" / "1001.xml").write_text("<annotation/>")
    t = registry.get("soundnet_flickr").prepare(root)
    assert t["label_path"][0].endswith("1001.xml") and pd.isna(t["path"][1]) and t["duration"].isna().all()
