"""Tests for the segmentation workflow's dataset and class statistics (tasks.segmentation.dataset, .weights)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.datasets.cityscapes import TRAIN_CLASSES, find_pairs
from tasks.segmentation.dataset import CityscapesSegmentation
from tasks.segmentation.weights import class_pixel_frequencies, enet_class_weights
from tests.helpers.segmentation import write_pair

VALID_TRAIN = set(range(19)) | {255}


def _asymmetric_pair(h: int = 20, w: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Bright left half labelled road (7 -> 0), dark right half labelled car (26 -> 13)."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 2] = (230, 220, 210)
    rgb[:, w // 2 :] = (20, 30, 40)
    ids = np.full((h, w), 26, np.uint8)
    ids[:, : w // 2] = 7
    return rgb, ids


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    rgb, ids = _asymmetric_pair()
    write_pair(tmp_path, "train", "aachen", "aachen_000000_000019", rgb, ids)
    rng = np.random.default_rng(0)
    ids2 = rng.choice(np.array([0, 1, 7, 8, 11, 21, 23, 24, 26, 33, 9, 4]), size=(20, 40)).astype(np.uint8)
    write_pair(tmp_path, "train", "bremen", "bremen_000001_000019", rng.integers(0, 256, (20, 40, 3)), ids2)
    return tmp_path


# --------------------------------------------------------------------------- #
# Dataset                                                                     #
# --------------------------------------------------------------------------- #


def test_dataset_shapes_dtypes_and_ranges(tiny_root: Path) -> None:
    ds = CityscapesSegmentation(tiny_root, "train", size=(16, 24))
    assert len(ds) == 2 and ds.paths == find_pairs(tiny_root, "train")
    assert ds.classes == TRAIN_CLASSES
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (3, 16, 24) and x.dtype == torch.float32
        assert y.shape == (16, 24) and y.dtype == torch.int64
        assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
        assert set(torch.unique(y).tolist()) <= VALID_TRAIN
    x, y = ds[0]
    # [-1, 1] scaling: 230 -> 230 / 127.5 - 1 in the bright half
    assert float(x[0, :, 0].mean()) == pytest.approx(230 / 127.5 - 1, abs=1e-5)
    assert float(x[2, :, -1].mean()) == pytest.approx(40 / 127.5 - 1, abs=1e-5)
    assert y[:, 0].tolist() == [0] * 16 and y[:, -1].tolist() == [13] * 16
    full = ds.read_train_ids(1)
    assert full.shape == (20, 40) and full.dtype == np.uint8
    assert set(np.unique(full).tolist()) <= VALID_TRAIN and 255 in full and 18 in full


def test_label_resizing_is_nearest_neighbour(tiny_root: Path) -> None:
    for size in ((13, 27), (31, 61), (7, 9)):
        ds = CityscapesSegmentation(tiny_root, "train", size=size)
        for i in range(len(ds)):
            y = ds[i][1]
            allowed = set(np.unique(ds.read_train_ids(i)).tolist())
            # bilinear or area resizing would invent ids (e.g. 6 between road 0 and car 13)
            assert set(torch.unique(y).tolist()) <= allowed, size


def test_augmentation_flips_image_and_label_together(tiny_root: Path) -> None:
    ds = CityscapesSegmentation(tiny_root, "train", size=(10, 20), augment=True, seed=3)
    flipped = kept = 0
    for _ in range(24):
        x, y = ds[0]
        left_is_road = bool((y[:, 0] == 0).all())
        right_is_road = bool((y[:, -1] == 0).all())
        assert left_is_road != right_is_road
        bright_left = float(x[:, :, :10].mean()) > float(x[:, :, 10:].mean())
        assert bright_left == left_is_road  # the bright half is always labelled road
        flipped += right_is_road
        kept += left_is_road
        # brightness +-0.08 and contrast 0.95..1.05 (in [0, 1] units) keep the halves near their levels
        bright = x[:, :, :10] if left_is_road else x[:, :, 10:]
        assert abs(float(bright.mean()) - ((230 + 220 + 210) / 3 / 127.5 - 1)) < 2 * (0.08 + 0.05 * 0.6) + 0.01
    assert flipped >= 3 and kept >= 3


def test_augmentation_changes_photometry_and_is_deterministic(tiny_root: Path) -> None:
    plain = CityscapesSegmentation(tiny_root, "train", size=(10, 20))[1][0]
    a = CityscapesSegmentation(tiny_root, "train", size=(10, 20), augment=True, seed=5)
    b = CityscapesSegmentation(tiny_root, "train", size=(10, 20), augment=True, seed=5)
    c = CityscapesSegmentation(tiny_root, "train", size=(10, 20), augment=True, seed=6)
    seq_a = [a[i % 2] for i in range(8)]
    seq_b = [b[i % 2] for i in range(8)]
    seq_c = [c[i % 2] for i in range(8)]
    for (xa, ya), (xb, yb) in zip(seq_a, seq_b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert any(not torch.equal(xa, xc) for (xa, _), (xc, _) in zip(seq_a, seq_c))
    # repeated draws of one item differ (a new draw per epoch), and differ from the plain image
    draws = [x for k, (x, _) in enumerate(seq_a) if k % 2 == 1]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])
    assert all(not torch.allclose(d, plain) and not torch.allclose(d, plain.flip(-1)) for d in draws)


def test_dataset_rejects_bad_arguments_and_mismatched_label(tiny_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        CityscapesSegmentation(tiny_root, "train", size=(0, 10))
    with pytest.raises(ValueError, match="seed"):
        CityscapesSegmentation(tiny_root, "train", seed=-1)
    other = tmp_path / "mismatch"
    write_pair(other, "train", "x", "x_000000_000019", np.zeros((8, 8, 3)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="x_000000_000019_gtFine_labelIds.png"):
        CityscapesSegmentation(other, "train", size=(8, 8))[0]


# --------------------------------------------------------------------------- #
# Class statistics                                                            #
# --------------------------------------------------------------------------- #


def test_enet_class_weights_by_hand() -> None:
    w = enet_class_weights(np.array([0.5, 0.3, 0.2, 0.0]))
    assert w == pytest.approx([1 / math.log(1.6), 1 / math.log(1.4), 1 / math.log(1.3), 1 / math.log(1.1)])
    assert w[0] == pytest.approx(2.12764, abs=1e-4) and w[3] == pytest.approx(10.49205, abs=1e-4)
    assert enet_class_weights([0.25], c=1.02)[0] == pytest.approx(1 / math.log(1.27))
    assert np.all(np.diff(w) > 0)  # rarer classes weigh more
    with pytest.raises(ValueError, match="c must be"):
        enet_class_weights([0.5, 0.5], c=1.0)
    with pytest.raises(ValueError, match="freq"):
        enet_class_weights([[0.5, 0.5]])


class _FakeLabels:
    def __init__(self, maps: list[np.ndarray]) -> None:
        self.maps = maps

    def __len__(self) -> int:
        return len(self.maps)

    def read_train_ids(self, i: int) -> np.ndarray:
        return self.maps[i]


def test_class_pixel_frequencies_ignore_255() -> None:
    ds = _FakeLabels([np.array([[0, 0, 255], [255, 255, 255]], np.uint8), np.array([[1, 18, 255]], np.uint8)])
    f = class_pixel_frequencies(ds)
    assert f.shape == (19,)
    assert f.sum() == pytest.approx(1.0)
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(0.25) and f[18] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="labelled"):
        class_pixel_frequencies(_FakeLabels([np.full((2, 2), 255, np.uint8)]))


def test_class_pixel_frequencies_on_disk(tiny_root: Path) -> None:
    ds = CityscapesSegmentation(tiny_root, "train", size=(8, 8))
    f = class_pixel_frequencies(ds)
    counts = np.zeros(19)
    for i in range(len(ds)):
        t = ds.read_train_ids(i)
        counts += np.bincount(t[t != 255], minlength=19)[:19]
    np.testing.assert_allclose(f, counts / counts.sum())
    assert f.sum() == pytest.approx(1.0)
