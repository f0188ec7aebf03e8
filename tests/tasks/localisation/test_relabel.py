"""The pseudo-label stage's task: the AED classifier labels the training pairs, the store trains on its labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

import models
from soundflow.checkpoints import save_checkpoint
from tasks.features.audiovisual import AudioVisualSplit
from tasks.localisation.build import build_split_stores, representation
from tasks.localisation.params import LocDataParams, LocPseudoLabelParams
from tasks.localisation.relabel import pseudo_label_pairs
from tasks.procedural.av_scenes.writer import SceneSetup, generate_av_scenes
from tasks.procedural.urban_sounds import CLASSES
from tests.helpers.aed import TINY
from tests.helpers.paths import ROOT

CATS = ["car_horn", "dog_bark", "siren", "jackhammer", "street_music"]
SPEC = SceneSetup(tuple(CATS), 64, 0.5, 22050, 0.5, (0, 1), (0.25, 0.4), 3, 0.03, (6.0, 12.0))
FEATURES = {**{k: v for k, v in TINY.items() if k != "workers"}, "n_freq_bins": 64, "n_frames": 64}
DATA = dict(frame_side=32, clip_seconds=0.5, max_boxes=8, shard_size=8, max_bad_fraction=0.0)


def _drilling_classifier(path: Path) -> None:
    """An AED checkpoint whose every prediction is 'drilling' with probability about 0.9 (mapped: jackhammer)."""
    kwargs = {"n_classes": len(CLASSES), "input_shape": [64, 64], "width": 2}
    net = models.get("aed_cnn")(**kwargs, dense=8, dropout=0.0)
    last = net.classifier[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.full((len(CLASSES),), -2.0))
        last.bias[CLASSES.index("drilling")] = 2.0
    ckpt = {
        "model_name": "aed_cnn",
        "model_kwargs": {**kwargs, "dense": 8, "dropout": 0.0},
        "state_dict": net.state_dict(),
        "classes": list(CLASSES),
        "feature_params": FEATURES,
    }
    save_checkpoint(path, ckpt)


def test_pseudo_labelled_records_feed_the_training_stores_and_the_test_split_keeps_its_truth(
    tmp_path: Path, one_torch_thread
) -> None:
    generate_av_scenes(tmp_path / "scenes", SPEC, {"train": 3, "val": 2, "test": 2}, seed=3)
    _drilling_classifier(tmp_path / "aed.pt")
    report = pseudo_label_pairs(
        tmp_path / "scenes",
        tmp_path / "pseudo",
        tmp_path / "report.json",
        (tmp_path / "aed.pt", ROOT / "configs/localisation_categories.yaml"),
        CATS,
        LocPseudoLabelParams(threshold=0.3, device="cpu"),
    )
    assert sorted(report["splits"]) == ["train", "val"] and json.loads((tmp_path / "report.json").read_text())
    jack = CATS.index("jackhammer")
    rec = json.loads((tmp_path / "pseudo/train/train_00000.json").read_text())
    truth = json.loads((tmp_path / "scenes/train/train_00000.json").read_text())
    assert rec["audio_labels"] == [jack] and rec["visual_labels"] == sorted({*truth["visual_labels"], jack})
    assert (tmp_path / "pseudo/train" / rec["image"]).resolve() == (tmp_path / "scenes/train/train_00000.png")

    data = LocDataParams(**DATA, labels="pseudo")
    pseudo = tmp_path / "pseudo"
    build_split_stores(tmp_path / "scenes", tmp_path / "h5", tmp_path / "s.json", data, CATS, pseudo_root=pseudo)
    rep = representation(data, len(CATS))
    train = AudioVisualSplit(tmp_path / "h5/train", rep)
    assert (train.column("audio_label") == np.eye(len(CATS), dtype=np.uint8)[jack]).all()
    test = AudioVisualSplit(tmp_path / "h5/test", rep)
    truth = [json.loads((tmp_path / f"scenes/test/test_{i:05d}.json").read_text())["audio_labels"] for i in range(2)]
    assert [list(np.flatnonzero(row)) for row in test.column("audio_label")] == truth
    train.close(), test.close()


def test_unapplied_pseudo_labels_leave_the_records_as_annotated_whatever_the_classifier(
    tmp_path: Path, one_torch_thread
) -> None:
    """``localisation.data.labels: annotated``: the agreement is measured, the records keep their own labels, so
    a retrained classifier changes no byte of them and reruns nothing downstream."""
    generate_av_scenes(tmp_path / "scenes", SPEC, {"train": 3, "val": 2, "test": 1}, seed=3)
    _drilling_classifier(tmp_path / "aed.pt")
    scenes, classifier = tmp_path / "scenes", (tmp_path / "aed.pt", ROOT / "configs/localisation_categories.yaml")
    p = LocPseudoLabelParams(threshold=0.3, device="cpu")
    first = pseudo_label_pairs(scenes, tmp_path / "a", tmp_path / "a.json", classifier, CATS, p, apply=False)
    assert first["labels_applied"] is False and first["splits"]["train"]["precision"] < 1.0  # drilling everywhere
    for i in range(3):
        rec = json.loads((tmp_path / f"a/train/train_{i:05d}.json").read_text())
        truth = json.loads((tmp_path / f"scenes/train/train_{i:05d}.json").read_text())
        assert rec["audio_labels"] == truth["audio_labels"] and rec["visual_labels"] == truth["visual_labels"]

    other = LocPseudoLabelParams(threshold=0.95, device="cpu")  # a classifier that now labels nothing
    pseudo_label_pairs(scenes, tmp_path / "b", tmp_path / "b.json", classifier, CATS, other, apply=False)
    for split in ("train", "val"):
        names = sorted(f.name for f in (tmp_path / "a" / split).iterdir())
        assert names == sorted(f.name for f in (tmp_path / "b" / split).iterdir())
        for name in names:
            assert (tmp_path / "a" / split / name).read_bytes() == (tmp_path / "b" / split / name).read_bytes()
