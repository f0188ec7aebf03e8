"""Tiny parameters of the spectral transcoder, for tests that run its stages end to end."""

from __future__ import annotations

from typing import Any

from tasks.transcoder.params import TranscoderParams


def tiny_params(**data: Any) -> TranscoderParams:
    raw = {
        "data": {
            "soundscapes": 8,
            "soundscape_seconds": 3.0,
            "events": [1, 3],
            "event_duration": [0.5, 1.5],
            "snr": [6.0, 12.0],
            "library_clips_per_class": 1,
            "library_event_seconds": 1.5,
            "library_sample_rate": 22050,
            "min_event_overlap": 0.1,
            "train_source": "soundscapes",
            "multilabel_source": "soundscapes",
            "singlelabel_source": "urban_synth",
            "singlelabel_clip_seconds": 2.0,
            "val_fraction": 0.25,
            "test_fraction": 0.25,
            "max_bad_fraction": 0.05,
            "seed": 0,
            "runner": "local",
            **data,
        },
        "teacher": {
            "name": "pann_cnn14",
            "checkpoint": None,
            "class_names": None,
            "width": 2,
            "epochs": 1,
            "batch_size": 16,
            "lr": 1e-3,
        },
        "train": {"channels": 4, "layers": 3, "kernel": [3, 5], "epochs": 1, "batch_size": 16, "lr": 1e-3},
        "heads": {
            "hidden": 8,
            "epochs": 2,
            "batch_size": 8,
            "lr": 1e-3,
            "train_input": "own",
            "grouping": "configs/transcoder_grouping.yaml",
        },
        "audio": {"clips": 1, "n_iter": 2},
        "seed": 0,
        "device": "cpu",
    }
    return TranscoderParams.model_validate(raw)
