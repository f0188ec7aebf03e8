import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import confusion_matrix, jaccard_score
from torch.utils.data import Dataset

import tasks.segmentation.train as train_mod
from soundflow import training_state
from tasks.segmentation.evaluate import evaluate, evaluate_split
from tasks.segmentation.inference import load_checkpoint
from tasks.segmentation.params import SegEvaluateParams
from tasks.segmentation.predict import predict_folder
from tests.helpers.resume import kill_after_first_epoch, sha256
from tests.helpers.segmentation import seg_params, write_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_CLASSES = 19
CLASSES = [f"class{i:02d}" for i in range(N_CLASSES)]
FULL = (48, 96)  # "full-resolution" labels, larger than the 32x64 network input


class TinySegmentation(Dataset):
    """Random images with random label maps (a few ignore pixels), a stand-in for CityscapesSegmentation."""

    classes = CLASSES

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.images = torch.from_numpy(rng.uniform(-1, 1, (n, 3, 32, 64)).astype(np.float32))
        full = rng.integers(0, 6, (n, *FULL))  # a few classes, so IoUs are not all NaN
        full[rng.random(full.shape) < 0.1] = 255
        self.full = full.astype(np.uint8)
        rows, cols = np.arange(32) * FULL[0] // 32, np.arange(64) * FULL[1] // 64  # nearest-neighbour 32x64
        self.labels = torch.from_numpy(full[:, rows][:, :, cols].astype(np.int64))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]

    def read_train_ids(self, i: int) -> np.ndarray:
        return self.full[i]


def _train(tmp: Path, epochs: int = 2, fingerprint: str = "fp", seed: int = 0) -> Path:
    return train_mod.train(
        TinySegmentation(8, seed=1),
        TinySegmentation(4, seed=2),
        np.linspace(1.0, 3.0, N_CLASSES),
        tmp / "model.pt",
        tmp / "history.csv",
        tmp / "summary.json",
        epochs=epochs,
        batch_size=4,
        lr=1e-3,
        weight_decay=1e-4,
        poly_power=0.9,
        num_workers=0,
        device="cpu",
        seed=seed,
        state_dir=tmp / "state",
        fingerprint=fingerprint,
        progress=False,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(tmp_path_factory.mktemp("seg"), epochs=1)
    finally:
        torch.set_num_threads(n)


def test_train_writes_outputs_and_the_best_checkpoint_is_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scores = iter([(0.9, 0.8), (0.5, 0.7)])  # validation gets worse after epoch 1
    monkeypatch.setattr(train_mod, "validate", lambda *a: next(scores))
    ckpt_path = _train(tmp_path, epochs=2)
    ckpt = torch.load(ckpt_path, weights_only=False)
    assert {"model_name", "model_kwargs", "state_dict", "classes", "input_size", "best_epoch", "val_miou"} <= set(ckpt)
    assert ckpt["model_name"] == "erfnet" and ckpt["model_kwargs"] == {"num_classes": N_CLASSES}
    assert ckpt["classes"] == CLASSES and ckpt["input_size"] == [32, 64]
    assert ckpt["best_epoch"] == 1 and ckpt["val_miou"] == 0.9 and ckpt["device"] == "cpu"
    last = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    w = "encoder.0.conv.weight"
    # a reference instead of a copy would have saved the final weights
    assert not torch.equal(ckpt["state_dict"][w], last["model"][w])
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist.columns) == [
        "epoch",
        "train_loss",
        "val_miou",
        "val_pixel_accuracy",
        "lr",
        "seconds",
        "images_per_second",
    ]
    assert hist["epoch"].tolist() == [1, 2] and hist["val_miou"].tolist() == [0.9, 0.5]
    assert hist["lr"].iloc[0] == pytest.approx(1e-3 * 0.5**0.9) and hist["lr"].iloc[1] == 0.0  # poly decay to 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best_epoch"] == 1 and summary["n_train_images"] == 8 and summary["epochs"] == 2


@pytest.mark.slow
def test_training_resumes_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = _train(tmp_path / "uninterrupted")
    real, calls = train_mod.validate, {"n": 0}

    def crash_on_second_epoch(*a: object):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(*a)

    monkeypatch.setattr(train_mod, "validate", crash_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path)
    assert not (tmp_path / "model.pt").exists()
    crashed = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    assert crashed["epoch"] == 0
    capsys.readouterr()
    _train(tmp_path)
    assert "resuming from" in capsys.readouterr().out and calls["n"] == 3  # only epoch 2 was run again
    hist = pd.read_csv(tmp_path / "history.csv")
    assert hist["epoch"].tolist() == [1, 2]
    assert hist["train_loss"].iloc[0] == pytest.approx(crashed["history"][0]["train_loss"])
    # the resumed run ends where an uninterrupted one does (dropout, shuffling and optimiser state restored)
    final = torch.load(tmp_path / "state" / "last.pt", weights_only=False)["model"]
    ref_final = torch.load(tmp_path / "uninterrupted" / "state" / "last.pt", weights_only=False)["model"]
    assert all(torch.allclose(final[k].float(), ref_final[k].float(), atol=1e-5) for k in final)
    assert pd.read_csv(tmp_path / "uninterrupted" / "history.csv")["val_miou"].tolist() == pytest.approx(
        hist["val_miou"].tolist()
    )
    best_epochs = [torch.load(c, weights_only=False)["best_epoch"] for c in (reference, tmp_path / "model.pt")]
    assert best_epochs[0] == best_epochs[1]
    # other inputs or parameters: a fresh start, not a resume
    _train(tmp_path, fingerprint="other")
    assert "training from scratch" in capsys.readouterr().out


