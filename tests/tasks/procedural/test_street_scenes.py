"""Tests for the procedural Cityscapes-layout street-scene generator (tasks.procedural.street_scenes)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasks.datasets.cityscapes import ID_TO_COLOR, LABEL_TO_TRAIN, LABELS, find_pairs
from tasks.procedural.street_scenes import CITIES, FRAME, SPLITS, generate_street_scenes, render_scene, writer
from tasks.segmentation.dataset import CityscapesSegmentation
from tasks.segmentation.weights import class_pixel_frequencies

H, W = 128, 256
SMALL = dict(n_train=2, n_val=1, n_test=1, height=64, width=128, seed=0, progress=False)
STEM_RE = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})$")
LABEL_IDS = {lab.id for lab in LABELS if lab.id >= 0}


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 training images (plus 2 val, 1 test) at 128x256."""
    out = tmp_path_factory.mktemp("scenes") / "cityscapes"
    return generate_street_scenes(out, n_train=20, n_val=2, n_test=1, height=H, width=W, seed=7, progress=False)


def _train_ids(root: Path, split: str = "train") -> list[np.ndarray]:
    return [LABEL_TO_TRAIN[_read(lab)] for _, lab in find_pairs(root, split)]


# --------------------------------------------------------------------------- #
# Layout                                                                      #
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_layout_and_file_names_are_cityscapes(twenty: Path) -> None:
    counts = {"train": 20, "val": 2, "test": 1}
    files = {str(p.relative_to(twenty)) for p in twenty.rglob("*") if p.is_file()}
    expected: set[str] = {"README.md"}
    for split in SPLITS:
        pairs = find_pairs(twenty, split)
        assert len(pairs) == counts[split]
        for img, lab in pairs:
            stem = img.name[: -len("_leftImg8bit.png")]
            m = STEM_RE.match(stem)
            assert m, img.name
            city = m.group(1)
            assert city in CITIES[split] and img.parent.name == city and int(m.group(3)) == FRAME
            assert img.parent.parent == twenty / "leftImg8bit" / split
            color = lab.with_name(f"{stem}_gtFine_color.png")
            expected |= {str(p.relative_to(twenty)) for p in (img, lab, color)}
            with Image.open(img) as im:
                assert im.mode == "RGB" and im.size == (W, H)
            with Image.open(lab) as im:
                assert im.mode == "L" and im.size == (W, H)  # single-channel uint8 labelIds
            ids = _read(lab)
            assert ids.dtype == np.uint8 and set(np.unique(ids).tolist()) <= LABEL_IDS
            np.testing.assert_array_equal(_read(color), ID_TO_COLOR[ids])
    assert files == expected  # nothing else is written
    # every split's cities are its own (as Cityscapes keeps cities apart between splits)
    assert len(set(CITIES["train"]) & set(CITIES["val"])) == 0
    names = sorted(p.name for p in (twenty / "leftImg8bit" / "train").rglob("*.png"))
    assert "synthville_000000_000019_leftImg8bit.png" in names and "procburg_000004_000019_leftImg8bit.png" in names
    readme = (twenty / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "seed: `7`" in readme and "street_scenes" in readme


def test_labels_are_label_ids_with_ignore_classes(twenty: Path) -> None:
    seen: set[int] = set()
    for _, lab in find_pairs(twenty, "train"):
        ids = _read(lab)
        seen |= set(np.unique(ids).tolist())
        assert ids[-1, W // 2] == 1  # the ego vehicle's hood at the bottom
        assert not np.any(ids == 255)  # labelIds, not trainIds
    assert {7, 11, 23, 26} <= seen  # road, building, sky, car as labelIds
    assert {1, 4, 6} <= seen  # ego vehicle, static, ground: all mapped to ignore by the loader
    assert {0, 5, 9, 10} & seen  # and some of unlabeled, dynamic, parking, rail track


def test_classes_cover_cityscapes(twenty: Path) -> None:
    maps = _train_ids(twenty)
    present = np.zeros(19, bool)
    for t in maps:
        present |= np.bincount(t.ravel(), minlength=256)[:19] > 0
    assert present.sum() >= 12, [i for i in range(19) if not present[i]]
    ds = CityscapesSegmentation(twenty, "train", size=(64, 128))
    f = class_pixel_frequencies(ds)
    # large classes large, small classes small (Cityscapes: road 37 %, building 23 %, vegetation 16 %, sky 4 %)
    assert f[0] == f.max() and f[0] > 0.15
    for big in (2, 8, 10, 13):  # building, vegetation, sky, car
        assert f[big] > 0.02
    for small in (6, 11, 12, 17, 18):  # traffic light, person, rider, motorcycle, bicycle
        assert f[small] < 0.03


def test_sky_on_top_and_road_at_bottom_centre(twenty: Path) -> None:
    maps = _train_ids(twenty)
    sky_top = sum(float(np.mean(t[: H // 10] == 10)) > 0.05 for t in maps)
    region = [t[int(0.78 * H) : int(0.88 * H), int(0.4 * W) : int(0.6 * W)] for t in maps]
    road_bottom = sum(np.bincount(r.ravel(), minlength=256).argmax() == 0 for r in region)
    sky_bottom = sum(float(np.mean(t[int(0.8 * H) :] == 10)) > 0.0 for t in maps)
    assert sky_top >= 14, sky_top
    assert road_bottom >= 16, road_bottom
    assert sky_bottom == 0


def test_loader_reads_generated_data(twenty: Path) -> None:
    ds = CityscapesSegmentation(twenty, "val", size=(64, 128), augment=True)
    x, y = ds[1]
    assert x.shape == (3, 64, 128) and y.shape == (64, 128)
    assert set(torch.unique(y).tolist()) <= set(range(19)) | {255}
    assert float(x.std()) > 0.1  # an image, not a flat colour


# --------------------------------------------------------------------------- #
# Determinism                                                                 #
# --------------------------------------------------------------------------- #


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate_street_scenes(tmp_path / "a", **SMALL)
    b = generate_street_scenes(tmp_path / "b", **SMALL)
    c = generate_street_scenes(tmp_path / "c", **{**SMALL, "seed": 1})
    ta, tb, tc = _tree_bytes(a), _tree_bytes(b), _tree_bytes(c)
    assert ta == tb
    pngs = [k for k in ta if k.endswith("_leftImg8bit.png")]
    assert len(pngs) == 4 and all(ta[k] != tc[k] for k in pngs)


def test_image_i_depends_only_on_seed_split_and_index(tmp_path: Path) -> None:
    few = generate_street_scenes(tmp_path / "few", **{**SMALL, "n_train": 1, "n_test": 0})
    many = generate_street_scenes(tmp_path / "many", **{**SMALL, "n_train": 5, "n_test": 0})
    rel = "leftImg8bit/train/synthville/synthville_000000_000019_leftImg8bit.png"
    assert (few / rel).read_bytes() == (many / rel).read_bytes()
    # the documented per-image generator: default_rng([seed, split_index, i])
    rgb, ids = render_scene(64, 128, np.random.default_rng([0, 0, 4]), "synthville")
    np.testing.assert_array_equal(
        _read(many / "leftImg8bit/train/synthville/synthville_000001_000019_leftImg8bit.png"), rgb
    )
    np.testing.assert_array_equal(
        _read(many / "gtFine/train/synthville/synthville_000001_000019_gtFine_labelIds.png"), ids
    )
    rgb_val, _ = render_scene(64, 128, np.random.default_rng([0, 1, 0]), "pixelheim")
    np.testing.assert_array_equal(
        _read(many / "leftImg8bit/val/pixelheim/pixelheim_000000_000019_leftImg8bit.png"), rgb_val
    )


def test_a_parking_lot_cut_short_by_the_cross_street_renders(tmp_path: Path) -> None:
    # Training image 4 of seed 9 has a parking lot less than 4 m long (the cross street cuts it): placing
    # a parked car in it used to raise "high - low < 0" from the rng, so the whole dataset failed.
    out = generate_street_scenes(
        tmp_path / "d", n_train=5, n_val=0, n_test=0, height=32, width=64, seed=9, progress=False
    )
    assert len(find_pairs(out, "train")) == 5
    rgb, ids = render_scene(32, 64, np.random.default_rng([9, 0, 4]), None)
    assert rgb.shape == (32, 64, 3) and ids.shape == (32, 64)


def test_render_scene_is_fast_enough() -> None:
    t0 = time.perf_counter()
    for i in range(4):
        rgb, ids = render_scene(256, 512, np.random.default_rng([0, 0, i]))
        assert rgb.shape == (256, 512, 3) and ids.shape == (256, 512)
    # budget: 50 images of 256x512 well under 30 s on one core (about 0.1 s each when measured)
    assert (time.perf_counter() - t0) / 4 < 0.6


# --------------------------------------------------------------------------- #
# Arguments and atomic replacement                                            #
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_train": -1}, "n_train"),
        ({"n_val": 1.5}, "n_val"),
        ({"n_test": "2"}, "n_test"),
        ({"n_train": 0, "n_val": 0, "n_test": 0}, "n_train"),
        ({"height": 16}, "height"),
        ({"width": 0}, "width"),
        ({"height": True}, "height"),
        ({"seed": -1}, "seed"),
    ],
)
def test_arguments_are_validated(tmp_path: Path, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        generate_street_scenes(tmp_path / "x", **{**SMALL, **kwargs})
    assert not any(tmp_path.iterdir())  # validation happens before anything is written


def test_replaces_own_output_atomically(tmp_path: Path) -> None:
    out = tmp_path / "data"
    generate_street_scenes(out, **SMALL)
    (out / "stale.txt").write_text("old", encoding="utf-8")
    (tmp_path / "data.tmp-999999999" / "leftImg8bit").mkdir(parents=True)  # a killed run's leftovers
    generate_street_scenes(out, **{**SMALL, "n_train": 1, "n_test": 0})
    assert not (out / "stale.txt").exists() and not (out / "leftImg8bit" / "test").exists()
    assert len(find_pairs(out, "train")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_refuses_to_wipe_foreign_directory(tmp_path: Path) -> None:
    out = tmp_path / "real_cityscapes"
    out.mkdir()
    (out / "license.txt").write_text("do not delete", encoding="utf-8")
    with pytest.raises(FileExistsError, match="real_cityscapes"):
        generate_street_scenes(out, **SMALL)
    assert (out / "license.txt").read_text(encoding="utf-8") == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real_cityscapes"]
    empty = tmp_path / "empty"
    empty.mkdir()
    generate_street_scenes(empty, **SMALL)  # an empty directory is fine to fill
    assert len(find_pairs(empty, "val")) == 1


def test_failed_generation_keeps_old_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "data"
    generate_street_scenes(out, **SMALL)
    before = _tree_bytes(out)
    calls = {"n": 0}
    real = writer.render_scene

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "render_scene", flaky)
    with pytest.raises(OSError, match="disk full"):
        generate_street_scenes(out, **{**SMALL, "seed": 5})
    assert _tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_street_scenes(tmp_path / "p", **{**SMALL, "n_val": 0, "n_test": 0, "progress": True})
    assert "street_scenes" in capsys.readouterr().err
