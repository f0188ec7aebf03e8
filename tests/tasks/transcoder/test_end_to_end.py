"""The transcoder's stages at a tiny size: soundscapes -> stores -> teacher -> PINV -> CNNs -> evaluation -> audio."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from soundflow.training import FitFiles
from tasks.features.params import FeatureParams
from tasks.procedural.urban_sounds import generate_dataset
from tasks.transcoder.audio import audio_examples
from tasks.transcoder.evaluate import EvalPaths, evaluate_transcoders
from tasks.transcoder.features import SourcePaths, build_transcoder_features
from tasks.transcoder.pinv_report import pinv_report
from tasks.transcoder.soundscapes import generate_soundscapes
from tasks.transcoder.teacher import prepare_teacher
from tasks.transcoder.train import train_transcoder
from tests.helpers.transcoder import tiny_params

ROOT = Path(__file__).resolve().parents[3]


def _files(root: Path, name: str) -> FitFiles:
    return FitFiles(root / "state" / name, root / f"{name}.pt", root / f"{name}.csv", root / f"{name}.json")


@pytest.mark.slow
def test_tiny_run_of_every_stage(tmp_path: Path, one_torch_thread: None) -> None:
    p = tiny_params()
    generate_dataset(
        tmp_path / "urban",
        clips_per_class=3,
        n_folds=3,
        sample_rate=22050,
        duration_range=(1.5, 2.5),
        snr_db_range=(5, 10),
        seed=0,
    )
    generate_soundscapes(tmp_path / "soundscapes", p.data)
    f = FeatureParams.model_validate(
        {
            "sets": [],
            "clip_seconds": None,
            "shard_size": 64,
            "workers": 1,
            "device": "cpu",
            "max_bad_fraction": 0.05,
            "runner": "local",
        }
    )
    feats = tmp_path / "features"
    build_transcoder_features(
        p, f, SourcePaths(tmp_path, "soundscapes", "urban", "none.json"), feats, tmp_path / "features.json"
    )
    assert set(json.loads((tmp_path / "features.json").read_text())) == {"soundscapes", "urban_synth"}
    prepare_teacher(feats / "soundscapes", p, _files(tmp_path, "teacher"), tmp_path)
    report = json.loads(
        pinv_report(
            feats / "soundscapes", tmp_path / "teacher.pt", p, tmp_path / "pinv.npz", tmp_path / "pinv.json"
        ).read_text()
    )
    assert report["val_mse"] > 0 and 0 <= report["teacher_top1_agreement"] <= 1
    for loss in ("mels", "logits"):
        train_transcoder(feats / "soundscapes", tmp_path / "teacher.pt", loss, p, _files(tmp_path, f"cnn_{loss}"))
    grouping = ROOT / "configs" / "transcoder_grouping.yaml"
    reports = [tmp_path / n for n in ("metrics.json", "results.csv", "per_class.csv", "table.csv", "table.png")]
    paths = EvalPaths(
        feats,
        tmp_path / "teacher.pt",
        tmp_path / "cnn_mels.pt",
        tmp_path / "cnn_logits.pt",
        grouping,
        tmp_path / "heads",
        *reports,
    )
    metrics = json.loads(evaluate_transcoders(paths, p).read_text())
    assert set(metrics["top1"]) == {"soundscapes", "urban_synth"}
    assert set(metrics["top1"]["urban_synth"]) == {"mel", "pinv", "cnn_mels", "cnn_logits"}
    assert metrics["top1"]["soundscapes"]["mel"]["teacher_top1_agreement"] == 1.0
    assert metrics["top1"]["soundscapes"]["mel"]["teacher_top1_agreement_clip"] == 1.0
    assert (
        set(metrics["urban_synth"]["deep"]["pinv"]) == {"accuracy", "folds"}
        and metrics["urban_synth"]["deep"]["pinv"]["folds"] == 3
    )
    multilabel = metrics["soundscapes"]["deep"]["cnn_logits"]
    for key in ("macro_auprc", "macro_auprc_trapezoid", "macro_auprc_dcase", "micro_auprc", "macro_roc_auc"):
        assert 0 <= multilabel[key] <= 1, key
    assert {"auprc", "auprc_trapezoid", "auprc_dcase", "roc_auc"} <= set(pd.read_csv(tmp_path / "per_class.csv"))
    table = pd.read_csv(tmp_path / "table.csv")
    assert list(table["input"]) == ["Mel input", "PINV", "CNN-mels", "CNN-logits"]
    long = pd.read_csv(tmp_path / "results.csv")
    assert {"teacher", "transcoder", "dataset", "head", "metric", "value"} <= set(long.columns)
    out = audio_examples(
        feats / "soundscapes", p, tmp_path / "cnn_mels.pt", tmp_path / "cnn_logits.pt", tmp_path / "audio", tmp_path
    )
    names = sorted(x.name for x in out.iterdir())
    stem = names[0].split("_generated_from_")[0].removesuffix("_original.wav")
    assert names == sorted(
        [f"{stem}_original.wav"] + [f"{stem}_generated_from_{s}.wav" for s in ("mel", "pinv", "cnn_mels", "cnn_logits")]
    )
    assert sf.info(out / names[0]).samplerate == 32000
