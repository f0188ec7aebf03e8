"""Tiny inputs for the text-to-audio workflow: a small real dataset and its parameters."""

from __future__ import annotations

from pathlib import Path

from soundflow.pipeline.config import read_params_yaml
from tasks.procedural.urban_sounds import generate_dataset
from tasks.text_to_audio.params import TextToAudioParams
from tests.helpers.paths import ROOT

CLASSES = ("dog_bark", "siren", "jackhammer")


def tiny_real(folder: Path, clips_per_class: int = 4, n_folds: int = 4) -> Path:
    """A procedural UrbanSound8K-layout set of three classes at 16 kHz, 1-2 s clips."""
    generate_dataset(
        folder,
        clips_per_class=clips_per_class,
        n_folds=n_folds,
        sample_rate=16000,
        duration_range=(1.0, 2.0),
        classes=CLASSES,
        progress=False,
    )
    return folder


def t2a_params(real_root: Path, **sections: dict) -> TextToAudioParams:
    """The committed ``text_to_audio`` section with ``real.root`` and any section's keys overridden."""
    raw = read_params_yaml(ROOT / "params.yaml")["text_to_audio"]
    raw["real"] = {**raw["real"], "root": str(real_root), "clips_per_class_per_fold": None}
    raw["prompts"] = str(ROOT / raw["prompts"])
    for name, values in sections.items():
        raw[name] = {**raw[name], **values}
    return TextToAudioParams.model_validate(raw)