def test_evaluate_agrees_with_sklearn_on_the_same_predictions(trained: Path, tmp_path: Path) -> None:
    ds = TinySegmentation(3, seed=5)
    res = evaluate(
        trained,
        ds,
        tmp_path / "m.json",
        tmp_path / "per_class.json",
        tmp_path / "per_class.csv",
        tmp_path / "iou.png",
        batch_size=2,
        device="cpu",
    )
    model, _ = load_checkpoint(trained, "cpu")
    assert not model.training
    t, p = [], []
    with torch.no_grad():
        for i in range(len(ds)):
            logits = F.interpolate(model(ds[i][0][None]), size=FULL, mode="bilinear", align_corners=False)
            p.append(logits.argmax(1)[0].numpy().ravel())
            t.append(ds.read_train_ids(i).astype(np.int64).ravel())
    t, p = np.concatenate(t), np.concatenate(p)
    keep = t != 255
    t, p = t[keep], p[keep]
    cm = confusion_matrix(t, p, labels=range(N_CLASSES))
    assert json.loads((tmp_path / "per_class.json").read_text())["confusion_matrix"] == cm.tolist()
    present = sorted(set(t) | set(p))
    assert res["miou"] == pytest.approx(jaccard_score(t, p, labels=present, average="macro"))
    assert res["pixel_accuracy"] == pytest.approx(np.mean(t == p))
    per_class = jaccard_score(t, p, labels=present, average=None)
    assert [res["iou"][CLASSES[c]] for c in present] == pytest.approx(per_class.tolist())
    assert all(res["iou"][CLASSES[c]] is None for c in range(N_CLASSES) if c not in present)
    table = pd.read_csv(tmp_path / "per_class.csv")
    assert table["class"].tolist() == CLASSES and table["true_pixels"].sum() == keep.sum()
    assert (tmp_path / "iou.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((tmp_path / "per_class.json").read_text())  # the file's own key order
    assert list(doc["iou"]) == doc["classes"] == CLASSES  # class order, as the confusion matrix
    numbers = json.loads((tmp_path / "m.json").read_text())  # the metrics: numbers only, the headlines first
    assert list(numbers)[:2] == ["miou", "pixel_accuracy"] and "iou" not in numbers and "split" not in numbers


def test_evaluate_split_scores_the_held_out_test_split(trained: Path, tmp_path: Path, capsys) -> None:
    root, files = tmp_path / "city", [tmp_path / n for n in ("m.json", "per_class.json", "per_class.csv", "iou.png")]
    write_split(root, "val", [np.full((24, 48), 7, np.uint8)] * 2)  # road (trainId 0): chooses the best epoch
    write_split(root, "test", [np.full((24, 48), 26, np.uint8)] * 3)  # car (trainId 13): held out
    out = evaluate_split(trained, root, seg_params(), *files)
    assert out["split"] == "test" and out["n_images"] == 3
    truth = np.array(out["confusion_matrix"]).sum(1)
    assert truth[13] == truth.sum() == 3 * 24 * 48
    assert "on the test split" in capsys.readouterr().out
    val = seg_params().model_copy(update={"evaluate": SegEvaluateParams(split="val")})
    assert evaluate_split(trained, root, val, *files)["split"] == "val"
    assert "on the val split (it also chose the best epoch: optimistic)" in capsys.readouterr().out
    write_split(root, "unlabelled", [np.zeros((24, 48), np.uint8)])  # as the real Cityscapes test split
    unlabelled = seg_params().model_copy(update={"evaluate": SegEvaluateParams(split="unlabelled")})
    with pytest.raises(ValueError, match=r"split 'unlabelled' of .*city: no labelled pixel in its 1 label maps"):
        evaluate_split(trained, root, unlabelled, *files)


def test_predict_folder_writes_labels_overlays_and_fractions(trained: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    sizes = {"a": (40, 70), "sub/b": (33, 50), "c": (64, 128)}  # (height, width)
    for name, (h, w) in sizes.items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(images / f"{name}.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "skipped.jpg")
    out = tmp_path / "out"
    table = predict_folder(trained, images, out, image_type="png", size=(32, 64), batch_size=2, device="cpu")
    assert len(table) == 3 and list(table.columns) == ["image", *CLASSES]
    assert np.allclose(table[CLASSES].sum(axis=1), 1.0)
    assert pd.read_csv(out / "fractions.csv").shape == table.shape
    for name, (h, w) in sizes.items():
        labels = np.asarray(Image.open(out / f"{name}_labels.png"))
        assert labels.shape == (h, w) and labels.dtype == np.uint8 and labels.max() < N_CLASSES
        with Image.open(out / f"{name}_pred.jpg") as overlay:
            assert overlay.size == (w, h) and overlay.mode == "RGB"
        row = table[table["image"] == str(images / f"{name}.png")].iloc[0]
        assert row[CLASSES].to_numpy(float) == pytest.approx(
            np.bincount(labels.ravel(), minlength=N_CLASSES) / labels.size
        )
    assert not (out / "skipped_labels.png").exists()


# --------------------------------------------------------------------------- #
# Resuming repeats an uninterrupted run; divergence and leftovers             #
# --------------------------------------------------------------------------- #

TIMING = ["seconds", "images_per_second"]  # wall-clock columns, the only ones allowed to differ


@pytest.fixture(scope="module")
def city_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Cityscapes-layout folder (8 train, 4 val images) for the real, augmenting dataset."""
    root = tmp_path_factory.mktemp("city")
    rng = np.random.default_rng(0)
    ids = np.array([7, 8, 11, 21, 23, 26, 0])  # road, sidewalk, building, vegetation, sky, car, unlabelled
    for split, n in (("train", 8), ("val", 4)):
        for k in range(n):
            for kind, suffix, arr in (
                ("leftImg8bit", "leftImg8bit", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)),
                ("gtFine", "gtFine_labelIds", rng.choice(ids, (32, 64)).astype(np.uint8)),
            ):
                out = root / kind / split / "city" / f"city_{k:06d}_000019_{suffix}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(out)
    return root


def _train_city(tmp: Path, root: Path, epochs: int = 3, num_workers: int = 0) -> Path:
    from tasks.segmentation.dataset import CityscapesSegmentation

    return train_mod.train(
        CityscapesSegmentation(root, "train", size=(16, 32), augment=True, seed=0),
        CityscapesSegmentation(root, "val", size=(16, 32)),
        np.ones(N_CLASSES),
        tmp / "model.pt",
        tmp / "history.csv",
        tmp / "summary.json",
        epochs=epochs,
        batch_size=4,
        lr=1e-3,
        weight_decay=1e-4,
        poly_power=0.9,
        num_workers=num_workers,
        device="cpu",
        seed=0,
        state_dir=tmp / "state",
        fingerprint="fp",
        progress=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("num_workers", [0, 1])
def test_resumed_training_is_byte_identical_to_an_uninterrupted_one(
    city_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, num_workers: int
) -> None:
    reference = _train_city(tmp_path / "uninterrupted", city_root, num_workers=num_workers)
    kill_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _train_city(tmp_path / "resumed", city_root, num_workers=num_workers)
    assert torch.load(tmp_path / "resumed" / "state" / "last.pt", weights_only=False)["epoch"] == 0
    resumed = _train_city(tmp_path / "resumed", city_root, num_workers=num_workers)
    assert sha256(resumed) == sha256(reference)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "resumed" / "history.csv").drop(columns=TIMING),
        pd.read_csv(tmp_path / "uninterrupted" / "history.csv").drop(columns=TIMING),
    )
    final, ref_final = (
        torch.load(d / "state" / "last.pt", weights_only=False)["model"]
        for d in (tmp_path / "resumed", tmp_path / "uninterrupted")
    )
    assert all(torch.equal(final[k], ref_final[k]) for k in ref_final)


def test_leftovers_of_a_killed_write_are_removed_on_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state").mkdir()
    leftovers = [tmp_path / "state" / ".last.pt.tmp-4242", tmp_path / ".model.pt.tmp-999999999"]
    for f in leftovers:
        f.write_bytes(b"\0" * 1000)
    _train(tmp_path, epochs=1)
    assert not any(f.exists() for f in leftovers)
    out = capsys.readouterr().out
    assert all(f"removed {f}" in out for f in leftovers)


def test_a_loss_that_becomes_nan_fails_without_writing_outputs_or_a_nan_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = F.cross_entropy, {"n": 0}

    def nan_from_epoch_2(*a: object, **k: object) -> torch.Tensor:
        calls["n"] += 1
        loss = real(*a, **k)
        return loss * float("nan") if calls["n"] > 2 else loss  # 8 images in batches of 4: 2 steps an epoch

    monkeypatch.setattr(F, "cross_entropy", nan_from_epoch_2)
    with pytest.raises(
        training_state.TrainingDiverged,
        match=r"seg_train \(erfnet\): training diverged at epoch 2 \(step 1\).*nan"
        r".*seg\.train\.lr = 0\.001",
    ):
        _train(tmp_path, epochs=3)
    assert not any((tmp_path / name).exists() for name in ("model.pt", "history.csv", "summary.json"))
    state = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    # the resumable state is epoch 1's, with its finite weights, not the broken ones
    assert state["epoch"] == 0 and all(torch.isfinite(v.float()).all() for v in state["model"].values())
